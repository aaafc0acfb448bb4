import CShims
import Glibc
import RobotCore

/// An open file descriptor, after swift-system's `FileDescriptor`: a plain value (the driver holding it
/// closes it), whose calls go through `valueOrErrno` and so return the typed `Errno`. Calls that can simply
/// be made again retry EINTR; `poll`, whose timeout would start over, reports it (`.interrupted`) for the
/// caller to treat as a short wait. None allocates: the drivers call them inside the tick.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` (retrying EINTR); a failure throws a `HardwareError` naming the path and the OS's
    /// reason. `opener` is the C library's `open`, or libv4l2's `v4l2_open` for a camera.
    public static func open(_ path: String, _ flags: Int32, opener: (String, Int32) -> Int32 = { Glibc.open($0, $1) }) throws
        -> FileDescriptor
    {
        switch valueOrErrno({ opener(path, flags) }) {
        case .success(let fd): return FileDescriptor(rawValue: fd)
        case .failure(let e): throw HardwareError(device: path, "cannot open", errno: e)
        }
    }

    /// close(2). Linux releases the descriptor even when close reports an error, so there is nothing to retry.
    public func close() { _ = Glibc.close(rawValue) }

    /// read(2) of up to `count` bytes into `buffer`; 0 at the end of the file or a hang-up.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) -> Result<Int, Errno> {
        valueOrErrno { Glibc.read(rawValue, buffer, count) }
    }

    /// write(2) of up to `count` bytes; returns how many were written.
    public func write(_ bytes: UnsafeRawPointer, count: Int) -> Result<Int, Errno> {
        valueOrErrno { Glibc.write(rawValue, bytes, count) }
    }

    /// send(2) on a socket.
    public func send(_ bytes: UnsafeRawPointer, count: Int, flags: Int32) -> Result<Int, Errno> {
        valueOrErrno { Glibc.send(rawValue, bytes, count, flags) }
    }

    /// recv(2) on a socket; 0 when the other end closed.
    public func receive(into buffer: UnsafeMutableRawPointer, count: Int, flags: Int32) -> Result<Int, Errno> {
        valueOrErrno { Glibc.recv(rawValue, buffer, count, flags) }
    }

    /// Waits up to `timeoutMilliseconds` (−1: forever) for `events` (POLLIN, POLLOUT); returns the events
    /// that happened (0 on a timeout). A signal ends the wait early with `.interrupted`.
    public func poll(_ events: Int32, timeoutMilliseconds: Int32) -> Result<Int16, Errno> {
        var p = pollfd(fd: rawValue, events: Int16(events), revents: 0)
        return valueOrErrno(retryOnInterrupt: false) { Glibc.poll(&p, 1, timeoutMilliseconds) }.map { $0 == 0 ? 0 : p.revents }
    }

    /// ioctl(2) through the C shim (Swift cannot call the variadic one).
    public func control(_ request: UInt, _ argument: UnsafeMutableRawPointer?) -> Result<Int32, Errno> {
        valueOrErrno { cb_ioctl(rawValue, request, argument) }
    }
}
