import Configuration
import Control
import LinuxHardware
import Planning
import RobotCore
import Safety
import Simulation
import WorldModel

/// The policies `cerebellum eval` compares on the same episodes.
public enum EvaluationPolicy: Sendable, Equatable {
    /// Latent MPC with the board's (or given) planner settings.
    case planner(PlannerConfig)
    /// Baseline: the same planner with a one-step horizon (greedy in latent distance).
    case greedy(PlannerConfig)
    /// Baseline: smooth random efforts, no goal.
    case random

    public var name: String {
        switch self {
        case .planner(let c): "planner (\(c.method.rawValue))"
        case .greedy: "greedy horizon-1"
        case .random: "random"
        }
    }
}

/// One goal-reaching episode: where it started, where the goal was, the path, and how it ended.
public struct GoalEpisode: Sendable, Codable {
    public var index: Int
    public var success: Bool
    /// World steps until the goal was reached (or the step limit).
    public var steps: Int
    public var finalDistance: Double
    public var wallX: Double
    public var doorY: Double
    public var start: [Double]
    public var goal: [Double]
    /// The agent's true positions, one per world step (for the trajectory picture only).
    public var path: [[Double]]

    public init(
        index: Int, success: Bool, steps: Int, finalDistance: Double, wallX: Double, doorY: Double,
        start: [Double], goal: [Double], path: [[Double]]
    ) {
        (self.index, self.success, self.steps, self.finalDistance) = (index, success, steps, finalDistance)
        (self.wallX, self.doorY, self.start, self.goal, self.path) = (wallX, doorY, start, goal, path)
    }
}

/// Runs goal-reaching episodes on a simulated board through the real loop and governor, on a
/// manual clock (faster than real time): each episode's goal is given to the policy only as an
/// image, the frame the camera would see with the agent at the goal. The episode ends when the
/// agent is within the success radius (4.5 px) or after 200 steps.
public final class GoalReachingRun {
    public let clock = ManualClock()
    public let rig: Rig
    public let loop: ControlLoop
    public let governor: SafetyGovernor
    public let planner: LatentPlannerSource?
    private let random: ExplorationSource?
    private var episodeIndex = 0

    public init(board: LoadedBoard, seed: UInt64, model: WorldModelFile, policy: EvaluationPolicy) throws {
        rig = try Rig(board: board, clock: clock, seed: seed)
        governor = try SafetyGovernor(config: board.safetyConfig)
        let source: CommandSource
        switch policy {
        case .planner(let config), .greedy(let config):
            var c = config
            if case .greedy = policy { c.horizon = 1; c.knotSpacing = 1 }
            let p = try LatentPlannerSource(
                model: model, channels: board.profile.channels(for: model), config: c, governor: governor, timer: SystemClock(),
                seed: seed &+ 11)
            planner = p
            random = nil
            source = p
        case .random:
            let r = ExplorationSource(seed: seed &* 31 &+ 5)
            planner = nil
            random = r
            source = r
        }
        loop = rig.makeLoop(source: source, governor: governor)
    }

    /// Runs the next episode (the first is the rig's initial one).
    public func runEpisode() -> GoalEpisode {
        let robot = rig.robot!
        if episodeIndex > 0 { rig.newEpisode() }
        let world = robot.world
        if let planner {
            let goalFrame = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
            world.render(into: goalFrame, agent: world.goal)
            planner.reset()
            planner.setGoal(image: goalFrame.pixels, name: "episode \(episodeIndex)")
        }
        random?.actions.reset()
        loop.restartSchedule()
        var path: [[Double]] = [[world.position.x, world.position.y]]
        path.reserveCapacity(TwoRoomsWorld.maxEpisodeSteps + 1)
        var lastSteps = 0
        let runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: .always)
        let result = runner.run(maxSteps: TwoRoomsWorld.maxEpisodeSteps, isDone: { robot.world.reachedGoal }, shouldStop: { false }) { _ in
            if robot.steps != lastSteps {
                lastSteps = robot.steps
                path.append([robot.world.position.x, robot.world.position.y])
            }
        }
        loop.stop()
        defer { episodeIndex += 1 }
        return GoalEpisode(
            index: episodeIndex, success: result.success, steps: result.steps, finalDistance: result.finalDistance,
            wallX: world.layout.wallX, doorY: world.layout.doorY, start: [world.position.x, world.position.y],
            goal: [world.goal.x, world.goal.y], path: path)
    }
}
