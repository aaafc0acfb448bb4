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
    public let source: ExplorationSource
    /// Episodes whose agent ended in the other room than it started (door crossings happened).
    public private(set) var crossings = 0

    public init(board: LoadedBoard, seed: UInt64, stepsPerEpisode: Int, actions: SmoothRandomActions? = nil) throws {
        guard stepsPerEpisode >= 1 else {
            throw ConfigError(file: board.profile.path, line: nil, column: nil, field: "steps", message: "episodes need at least one step")
        }
        self.board = board
        self.seed = seed
        self.stepsPerEpisode = stepsPerEpisode
        rig = try Rig(board: board, clock: clock, seed: seed)
        source = ExplorationSource(seed: seed &* 31 &+ 5)
        if let actions { source.actions = actions }
        let governor = try SafetyGovernor(config: board.safetyConfig)
        loop = rig.makeLoop(source: source, governor: governor)
    }

    /// The facts of the current episode's world, for the episode markers.
    private var worldInfo: [String: Double] {
        guard let w = rig.robot?.world else { return [:] }
        return ["wall_x": w.layout.wallX, "door_y": w.layout.doorY, "start_x": w.position.x, "start_y": w.position.y]
    }

    /// Runs `episodes` episodes; hands each to `sink` (and to `writer` when given) as it ends.
    public func run(episodes: Int, writer: DatasetWriter? = nil, sink: (RecordedEpisode) throws -> Void = { _ in }) throws {
        guard let robot = rig.robot else {
            throw ConfigError(
                file: board.profile.path, line: nil, column: nil, field: "simulation",
                message: "exploration runs on a simulated board only (record a drive on a real one with run --record)")
        }
        let frameBytes = loop.frame.width * loop.frame.height
        for e in 0..<episodes {
            if e > 0 { rig.newEpisode() }
            source.actions.reset()
            loop.restartSchedule()
            let info = worldInfo
            let startSide = robot.world.layout.side(of: robot.world.position)
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
            let endSide = robot.world.layout.side(of: robot.world.position)
            if endSide != startSide { crossings += 1 }
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
