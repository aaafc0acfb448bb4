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
    }
    public var ending: Ending
    /// Within the success radius (4.5 px) of the goal at the end.
    public var success: Bool
    /// World steps taken.
    public var steps: Int
    public var finalDistance: Double
    public var ticks: Int
}

/// Runs a control loop on a simulated rig for one episode: arms when asked and every pre-arm
/// check passes, ticks until the source is done, the step limit, or a stop request.
public final class EpisodeRunner {
    public let rig: Rig
    public let loop: ControlLoop
    /// Arm as soon as the governor allows it (the `--arm` of `cerebellum run`).
    public var armWhenReady: Bool
    /// The last refused arm request (changes are worth printing).
    public private(set) var lastArmRefusal: ArmResult?

    public init(rig: Rig, loop: ControlLoop, armWhenReady: Bool) {
        self.rig = rig
        self.loop = loop
        self.armWhenReady = armWhenReady
    }

    /// Runs until `isDone()` (checked between ticks), `maxSteps` world steps, or `shouldStop()`.
    /// `afterTick` runs after each tick, outside it (it may print or allocate).
    public func run(maxSteps: Int = TwoRoomsWorld.maxEpisodeSteps, isDone: () -> Bool, shouldStop: () -> Bool,
                    afterTick: (TickReport) -> Void = { _ in }) -> EpisodeResult {
        var ending = EpisodeResult.Ending.stopped
        var ticks = 0
        while true {
            if shouldStop() { ending = .stopped; break }
            let report = loop.tick()
            ticks += 1
            if armWhenReady && loop.governor.state == .disarmed && report.capture == .newFrame {
                switch loop.governor.requestArm() {
                case .armed: lastArmRefusal = nil
                case let refused: lastArmRefusal = refused
                }
            }
            afterTick(report)
            if isDone() { ending = .finished; break }
            if let robot = rig.robot, robot.steps >= maxSteps { ending = .stepLimit; break }
        }
        let world = rig.robot?.world
        return EpisodeResult(ending: ending, success: world?.reachedGoal ?? false, steps: rig.robot?.steps ?? 0,
                             finalDistance: world?.distanceToGoal ?? .nan, ticks: ticks)
    }
}
