import CShims
import Glibc
import RobotCore

/// A serial port (a UART, a USB adapter, or a pseudo-terminal) in raw 8N1 mode without flow
/// control. Reads wait with poll(2) up to a timeout and never block past it; a hang-up, a vanished
/// device (ENODEV, EIO) or an error reports `.hangup`, after which the port is closed and may be
/// reopened.
public final class SerialPort: ConsoleTransport {
    public let path: String
    public let baud: Int
    private var fd: Int32 = -1

    public init(path: String, baud: Int) {
        self.path = path
        self.baud = baud
    }

    deinit { close() }

    public var name: String { path }
    public var isOpen: Bool { fd >= 0 }

    public func open() throws {
        close()
        let f = try openDevice(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        switch cb_serial_configure(f, Int32(baud)) {
        case 0:
            fd = f
        case -2:
            Glibc.close(f)
            throw HardwareError(device: path, "unsupported baud rate \(baud)")
        default:
            let why = Errno.current.description
            Glibc.close(f)
            throw HardwareError(device: path, "not a serial port (\(why))")
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    public func read(into buffer: inout [UInt8], timeout: Duration) -> TransportRead {
        guard fd >= 0 else { return .hangup }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(0, min(timeout.inMilliseconds, 10_000)))
        let r = poll(&p, 1, ms)
        if r < 0 { return errno == EINTR ? .timeout : .hangup }
        if r == 0 { return .timeout }
        if p.revents & Int16(POLLIN) != 0 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { return .data(n) }
            if n == 0 { return .hangup }
            return errno == EAGAIN || errno == EINTR ? .timeout : .hangup
        }
        if p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return .hangup }
        return .timeout
    }

    public func write(_ bytes: [UInt8]) -> Bool {
        guard fd >= 0 else { return false }
        var offset = 0
        var stalls = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                // The terminal is not reading: wait a little, then give up on this reply rather than block.
                stalls += 1
                if stalls > 50 { return true }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 2)
                continue
            }
            return false
        }
        return true
    }
}

/// A pseudo-terminal pair: the controller opens `slavePath` as its serial port, the test (or a
/// person's terminal) reads and writes `master`.
public final class PseudoTerminal {
    public let master: Int32
    public let slavePath: String
    private var slaveHold: Int32

    public init() throws {
        var m: Int32 = -1, s: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        guard cb_openpty(&m, &s, &name, name.count) == 0 else {
            throw HardwareError(message: "openpty", errno: .current)
        }
        master = m
        slaveHold = s
        slavePath = cString(name)
    }

    /// Closes the test's own handle on the slave (so that closing the master is a real hang-up).
    public func releaseSlave() {
        if slaveHold >= 0 { Glibc.close(slaveHold) }
        slaveHold = -1
    }

    /// Closes the master: the controller side sees a hang-up.
    public func closeMaster() { Glibc.close(master) }

    public func send(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) } }

    public func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) } }

    /// Reads what the controller wrote, waiting up to `timeout`.
    public func receive(timeout: Duration = .milliseconds(50)) -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, Int32(timeout.inMilliseconds)) > 0 && p.revents & Int16(POLLIN) != 0 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    deinit { releaseSlave() }
}

/// Line-buffered standard output, so progress shows up at once when piped to a file or `tee`.
public func lineBufferedStandardOutput() { cb_line_buffered_stdout() }
