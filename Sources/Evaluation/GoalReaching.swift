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
        case .planner(let c): c.memory == nil ? "planner (\(c.method.rawValue))" : "planner + memory (\(c.method.rawValue))"
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
    /// What only a ground robot in the rooms world has (nil in two-rooms).
    public var rooms: RoomsEpisodeFacts?

    public init(
        index: Int, success: Bool, steps: Int, finalDistance: Double, wallX: Double, doorY: Double,
        start: [Double], goal: [Double], path: [[Double]]
    ) {
        (self.index, self.success, self.steps, self.finalDistance) = (index, success, steps, finalDistance)
        (self.wallX, self.doorY, self.start, self.goal, self.path) = (wallX, doorY, start, goal, path)
    }
}

/// A rooms-world episode's headings and collisions, and its house (for the picture only, not in JSON).
public struct RoomsEpisodeFacts: Sendable, Codable {
    /// Headings, radians counter-clockwise from +x.
    public var startHeading: Double
    public var goalHeading: Double
    /// The heading error left at the end, degrees.
    public var finalHeadingErrorDegrees: Double
    /// Contacts with walls and boxes begun during the episode.
    public var collisions: Int
    public var startRoom: Int
    public var goalRoom: Int
    public var layout: RoomsLayout?

    enum CodingKeys: String, CodingKey {
        case startHeading, goalHeading, finalHeadingErrorDegrees, collisions, startRoom, goalRoom
    }

    /// The facts of `robot`'s episode as it ends, from its start-of-episode `info`.
    public init(robot: SimulatedGroundRobot, info: [String: Double]) {
        startHeading = info["start_heading"] ?? 0
        goalHeading = robot.goal.heading
        finalHeadingErrorDegrees = abs(robot.pose.headingError(to: robot.goal)) * 180 / Double.pi
        collisions = robot.collisions
        startRoom = Int(info["start_room"] ?? 0)
        goalRoom = Int(info["goal_room"] ?? 0)
        layout = robot.layout
    }
}

/// Runs goal-reaching episodes on a simulated board through the real loop and governor, on a
/// manual clock (faster than real time): each episode's goal is given to the policy only as an
/// image, the frame the camera would see with the robot at the goal. The episode ends when the world
/// judges the goal reached (two-rooms: within 4.5 px; rooms: 0.3 m and 30°) or at its step limit.
public final class GoalReachingRun {
    public let clock = ManualClock()
    public let rig: Rig
    public let loop: ControlLoop
    public let governor: SafetyGovernor
    public let planner: LatentPlannerSource?
    private let random: ExplorationSource?
    private var episodeIndex = 0
    /// With a place memory whose nodes have the simulator's truth: per tick, how far the robot was from where the
    /// node it localized at was recorded, m (world units).
    public private(set) var localizationErrors: [Double] = []

    public init(board: LoadedBoard, seed: UInt64, model: WorldModelFile, policy: EvaluationPolicy) throws {
        rig = try Rig(board: board, clock: clock, seed: seed)
        governor = try SafetyGovernor(config: board.safetyConfig)
        let source: CommandSource
        switch policy {
        case .planner(let config), .greedy(let config):
            var c = config
            if case .greedy = policy { (c.horizon, c.knotSpacing, c.memory) = (1, 1, nil) }
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
        let robot = rig.plant!
        if episodeIndex > 0 { rig.newEpisode() }
        let info = robot.episodeInfo
        if let planner {
            let goalFrame = Frame(width: rig.camera.width, height: rig.camera.height)
            robot.renderGoal(into: goalFrame)
            planner.reset()
            planner.setGoal(image: goalFrame.pixels, name: "episode \(episodeIndex)")
        }
        random?.actions.reset()
        loop.restartSchedule()
        let start = robot.position
        var path: [[Double]] = [[start.x, start.y]]
        path.reserveCapacity(robot.maxEpisodeSteps + 1)
        var lastSteps = 0
        let runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: .always)
        let planner = planner
        let result = runner.run(isDone: { robot.reachedGoal }, shouldStop: { false }) { _ in
            if let planner, let memory = planner.memory, let truth = memory.positions, planner.memoryNode >= 0 {
                let k = planner.memoryNode, p = robot.position
                let dx = p.x - Double(truth[2 * k]), dy = p.y - Double(truth[2 * k + 1])
                self.localizationErrors.append((dx * dx + dy * dy).squareRoot())
            }
            if robot.steps != lastSteps {
                lastSteps = robot.steps
                path.append([robot.position.x, robot.position.y])
            }
        }
        loop.stop()
        defer { episodeIndex += 1 }
        var episode = GoalEpisode(
            index: episodeIndex, success: result.success, steps: result.steps, finalDistance: result.finalDistance,
            wallX: info["wall_x"] ?? 0, doorY: info["door_y"] ?? 0, start: [start.x, start.y],
            goal: [info["goal_x"] ?? 0, info["goal_y"] ?? 0], path: path)
        if let g = rig.simulation?.groundRobot { episode.rooms = RoomsEpisodeFacts(robot: g, info: info) }
        return episode
    }
}
