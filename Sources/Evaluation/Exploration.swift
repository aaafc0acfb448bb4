import Configuration
import Control
import Recording
import RobotCore
import Safety
import Simulation
import WorldModel

/// Collects exploration episodes on a simulated board through the normal control loop: the rig's
/// camera and actuators, the safety governor in the path, a manual clock (faster than real time),
/// and smooth random actions from an `ExplorationSource`. Each tick contributes the frame, the
/// efforts the governor applied after it, and the agent's true position in that frame.
public final class ExplorationRun {
    public let board: LoadedBoard
    public let seed: UInt64
    /// World steps per episode (the episode has one frame more).
    public let stepsPerEpisode: Int
    public let clock = ManualClock()
    public let rig: Rig
    public let loop: ControlLoop
    /// The smooth random actions (nil when the route driver drives).
    public let source: ExplorationSource?
    /// The map-knowing driver of the rooms world (`route: true`).
    public let routeDriver: RoomsRouteDriver?
    /// Episodes whose robot ended in another room than it started (door crossings happened).
    public private(set) var crossings = 0

    /// `route`: on a rooms board, the route driver drives to random places one after another through the
    /// doorways, with smooth noise of `routeNoise` on its efforts, instead of the random actions.
    public init(
        board: LoadedBoard, seed: UInt64, stepsPerEpisode: Int, actions: SmoothRandomActions? = nil, route: Bool = false,
        routeNoise: Double = 0.3
    ) throws {
        guard stepsPerEpisode >= 1 else {
            throw ConfigError(file: board.profile.path, line: nil, column: nil, field: "steps", message: "episodes need at least one step")
        }
        self.board = board
        self.seed = seed
        self.stepsPerEpisode = stepsPerEpisode
        rig = try Rig(board: board, clock: clock, seed: seed)
        let governor = try SafetyGovernor(config: board.safetyConfig)
        if route {
            guard let robot = rig.simulation?.groundRobot else {
                throw ConfigError(
                    file: board.profile.path, line: nil, column: nil, field: "simulation.world",
                    message: "the route driver drives the rooms worlds' robots (car-rooms, diffdrive-rooms)")
            }
            let d = RoomsRouteDriver(robot: robot, wander: true, seed: seed &* 31 &+ 5)
            d.noiseScale = routeNoise
            routeDriver = d
            source = nil
            loop = rig.makeLoop(source: d, governor: governor)
        } else {
            let s = ExplorationSource(seed: seed &* 31 &+ 5)
            if let actions { s.actions = actions }
            source = s
            routeDriver = nil
            loop = rig.makeLoop(source: s, governor: governor)
        }
    }

    /// The facts of the current episode's world, for the episode markers.
    private var worldInfo: [String: Double] {
        (rig.plant?.episodeInfo ?? [:]).filter { !$0.key.hasPrefix("goal") }
    }

