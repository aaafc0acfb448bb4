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
    private var fd: FileDescriptor?

    public init(path: String, baud: Int) {
        self.path = path
        self.baud = baud
    }

    deinit { close() }

    public var name: String { path }
    public var isOpen: Bool { fd != nil }

    public func open() throws {
        close()
        let f = try FileDescriptor.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        switch cb_serial_configure(f.rawValue, Int32(baud)) {
        case 0:
            fd = f
        case -2:
            f.close()
            throw HardwareError(device: path, "unsupported baud rate \(baud)")
        default:
            let why = Errno.current
            f.close()
            throw HardwareError(device: path, "not a serial port", errno: why)
        }
    }

    public func close() {
        fd?.close()
        fd = nil
    }

    public func read(into buffer: inout [UInt8], timeout: Duration) -> TransportRead {
        guard let fd else { return .hangup }
        let ms = Int32(max(0, min(timeout.inMilliseconds, 10_000)))
        switch fd.poll(POLLIN, timeoutMilliseconds: ms) {
        case .failure(.interrupted): return .timeout
        case .failure: return .hangup
        case .success(0): return .timeout
        case .success(let events) where events & Int16(POLLIN) != 0:
            let n = buffer.withUnsafeMutableBytes { fd.read(into: $0.baseAddress!, count: $0.count) }
            switch n {
            case .success(0): return .hangup
            case .success(let count): return .data(count)
            case .failure(.tryAgain): return .timeout
            case .failure: return .hangup
            }
        case .success(let events):
            return events & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 ? .hangup : .timeout
        }
    }

    public func write(_ bytes: [UInt8]) -> Bool {
        guard let fd else { return false }
        var offset = 0
        var stalls = 0
        while offset < bytes.count {
            switch bytes.withUnsafeBytes({ fd.write($0.baseAddress! + offset, count: $0.count - offset) }) {
            case .success(let n) where n > 0:
                offset += n
            case .success, .failure(.tryAgain):
                // The terminal is not reading: wait a little, then give up on this reply rather than block.
                stalls += 1
                if stalls > 50 { return true }
                _ = fd.poll(POLLOUT, timeoutMilliseconds: 2)
            case .failure:
                return false
            }
        }
        return true
    }
}

/// A pseudo-terminal pair: the controller opens `slavePath` as its serial port, the test (or a
/// person's terminal) reads and writes `master`.
public final class PseudoTerminal {
    public let master: FileDescriptor
    public let slavePath: String
    private var slaveHold: FileDescriptor?

    public init() throws {
        var m: Int32 = -1, s: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        guard cb_openpty(&m, &s, &name, name.count) == 0 else {
            throw HardwareError(message: "openpty", errno: .current)
        }
        master = FileDescriptor(rawValue: m)
        slaveHold = FileDescriptor(rawValue: s)
        slavePath = cString(name)
    }

    /// Closes the test's own handle on the slave (so that closing the master is a real hang-up).
    public func releaseSlave() {
        slaveHold?.close()
        slaveHold = nil
    }

    /// Closes the master: the controller side sees a hang-up.
    public func closeMaster() { master.close() }

    public func send(_ s: String) { send(Array(s.utf8)) }

    public func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { master.write($0.baseAddress!, count: $0.count) } }

    /// Reads what the controller wrote, waiting up to `timeout`.
    public func receive(timeout: Duration = .milliseconds(50)) -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case .success(let events) = master.poll(POLLIN, timeoutMilliseconds: Int32(timeout.inMilliseconds)),
            events & Int16(POLLIN) != 0
        {
            guard case .success(let n) = buffer.withUnsafeMutableBytes({ master.read(into: $0.baseAddress!, count: $0.count) }), n > 0
            else { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    deinit { releaseSlave() }
}

/// Line-buffered standard output, so progress shows up at once when piped to a file or `tee`.
public func lineBufferedStandardOutput() { cb_line_buffered_stdout() }
