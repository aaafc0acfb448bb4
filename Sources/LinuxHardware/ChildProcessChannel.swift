import CShims
import Glibc
import RobotCore

/// How talking to a helper process failed.
public enum ChildChannelFailure: Error, Equatable {
    /// The process closed its end or exited (how it ended, when known).
    case closed(String)
    /// The bytes did not all come before the deadline.
    case timedOut
}

/// A helper process (a simulator host) on a stream socket that is its file descriptor 3: started in a
/// session of its own (Ctrl-C reaches only the controller, which closes it), standard error inherited so
/// its messages reach the terminal. Bytes out, exact byte counts in before a deadline; `close()` shuts the
/// socket, waits briefly, then kills and reaps the process.
public final class ChildProcessChannel {
    public let pid: Int32
    private var fd: Int32
    private var exitStatus: String?

    /// Starts `arguments` through /usr/bin/env (so the program is looked up on PATH). Throws when it cannot start.
    public static func start(_ arguments: [String]) throws -> ChildProcessChannel {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw HardwareError(message: "\(arguments.joined(separator: " ")): socketpair failed", errno: .current)
        }
        let args = ["env"] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var child: Int32 = 0
        let r = cb_spawn_with_channel("/usr/bin/env", &cArgs, pair[1], &child)
        FileDescriptor(rawValue: pair[1]).close()
        guard r == 0 else {
            FileDescriptor(rawValue: pair[0]).close()
            throw HardwareError(message: "cannot start \(arguments.joined(separator: " "))", errno: Errno(r))
        }
        return ChildProcessChannel(fd: pair[0], pid: child)
    }

    private init(fd: Int32, pid: Int32) {
        self.fd = fd
        self.pid = pid
    }

    deinit { close() }

    /// Sends all of `message` within `timeout` (a helper that stops reading fills the socket); nil, or the failure.
    public func send(_ message: [UInt8], timeout: Duration = .seconds(1)) -> ChildChannelFailure? {
        guard fd >= 0 else { return .closed(exitStatus ?? "closed") }
        let clock = SystemClock()
        let deadline = clock.now() + timeout
        let channel = FileDescriptor(rawValue: fd)
        var sent = 0
        while sent < message.count {
            let r = message.withUnsafeBytes { b in
                channel.send(b.baseAddress! + sent, count: message.count - sent, flags: Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            switch r {
            case .success(let n): sent += n
            case .failure(.interrupted): continue
            case .failure(.tryAgain):
                let left = (deadline - clock.now()).nanoseconds
                if left <= 0 { return .timedOut }
                _ = channel.poll(POLLOUT, timeoutMilliseconds: Int32(clamping: (left + 999_999) / 1_000_000))
            case .failure: return .closed(how())
            }
        }
        return nil
    }

    /// Ends the process: the socket shut (a well-behaved helper exits on that), 300 ms to exit, then SIGKILL.
    /// Safe to call twice.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        if reapChild(pid, timeout: .milliseconds(300), status: &exitStatus) == nil {
            kill(pid, SIGKILL)
            _ = reapChild(pid, timeout: .seconds(2), status: &exitStatus)
        }
        FileDescriptor(rawValue: fd).close()
        fd = -1
    }

    /// Fills `buffer` before `deadline` (on the system clock).
    public func read(into buffer: inout [UInt8], deadline: Instant) -> ChildChannelFailure? {
        guard fd >= 0 else { return .closed(exitStatus ?? "closed") }
        let clock = SystemClock()
        var got = 0
        let channel = FileDescriptor(rawValue: fd)
        while got < buffer.count {
            let left = (deadline - clock.now()).nanoseconds
            if left <= 0 { return .timedOut }
            switch channel.poll(POLLIN, timeoutMilliseconds: Int32(clamping: (left + 999_999) / 1_000_000)) {
            case .success(0), .failure(.interrupted): continue
            case .success: break
            case .failure(let e): return .closed("poll: \(e)")
            }
            let r = buffer.withUnsafeMutableBytes { b in
                channel.receive(into: b.baseAddress! + got, count: b.count - got, flags: Int32(MSG_DONTWAIT))
            }
            switch r {
            case .success(0): return .closed(how())
            case .success(let k): got += k
            case .failure(.tryAgain), .failure(.interrupted): continue
            case .failure(let e):
                let h = how()
                return .closed(h == "still running" ? "receive: \(e)" : h)
            }
        }
        return nil
    }

    /// How the process ended, waiting up to 500 ms for it.
    private func how() -> String { reapChild(pid, timeout: .milliseconds(500), status: &exitStatus) ?? "still running" }
}

/// Waits up to `timeout` for child `pid` to exit; returns how it ended ("exit status 1", "killed by signal 9"),
/// nil while it still runs. `status` keeps the answer, so a child is reaped once.
func reapChild(_ pid: Int32, timeout: Duration, status: inout String?) -> String? {
    if let s = status { return s }
    guard pid > 0 else { return "in-process" }
    var waited = Duration.zero
    while true {
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, WNOHANG)
        if r == pid {
            let code = (raw >> 8) & 0xFF, signal = raw & 0x7F
            status = signal != 0 ? "killed by signal \(signal)" : "exit status \(code)"
            return status
        }
        if r < 0 {
            status = "already reaped"
            return status
        }
        if waited >= timeout { return nil }
        usleep(10_000)
        waited += .milliseconds(10)
    }
}
