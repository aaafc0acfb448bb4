import Foundation
import RobotCore
import Synchronization

/// Runs one console session over a transport on its own thread: reads, feeds the session, writes
/// its replies, refreshes the key-mode line, and on hang-up tells the loop (the link is down)
/// and retries opening with exponential backoff (0.1 s doubling to 2 s). The rest of the
/// controller keeps running whatever the link does.
public final class ConsoleServer: @unchecked Sendable {
    public let transport: ConsoleTransport
    public let session: ConsoleSession
    private let log: @Sendable (String) -> Void
    private let running = Atomic<Bool>(false)
    private var thread: Thread?
    private var buffer = [UInt8](repeating: 0, count: 512)
    private var backoff: Duration = .milliseconds(100)
    private var nextAttempt = ContinuousClock.now
    private var lastKeyRefresh = ContinuousClock.now
    /// Reopen attempts made after failures or hang-ups.
    public private(set) var reconnects = 0
    public private(set) var hangups = 0
    /// With a heartbeat, the link is up only while a byte arrived within it (nil: up while the port is open).
    public let heartbeat: Duration?
    /// Times the heartbeat ran out.
    public private(set) var heartbeatLosses = 0
    private var lastInput: ContinuousClock.Instant?

    public init(transport: ConsoleTransport, session: ConsoleSession, heartbeat: Duration? = nil, log: @escaping @Sendable (String) -> Void)
    {
        self.transport = transport
        self.session = session
        self.heartbeat = heartbeat
        self.log = log
    }

    /// Whether an operator is there: the port is open and, with a heartbeat, a byte came within it.
    private var operatorPresent: Bool {
        guard transport.isOpen else { return false }
        guard let heartbeat else { return true }
        guard let lastInput else { return false }
        return ContinuousClock.now - lastInput <= .nanoseconds(heartbeat.nanoseconds)
    }

    /// Tells the loop whether the link is up, and logs each change the heartbeat makes.
    private func publishPresence() {
        let present = operatorPresent
        guard present != session.link.isConsoleConnected else { return }
        session.link.setConnected(present)
        guard let heartbeat, transport.isOpen else { return }
        if present {
            log("teleop: operator heard on \(transport.name)")
        } else if lastInput != nil {
            heartbeatLosses += 1
            log(
                "teleop: nothing from the operator on \(transport.name) for \(Int(heartbeat.inMilliseconds)) ms "
                    + "(serial_console.heartbeat_ms): link lost"
            )
        }
    }

    /// One round: (re)open if due, wait up to `timeout` for input, answer it. Tests call this
    /// directly; `start()` calls it in a loop on a thread.
    public func pump(timeout: Duration = .milliseconds(20)) {
        if !transport.isOpen {
            guard ContinuousClock.now >= nextAttempt else {
                Thread.sleep(forTimeInterval: min(timeout.inSeconds, 0.05))
                return
            }
            do {
                try transport.open()
                backoff = .milliseconds(100)
                lastInput = nil
                publishPresence()
                log(
                    "teleop: console open on \(transport.name)"
                        + (heartbeat == nil ? "" : "; waiting for the operator's first byte (heartbeat)"))
                send(session.greeting())
            } catch {
                reconnects += 1
                nextAttempt = ContinuousClock.now + backoff
                backoff = min(backoff * 2, .seconds(2))
                if reconnects == 1 || reconnects % 20 == 0 { log("teleop: cannot open \(transport.name): \(error); retrying") }
                return
            }
        }
        switch transport.read(into: &buffer, timeout: timeout) {
        case .data(let n):
            lastInput = ContinuousClock.now
            publishPresence()
            send(session.receive(Array(buffer[0..<n])))
        case .timeout:
            publishPresence()
            send(session.poll())
        case .hangup:
            dropLink()
            return
        }
        if session.inKeyMode, ContinuousClock.now - lastKeyRefresh > .milliseconds(200) {
            lastKeyRefresh = ContinuousClock.now
            send(session.keyLine())
        }
    }

    private func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, transport.isOpen else { return }
        if !transport.write(bytes) { dropLink() }
    }

    private func dropLink() {
        hangups += 1
        transport.close()
        session.disconnected()
        session.link.setConnected(false)
        log("teleop: link on \(transport.name) lost; reopening")
        nextAttempt = ContinuousClock.now + backoff
    }

    public func start() {
        running.store(true, ordering: .sequentiallyConsistent)
        let t = Thread { [self] in
            while running.load(ordering: .sequentiallyConsistent) { pump() }
            transport.close()
            session.link.setConnected(false)
        }
        t.name = "teleop-console"
        thread = t
        t.start()
    }

    public func stop() { running.store(false, ordering: .sequentiallyConsistent) }
}
