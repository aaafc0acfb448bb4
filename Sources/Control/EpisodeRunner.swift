import RobotCore
import Safety
import Simulation

/// How a simulated episode ended.
public struct EpisodeResult: Sendable, Codable, Equatable {
    public enum Ending: String, Sendable, Codable {
        /// The command source finished (e.g. the waypoint follower reached the goal).
        case finished
        /// The world step limit (200 in the benchmark) ran out.
        case stepLimit = "step_limit"
        /// Stopped from outside (Ctrl-C, a tick budget).
        case stopped
        /// The world ended the episode (a Gymnasium environment's terminated or truncated).
        case worldEnded = "world_ended"
    }
    public var ending: Ending
    /// Within the success radius (4.5 px) of the goal at the end.
    public var success: Bool
    /// World steps taken.
    public var steps: Int
    public var finalDistance: Double
    public var ticks: Int
    /// Where the simulated robot ended (x, y px); nil on a real board.
    public var finalPosition: [Double]?
}

/// When the runner asks the governor to arm.
public enum ArmPolicy: Sendable, Equatable {
    /// Never: only an operator arms (the console's `arm`).
    case never
    /// Once, at start, as soon as every pre-arm check passes (`cerebellum run --arm`). After that only an
    /// explicit `arm` arms again: an operator's `disarm`, an e-stop reset or a fault stays disarmed.
    case once
    /// Whenever the governor is disarmed: evaluation and recording harnesses with no operator.
    case always
}

/// Runs a control loop on a simulated rig for one episode: arms as `armPolicy` says when every pre-arm
/// check passes, ticks until the source is done, the step limit, or a stop request.
public final class EpisodeRunner {
    public let rig: Rig
    public let loop: ControlLoop
    public let armPolicy: ArmPolicy
    /// The governor was armed by this runner's `once` request (it asks no more).
    public private(set) var armedOnce = false
    /// The last refused arm request (changes are worth printing).
    public private(set) var lastArmRefusal: ArmResult?
    /// Ticks spent asking to arm under `once` without the checks passing.
    public private(set) var refusedArmTicks = 0

    public init(rig: Rig, loop: ControlLoop, armPolicy: ArmPolicy) {
        self.rig = rig
        self.loop = loop
        self.armPolicy = armPolicy
    }

    private var wantsArm: Bool {
        switch armPolicy {
        case .never: false
        case .once: !armedOnce
        case .always: true
        }
    }

    /// Starts the simulated world's next episode (`rig.newEpisode()`, which for a simulator in another process
    /// can take a while), then restarts the loop's schedule. When this runner arms (`once`, `always`) the governor
    /// is disarmed for the reset, so the gap in ticks is no stall, and armed again as soon as every pre-arm check
    /// passes if it was armed; if an operator had disarmed it, it stays disarmed. Under `never` only an operator
    /// arms, so nothing is disarmed on their behalf: a reset slower than the stall limit latches the loop watchdog.
    public func nextEpisode() {
        let wasArmed = loop.governor.state == .armed && armPolicy != .never
        if wasArmed { loop.governor.disarm() }
        rig.newEpisode()
        loop.restartSchedule()
        if wasArmed && armPolicy == .once { armedOnce = false }
    }

    /// Runs until `isDone()` (checked between ticks), `maxSteps` world steps (nil: the simulated world's
    /// episode limit), or `shouldStop()`. `afterTick` runs after each tick, outside it (it may print or allocate).
    public func run(
        maxSteps: Int? = nil, isDone: () -> Bool, shouldStop: () -> Bool,
        afterTick: (TickReport) -> Void = { _ in }
    ) -> EpisodeResult {
        var ending = EpisodeResult.Ending.stopped
        var ticks = 0
        let maxSteps = maxSteps ?? rig.plant?.maxEpisodeSteps ?? Int.max
        while true {
            if shouldStop() { ending = .stopped; break }
            let report = loop.tick()
            ticks += 1
            if wantsArm && loop.governor.state == .disarmed && report.capture == .newFrame {
                switch loop.governor.requestArm() {
                case .armed:
                    lastArmRefusal = nil
                    armedOnce = true
                case let refused:
                    lastArmRefusal = refused
                    refusedArmTicks += 1
                }
            } else if armPolicy == .once && !armedOnce && loop.governor.state == .armed {
                armedOnce = true  // an operator armed first: the start-up request is spent
            }
            afterTick(report)
            if isDone() { ending = .finished; break }
            if let plant = rig.plant, plant.episodeOver { ending = .worldEnded; break }
            if let plant = rig.plant, plant.steps >= maxSteps { ending = .stepLimit; break }
        }
        let plant = rig.plant
        return EpisodeResult(
            ending: ending, success: plant?.reachedGoal ?? false, steps: plant?.steps ?? 0,
            finalDistance: plant?.distanceToGoal ?? .nan, ticks: ticks, finalPosition: plant.map { [$0.position.x, $0.position.y] })
    }
}
