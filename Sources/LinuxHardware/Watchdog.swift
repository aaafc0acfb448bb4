import CShims
import Glibc
import RobotCore

/// The kernel watchdog (`/dev/watchdog`), fed from the control loop. If the loop stops feeding it
/// for `timeout` the board resets. On a clean exit the magic close ('V', then close) disarms it;
/// any other close (a crash) leaves it counting down, which is the point.
public final class Watchdog: Device {
    public let path: String
    public private(set) var timeoutSeconds: Int
    public let identity: String
    /// Feed at most this often (writes are syscalls; twice per timeout would be the minimum).
    public let feedInterval: Duration
    private var fd: FileDescriptor?
    private var lastFeed: Instant?
    public private(set) var feeds = 0

    public init(path: String = "/dev/watchdog", timeoutSeconds: Int) throws {
        let f = try FileDescriptor.open(path, O_WRONLY | O_CLOEXEC)
        var t = Int32(timeoutSeconds)
        // Some drivers cannot change their timeout; they report what they keep.
        if case .failure = f.control(CB_WDIOC_SETTIMEOUT, &t) { _ = f.control(CB_WDIOC_GETTIMEOUT, &t) }
        var buf = [CChar](repeating: 0, count: 64)
        identity =
            cb_watchdog_identity(f.rawValue, &buf, buf.count) == 0
            ? cString(buf) : "?"
        fd = f
        self.path = path
        self.timeoutSeconds = Int(t)
        feedInterval = .milliseconds(Int64(max(1, t)) * 1000 / 4)
    }

    deinit { fd?.close() }

    /// Keeps the board alive; cheap to call every tick (writes at most every `feedInterval`).
    @discardableResult
    public func feed(now: Instant) -> Bool {
        guard let fd else { return false }
        if let last = lastFeed, now - last < feedInterval { return true }
        var k: UInt8 = 0x6B  // any byte but 'V'
        guard case .success(1) = fd.write(&k, count: 1) else { return false }
        lastFeed = now
        feeds += 1
        return true
    }

    /// `disarm()`.
    public func shutdown() { disarm() }

    /// Magic close: disarms the watchdog (unless the driver was built with nowayout).
    public func disarm() {
        guard let fd else { return }
        var v: UInt8 = 0x56  // 'V'
        _ = fd.write(&v, count: 1)
        fd.close()
        self.fd = nil
    }
}
