import RobotCore
import Safety
import Teleop

/// Decides who drives each tick: the autonomy source, or the operator on the teleop console.
///
/// - A drive command from the console takes over at once: the same tick the loop sees it, the
///   mode becomes `teleop` and the operator's efforts go to the governor (never around it).
/// - Dead-man: an operator command holds for its hold time (300 ms by default), then the arbiter
///   sends neutral (still a command, so the governor's heartbeat stays alive while the operator
///   is connected and idle).
/// - Leaving teleop returns to a disarmed hold unless `resumeAutonomy`.
/// - Console requests (arm, disarm, reset, mode, goal) are carried out here, on the loop thread,
///   because the governor belongs to the loop. A console e-stop goes past them (a lock-free counter):
///   it latches on the first tick that sees it, whatever is queued.
/// - The link is taken with a try-lock: a tick never waits on the console thread.
public final class Arbiter: CommandSource {
    public var autonomy: CommandSource
    public let link: TeleopLink
    public let governor: SafetyGovernor
    /// Leaving teleop lets autonomy drive again without a new `arm`.
    public let resumeAutonomy: Bool
    /// The operator's link must be up in every mode (a pre-arm check; a loss while armed latches).
    public let requireLink: Bool
    public private(set) var mode = ControlMode.auto
    /// The serial link was up at the last exchange.
    public private(set) var connected = false
    /// Ticks the arbiter could not take the link (the console held it).
    public private(set) var missedExchanges = 0

    private var drive: OperatorDrive?
    private var driveReceived = Instant.zero
    private var lastSequence: UInt64 = 0
    private var pendingClear: UInt32?
    /// An arm that came with the bytes that brought the link up: answered next tick, once the governor
    /// has stepped with the link up (its pre-arm checks are those of its last step).
    private var pendingArm: UInt32?
    private var linkCameUp = false
    private var takeoverTick: Int?
    private var snapshot = LoopSnapshot()
    private var ticks = 0

    public init(
        autonomy: CommandSource, link: TeleopLink, governor: SafetyGovernor, resumeAutonomy: Bool = false, requireLink: Bool = false
    ) {
        self.autonomy = autonomy
        self.link = link
        self.governor = governor
        self.resumeAutonomy = resumeAutonomy
        self.requireLink = requireLink
        snapshot.output = ChannelVector(count: governor.channelCount)
    }

    public var origin: CommandOrigin { mode == .teleop ? .teleop : autonomy.origin }

    /// The link is down while the operator is in control, or at any time when it is required: the
    /// governor gets a fault (before arming: a failed pre-arm check).
    public var isLinkLost: Bool { (mode == .teleop || requireLink) && !connected }
    /// Autonomy's world model is surprised (while autonomy drives; the operator's own eyes count in teleop).
    public var isSurprised: Bool { mode == .auto && autonomy.isSurprised }
    public var isStarved: Bool { mode == .auto && autonomy.isStarved }
    public var isModelOutputInvalid: Bool { mode == .auto && autonomy.isModelOutputInvalid }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        ticks += 1
        if let id = pendingClear {
            // The console e-stop was released last tick and the governor has stepped since.
            pendingClear = nil
            reply(id, .reset(governor.clearFaults()))
        }
        if let id = pendingArm {
            let answer = governor.requestArm()
            if link.tryExchange({ $0.answer(id, .arm(answer)) }) { pendingArm = nil }
        }
        // An e-stop bypasses the request slot and the lock: it latches on the tick it is first seen.
        if let posted = link.waitingEStops() {
            governor.consoleEStopPressed()
            link.eStopsLatched(through: posted)
        }
        let took = link.tryExchange { s in
            linkCameUp = s.connected && !connected
            connected = s.connected
            if let d = s.operatorDrive, d.sequence != lastSequence {
                lastSequence = d.sequence
                drive = d
                driveReceived = now
                if mode == .auto {
                    mode = .teleop
                    takeoverTick = ticks
                }
            }
            if let (id, request) = s.takeRequest() { handle(request, id: id, state: &s) }
            publishSnapshot(now: now)
            s.publish(snapshot)
        }
        if !took { missedExchanges += 1 }

        switch mode {
        case .auto:
            return autonomy.decide(frame: frame, now: now, into: &command)
        case .teleop:
            command.origin = .teleop
            command.issuedAt = now
            if let d = drive, now - driveReceived <= d.hold {
                command.efforts = d.efforts
                if let t = takeoverTick {
                    snapshot.lastTakeoverTicks = ticks - t
                    takeoverTick = nil
                }
            } else {
                command.efforts = ChannelVector(count: governor.channelCount)
            }
            return true
        }
    }

    private func handle(_ request: ConsoleRequest, id: UInt32, state s: inout LinkState) {
        switch request {
        case .arm:
            if linkCameUp { pendingArm = id } else { s.answer(id, .arm(governor.requestArm())) }
        case .disarm:
            governor.disarm()
            s.answer(id, .disarmed)
        case .reset:
            governor.releaseConsoleEStop()
            pendingClear = id
        case .goal(let name):
            if let directed = autonomy as? GoalDirected {
                let r = directed.selectGoal(named: name)
                s.answer(id, .goal(accepted: r.accepted, reason: r.reason))
            } else {
                s.answer(id, .goal(accepted: false, reason: "the autonomy source (\(type(of: autonomy))) takes no goals"))
            }
        case .mode(let m):
            var disarmed = false
            if m == .auto && mode == .teleop && !resumeAutonomy {
                governor.disarm()
                disarmed = true
            }
            if m == .teleop && mode == .auto { takeoverTick = ticks }
            // Autonomy was not asked to decide while the operator drove: its state is stale.
            if m == .auto && mode == .teleop { autonomy.resume() }
            mode = m
            drive = nil
            s.answer(id, .mode(m, disarmed: disarmed))
        }
    }

    private func reply(_ id: UInt32, _ r: ConsoleReply) {
        // Rare (a reset); if the console holds the lock, the next tick retries.
        if !link.tryExchange({ $0.answer(id, r) }) { pendingClear = id }
    }

    private func publishSnapshot(now: Instant) {
        snapshot.tick = ticks
        snapshot.state = governor.state
        snapshot.latched = governor.latchedFaults
        snapshot.active = governor.activeCauses
        snapshot.mode = mode
        snapshot.output = governor.lastOutput.efforts
        if mode == .teleop, let d = drive { snapshot.operatorLive = now - driveReceived <= d.hold } else { snapshot.operatorLive = false }
    }
}
