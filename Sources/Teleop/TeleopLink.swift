import RobotCore
import Safety
import Synchronization

/// A request from the console that only the control loop may carry out (the governor is the
/// loop's alone). An e-stop is not a request: it goes past them (`TeleopLink.postEStop`).
public enum ConsoleRequest: Sendable, Equatable {
    case arm, disarm, reset
    case mode(ControlMode)
    case goal(String)
}

/// The loop's answer to a request.
public enum ConsoleReply: Sendable, Equatable {
    case arm(ArmResult)
    case disarmed
    case reset(ClearResult)
    /// The mode now; `disarmed` when leaving teleop put the governor in a disarmed hold.
    case mode(ControlMode, disarmed: Bool)
    /// Whether the autonomy source took the goal, and why not.
    case goal(accepted: Bool, reason: String)
}

/// The operator's latest drive command. The loop stamps it when it first sees it and holds it for
/// `hold` (the dead-man), then falls back to neutral.
public struct OperatorDrive: Sendable, Equatable {
    public var efforts: ChannelVector
    public var hold: Duration
    /// Increases with every new command, so the loop can tell a repeat from a new one.
    public var sequence: UInt64
}

/// What the loop shows the console, refreshed every tick.
public struct LoopSnapshot: Sendable, Equatable {
    public var tick = 0
    public var state = GovernorState.disarmed
    public var latched: Faults = []
    /// Causes present at the last tick (what blocks arming).
    public var active: Faults = []
    public var mode = ControlMode.auto
    /// Efforts the governor let through at the last tick.
    public var output = ChannelVector(count: 0)
    /// An operator command is live (inside its dead-man hold).
    public var operatorLive = false
    /// Ticks from the operator's first drive command of a takeover to the first tick it drove the
    /// outputs (0: the same tick), for the last takeover.
    public var lastTakeoverTicks: Int?

    public init() {}
}

struct PendingRequest: Sendable {
    var id: UInt32
    var request: ConsoleRequest
}

/// Everything the console thread and the control loop exchange.
public struct LinkState: Sendable {
    /// An operator input is there: the serial console's link is open, or the gamepad is plugged in.
    public var connected: Bool { consoleUp || gamepadUp }
    var consoleUp = false
    var gamepadUp = false
    var drive: OperatorDrive?
    var request: PendingRequest?
    var reply: (id: UInt32, reply: ConsoleReply)?
    var snapshot = LoopSnapshot()
    /// Counters for request ids and drive sequence numbers (console side).
    var lastID: UInt32 = 0
    var lastSequence: UInt64 = 0
}

/// The hand-off between the console thread and the control loop: a small state behind a mutex
/// that the loop only ever *tries* to take, so a tick never waits on the console. The console side
/// holds it just long enough to copy a few values.
public final class TeleopLink: Sendable {
    let state = Mutex(LinkState())
    /// E-stops the console has posted, and those the loop has latched: counters outside the mutex, so an
    /// e-stop waits for no request ahead of it and the loop sees it on its next tick whoever holds the lock.
    private let eStopsPosted = Atomic<UInt64>(0)
    private let eStopsLatched = Atomic<UInt64>(0)

    public init() {}

    // MARK: console side

    /// Posts an e-stop. Never refused, never queued: the loop latches it on its next tick.
    public func postEStop() { eStopsPosted.add(1, ordering: .releasing) }

    /// E-stops posted and not yet latched by the loop.
    public var eStopsWaiting: UInt64 {
        eStopsPosted.load(ordering: .acquiring) &- eStopsLatched.load(ordering: .acquiring)
    }

    /// The serial console's link is up or down.
    public func setConnected(_ up: Bool) { state.withLock { $0.consoleUp = up } }

    /// The gamepad is plugged in and read, or gone.
    public func setGamepadConnected(_ up: Bool) { state.withLock { $0.gamepadUp = up } }

    /// Posts a drive command (replacing any earlier one).
    public func post(efforts: ChannelVector, hold: Duration) {
        state.withLock { s in
            s.lastSequence += 1
            s.drive = OperatorDrive(efforts: efforts, hold: hold, sequence: s.lastSequence)
        }
    }

    /// Posts a request for the loop; nil while an earlier one is still waiting.
    public func post(_ request: ConsoleRequest) -> UInt32? {
        state.withLock { s -> UInt32? in
            guard s.request == nil else { return nil }
            s.lastID += 1
            s.request = PendingRequest(id: s.lastID, request: request)
            return s.lastID
        }
    }

    /// The reply to request `id`, once the loop has answered it.
    public func takeReply(_ id: UInt32) -> ConsoleReply? {
        state.withLock { s -> ConsoleReply? in
            guard let r = s.reply, r.id == id else { return nil }
            s.reply = nil
            return r.reply
        }
    }

    /// Withdraws a request the loop never answered (so the next one can be posted).
    public func cancel(_ id: UInt32) {
        state.withLock { s in if s.request?.id == id { s.request = nil } }
    }

    public var snapshot: LoopSnapshot { state.withLock { $0.snapshot } }

    /// An operator input is there (as the console and gamepad threads last said).
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// The serial console's link is up (whatever the gamepad does).
    public var isConsoleConnected: Bool { state.withLock { $0.consoleUp } }
}

extension TeleopLink {
    /// Loop side: true once per tick while e-stops are waiting; the caller latches and then calls
    /// `eStopsLatched(through:)` with the count returned. Lock-free, never allocates.
    public func waitingEStops() -> UInt64? {
        let posted = eStopsPosted.load(ordering: .acquiring)
        return posted != eStopsLatched.load(ordering: .relaxed) ? posted : nil
    }

    /// Loop side: every e-stop up to `posted` is latched.
    public func eStopsLatched(through posted: UInt64) { eStopsLatched.store(posted, ordering: .releasing) }

    /// Loop side: runs `body` on the shared state if the lock is free right now; returns false
    /// (and skips `body`) if the console holds it. Never blocks, never allocates.
    public func tryExchange(_ body: (inout LinkState) -> Void) -> Bool {
        state.withLockIfAvailable { s in body(&s) } != nil
    }
}

extension LinkState {
    /// Loop side: the newest drive command.
    public var operatorDrive: OperatorDrive? { drive }

    /// Loop side: takes the waiting request, if any.
    public mutating func takeRequest() -> (id: UInt32, request: ConsoleRequest)? {
        guard let r = request else { return nil }
        request = nil
        return (r.id, r.request)
    }

    /// Loop side: answers request `id`.
    public mutating func answer(_ id: UInt32, _ reply: ConsoleReply) { self.reply = (id, reply) }

    public mutating func publish(_ s: LoopSnapshot) { snapshot = s }
}
