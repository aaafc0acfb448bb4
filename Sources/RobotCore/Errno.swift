import Glibc

/// An error number from the OS (`errno`), typed: compared by value, described by the C library's
/// message. Carries no string, so a `DeviceFailure` holding one can be raised inside the tick.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: Int32

    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public init(integerLiteral value: Int32) { rawValue = value }

    /// This thread's `errno` now (read it right after the call that failed).
    public static var current: Errno { Errno(errno) }

    /// EIO: the transfer failed (an I2C device that did not acknowledge, a read-back that did not match).
    public static let ioError = Errno(EIO)
    /// ENXIO: nothing answers at this address.
    public static let noSuchDeviceOrAddress = Errno(ENXIO)
    /// ENODEV: the device is gone (unplugged, unbound).
    public static let noDevice = Errno(ENODEV)
    /// EREMOTEIO: the I2C controller saw no acknowledge.
    public static let remoteIO = Errno(EREMOTEIO)
    /// EAGAIN: try again (non-blocking, or a busy bus).
    public static let tryAgain = Errno(EAGAIN)
    /// ETIMEDOUT: no answer in time.
    public static let timedOut = Errno(ETIMEDOUT)
    /// EPROTO: the other side broke the protocol (a malformed reply).
    public static let protocolError = Errno(EPROTO)
    /// EINTR: a signal interrupted the call before it did anything.
    public static let interrupted = Errno(EINTR)

    /// The C library's message and the number, e.g. "No such device (errno 19)". Allocates: not for the tick.
    public var description: String { "\(String(cString: strerror(rawValue))) (errno \(rawValue))" }
}

/// Runs `call`, a system call that returns −1 and sets `errno` when it fails, and returns its value or
/// the typed errno; a call interrupted by a signal (EINTR) is made again unless `retryOnInterrupt` is false.
@inline(__always)
public func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> T) -> Result<T, Errno> {
    while true {
        let r = call()
        if r != -1 { return .success(r) }
        let e = Errno.current
        if retryOnInterrupt && e == .interrupted { continue }
        return .failure(e)
    }
}