    /// Runs `episodes` episodes; hands each to `sink` (and to `writer` when given) as it ends.
    public func run(episodes: Int, writer: DatasetWriter? = nil, sink: (RecordedEpisode) throws -> Void = { _ in }) throws {
        guard let robot = rig.plant else {
            throw ConfigError(
                file: board.profile.path, line: nil, column: nil, field: "simulation",
                message: "exploration runs on a simulated board only (record a drive on a real one with run --record)")
        }
        let frameBytes = loop.frame.width * loop.frame.height
        for e in 0..<episodes {
            if e > 0 { rig.newEpisode() }
            source?.actions.reset()
            routeDriver?.reset()
            loop.restartSchedule()
            let info = worldInfo
            let startRoom = robot.room
            try writer?.beginEpisode(e, at: clock.now(), info: info)
            var episode = RecordedEpisode(
                index: e, width: loop.frame.width, height: loop.frame.height, frames: [],
                actions: [], channels: loop.governor.channelCount, positions: [], info: info, source: "exploration seed \(seed) #\(e)")
            episode.frames.reserveCapacity((stepsPerEpisode + 1) * frameBytes)
            let runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: .always)
            var failure: Error?
            _ = runner.run(maxSteps: stepsPerEpisode, isDone: { failure != nil }, shouldStop: { false }) { report in
                guard report.capture == .newFrame, failure == nil else { return }
                let frame = loop.frame
                let p = robot.position(at: frame.timestamp)
                let applied = report.output.efforts.array
                episode.frames.append(contentsOf: frame.pixels)
                episode.actions.append(contentsOf: applied.map { Float($0) })
                episode.positions!.append(contentsOf: [Float(p.x), Float(p.y)])
                do {
                    try writer?.step(
                        frame: frame,
                        action: ActionMessage(
                            episode: e, step: episode.frameCount - 1, efforts: applied,
                            proposed: report.command.efforts.array,
                            state: report.state.rawValue),
                        truth: TruthMessage(episode: e, step: episode.frameCount - 1, x: p.x, y: p.y),
                        at: report.wake)
                } catch { failure = error }
            }
            if let failure { throw failure }
            loop.stop()
            if robot.room != startRoom { crossings += 1 }
            try writer?.endEpisode(e, at: clock.now(), info: ["steps": Double(robot.steps), "frames": Double(episode.frameCount)])
            try sink(episode)
        }
    }
}

extension Episode {
    /// An episode from a recording, its actions the efforts of `channels` (indices into the recorded channels,
    /// in the model's action order): the action recorded with the last frame has no next frame and is dropped.
    public init(_ r: RecordedEpisode, channels: [Int]) throws {
        let n = r.frameCount, c = r.channels
        guard c > 0, r.actions.count == n * c else {
            throw DatasetError("\(r.source): \(n) frames but \(c == 0 ? 0 : r.actions.count / c) actions (one per frame expected)")
        }
        if let bad = channels.first(where: { !(0..<c).contains($0) }) {
            throw DatasetError("\(r.source): channel \(bad) is not among the \(c) recorded")
        }
        var actions: [Float] = []
        actions.reserveCapacity(max(0, n - 1) * channels.count)
        for t in 0..<max(0, n - 1) { for j in channels { actions.append(r.actions[t * c + j]) } }
        try self.init(
            width: r.width, height: r.height, frames: r.frames, actions: actions, actionSize: channels.count,
            positions: r.positions, source: r.source)
    }
}

/// Actuator names from a comma-separated list (a recording's metadata, `train --actions`), each trimmed of spaces.
public func actuatorNames(_ text: String) -> [String] {
    text.split(separator: ",").map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}

/// The recorded channels a model learns from: `chosen` names (nil: the recording's planned actuators, else all its
/// actuators), as indices into the recording's channels with their names. `actuators`: the recording's channel names
/// in order (its `actuators` metadata), `planned` its `planned_actuators` (both comma-separated, either may be missing).
public func recordedActionChannels(
    actuators: String?, planned: String?, chosen: [String]?, channelCount: Int, source: String
) throws -> (channels: [Int], names: [String]) {
    func names(_ text: String?) -> [String]? { text.map(actuatorNames) }
    guard let all = names(actuators) else {
        throw DatasetError(
            "\(source): the recording does not name its channels (metadata \"actuators\"), so its efforts cannot be matched to a board")
    }
    guard all.count == channelCount else {
        throw DatasetError(
            "\(source): metadata names \(all.count) actuators (\(all.joined(separator: ", "))) but its actions hold \(channelCount) efforts"
        )
    }
    let wanted = chosen ?? names(planned) ?? all
    guard !wanted.isEmpty, Set(wanted).count == wanted.count else {
        throw DatasetError("\(source): the actions \(wanted) must be one or more distinct actuators")
    }
    let channels = try wanted.map { name in
        guard let i = all.firstIndex(of: name) else {
            throw DatasetError("\(source): no actuator \"\(name)\" in the recording (actuators: \(all.joined(separator: ", ")))")
        }
        return i
    }
    return (channels, wanted)
}
