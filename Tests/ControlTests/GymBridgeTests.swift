import Configuration
import Foundation
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing
@testable import Control

/// Pushes constant efforts (a test's stand-in for a controller).
final class ConstantSource: CommandSource {
    let origin = CommandOrigin.autonomy
    var efforts: [Double]
    init(_ efforts: [Double]) { self.efforts = efforts }
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        command.issuedAt = now
        for (i, e) in efforts.enumerated() { command.efforts[i] = e }
        return true
    }
}

/// A board on the Gymnasium bridge, written to a temporary directory: the tiny test environments of
/// Tests/Fixtures/gym/tiny_env.py (or another host script), two channels vx and vy.
struct GymBoard {
    let directory: String
    let path: String

    /// `gymnasium` is the body of `simulation.gymnasium` after `env:` (indented 4 spaces).
    init(_ name: String, env: String, gymnasium: String, host: String = repoRoot + "/scripts/gym_host.py") throws {
        directory = temporaryPath("gym-\(name)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/board.yaml"
        let board = """
            name: gym-\(name)
            loop: {rate_hz: 20}
            camera: {driver: sim, width: 40, height: 30, max_frame_age_ms: 500}
            actuators:
              - {name: vx, channel: 0, kind: servo, slew_per_s: 100}
              - {name: vy, channel: 1, kind: servo, slew_per_s: 100}
            inputs: [{name: estop, role: estop, driver: sim, active_low: true}]
            safety:
              {window_ms: 250, max_window_change: 2.0, max_consecutive_overruns: 5, stall_timeout_ms: 5000, heartbeat_timeout_ms: 5000}
            simulation:
              world: gymnasium
              seed: 3
              gymnasium:
                env: \(env)
                host: \(host)
                python_path: [\(repoRoot)/Tests/Fixtures/gym]
                imports: [tiny_env]
                truth: ["unwrapped.pos[0]", "unwrapped.pos[1]"]
            \(gymnasium)
              actuator_truth:
                vx: {neutral_us: 1500, full_scale_us: 500}
                vy: {neutral_us: 1500, full_scale_us: 500}
            calibration: calibration.yaml
            """
        try board.write(toFile: path, atomically: true, encoding: .utf8)
        let calibration = """
            board: gym-\(name)
            pwm: {frequency_hz: 50, oscillator_trim: 1.0}
            channels:
              vx: {min_us: 1000, neutral_us: 1500, max_us: 2000, reversed: false, deadband_us: 0}
              vy: {min_us: 1000, neutral_us: 1500, max_us: 2000, reversed: false, deadband_us: 0}
            """
        try calibration.write(toFile: directory + "/calibration.yaml", atomically: true, encoding: .utf8)
    }

    func load() throws -> LoadedBoard { try LoadedBoard.load(boardPath: path) }
    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The Box map of the tiny environment: vx, vy drives straight through.
let boxAction = """
        action:
          - {channel: vx, range: [-1, 1]}
          - {channel: vy, range: [-1, 1]}
    """

/// A rig, governor and loop on a Gymnasium board, ticking on a manual clock (lockstep with the host).
struct GymRig {
    let clock = ManualClock()
    let rig: Rig
    let governor: SafetyGovernor
    let loop: ControlLoop
    var plant: GymnasiumPlant { rig.plant as! GymnasiumPlant }

    let board: GymBoard
    /// The command source, whose efforts a test may change between ticks.
    let source: ConstantSource

    /// Starts the board's host (the board's files are removed by `finish()`).
    init(_ board: GymBoard, efforts: [Double]) throws {
        self.board = board
        source = ConstantSource(efforts)
        let loaded = try board.load()
        rig = try Rig(board: loaded, clock: clock)
        governor = try SafetyGovernor(config: loaded.safetyConfig)
        loop = rig.makeLoop(source: source, governor: governor)
    }

    /// Shuts the rig down (the host ends) and removes the board's files.
    func finish() {
        rig.shutdown()
        board.remove()
    }

    /// Ticks until armed (at most 5 ticks); true when it armed.
    func arm() -> Bool {
        for _ in 0..<5 {
            loop.tick()
            if governor.requestArm() == .armed { return true }
        }
        return false
    }
}

/// The brightest pixel's column (the tiny environment's dot).
func dotColumn(_ f: Frame) -> Int {
    var best = 0, column = 0
    for y in 0..<f.height { for x in 0..<f.width where Int(f[x, y]) > best { (best, column) = (Int(f[x, y]), x) } }
    return column
}

@Suite("Gymnasium bridge, against real host processes", .serialized)
struct GymBridgeTests {
    @Test("a Box environment drives in lockstep: frames from the observation, efforts through the action map, truth, its own end")
    func boxEpisode() throws {
        let r = try GymRig(try GymBoard("box", env: "CerebellumTiny-v0", gymnasium: boxAction), efforts: [0.5, 0])
        defer { r.finish() }
        #expect(r.plant.ready.actionSpace == .box(low: [-1, -1], high: [1, 1]))
        #expect(r.plant.ready.maxEpisodeSteps == 40 && r.plant.maxEpisodeSteps == 40)
        #expect(r.arm())
        let start = r.plant.position
        r.loop.tick()
        let firstColumn = dotColumn(r.loop.frame)
        let runner = EpisodeRunner(rig: r.rig, loop: r.loop, armPolicy: .always)
        let result = runner.run(isDone: { false }, shouldStop: { false })
        #expect(result.ending == .worldEnded, "the environment truncates at its 40 steps")
        #expect(r.plant.steps == 40 && r.plant.episodeOver)
        #expect(r.governor.latchedFaults.isEmpty)
        // Effort 0.5 → drive 0.5 → action 0.5 px per step to the right, clipped at the image's edge (x ≤ 38).
        let end = r.plant.position
        #expect(end.x > start.x + 10 && abs(end.y - start.y) < 1e-9, "start \(start), end \(end)")
        #expect(dotColumn(r.loop.frame) > firstColumn + 5, "the camera sees the dot move right")
        #expect(abs(Double(dotColumn(r.loop.frame)) - end.x.rounded()) <= 1, "the frame is the observation")

        let firstSeed = r.plant.episodeSeed
        r.rig.newEpisode()
        #expect(r.plant.steps == 0 && !r.plant.episodeOver && r.plant.episodeSeed != firstSeed)
    }

    @Test("the goal is the environment's: a goal function's observation and truth, before the episode's own reset")
    func goalFunction() throws {
        let r = try GymRig(
            try GymBoard(
                "goal", env: "CerebellumTiny-v0",
                gymnasium: boxAction + "\n    goal: {function: \"tiny_env:goal_right\", dx: 6}\n    goal_distance: 1.5"), efforts: [0, 0])
        defer { r.finish() }
        let start = r.plant.position
        #expect(abs(r.plant.goalPosition.x - min(start.x + 6, 38)) < 1e-9 && r.plant.goalPosition.y == start.y)
        #expect(!r.plant.reachedGoal)
        let goal = Frame(width: 40, height: 30)
        r.plant.renderGoal(into: goal)
        #expect(abs(dotColumn(goal) - Int(r.plant.goalPosition.x.rounded())) <= 1)
        // Driving right at 0.5 px per step reaches the goal 6 px away.
        r.source.efforts = [0.5, 0]
        #expect(r.arm())
        let runner = EpisodeRunner(rig: r.rig, loop: r.loop, armPolicy: .always)
        let result = runner.run(isDone: { r.plant.reachedGoal }, shouldStop: { false })
        #expect(result.ending == .finished && result.success && result.finalDistance <= 1.5)
    }

    @Test("between episodes the runner disarms for a slow reset and arms again what it had armed; an operator's disarm stays")
    func betweenEpisodes() throws {
        let r = try GymRig(try GymBoard("episodes", env: "CerebellumTiny-v0", gymnasium: boxAction), efforts: [0.1, 0])
        defer { r.finish() }
        let runner = EpisodeRunner(rig: r.rig, loop: r.loop, armPolicy: .once)
        _ = runner.run(maxSteps: 5, isDone: { false }, shouldStop: { false })
        #expect(r.governor.state == .armed)
        let seed = r.plant.episodeSeed
        r.clock.advance(by: .seconds(6))  // a reset that takes longer than the board's 5 s stall limit
        runner.nextEpisode()
        #expect(r.plant.episodeSeed != seed && r.plant.steps == 0)
        _ = runner.run(maxSteps: 5, isDone: { false }, shouldStop: { false })
        #expect(r.governor.state == .armed && r.governor.latchedFaults.isEmpty, "\(r.governor.latchedFaults)")
        r.governor.disarm()  // the operator
        runner.nextEpisode()
        _ = runner.run(maxSteps: 5, isDone: { false }, shouldStop: { false })
        #expect(r.governor.state == .disarmed, "--arm arms once: an operator's disarm holds across episodes")
        // Without --arm only an operator arms: their arming is not undone between episodes.
        let operated = EpisodeRunner(rig: r.rig, loop: r.loop, armPolicy: .never)
        r.loop.tick()
        #expect(r.governor.requestArm() == .armed)
        operated.nextEpisode()
        _ = operated.run(maxSteps: 5, isDone: { false }, shouldStop: { false })
        #expect(r.governor.state == .armed)
    }

    @Test("a Discrete environment takes the first rule whose threshold the drives pass, else the idle action")
    func discrete() throws {
        let r = try GymRig(
            try GymBoard(
                "discrete", env: "CerebellumTinyDiscrete-v0",
                gymnasium: """
                        discrete:
                          idle: 0
                          rules:
                            - {channel: vx, above: 0.3, action: 1}
                            - {channel: vx, below: -0.3, action: 2}
                            - {channel: vy, above: 0.3, action: 3}
                    """), efforts: [-0.6, 0.9])
        defer { r.finish() }
        #expect(r.plant.ready.actionSpace == .discrete(n: 5, start: 0))
        #expect(r.arm())
        let start = r.plant.position
        for _ in 0..<10 { r.loop.tick() }
        // vx −0.6 passes "below −0.3" (action 2: one px left) before vy's rule is looked at.
        #expect(r.plant.position.x < start.x - 5 && r.plant.position.y == start.y)
    }

    @Test("idle: none takes no environment step: disarmed, or with efforts under every threshold, the world holds still")
    func idleNone() throws {
        let r = try GymRig(
            try GymBoard(
                "idle-none", env: "CerebellumTinyDiscrete-v0",
                gymnasium: "    discrete: {idle: none, rules: [{channel: vx, above: 0.3, action: 1}]}"), efforts: [0.2, 0])
        defer { r.finish() }
        let start = r.plant.position
        for _ in 0..<5 { r.loop.tick() }
        #expect(r.plant.position == start && r.plant.steps > 0, "disarmed: neutral pulses, no step")
        #expect(r.arm())
        for _ in 0..<5 { r.loop.tick() }
        #expect(r.plant.position == start, "armed at 0.2, under the rule's 0.3: no step")
        r.source.efforts = [0.8, 0]
        for _ in 0..<5 { r.loop.tick() }
        #expect(r.plant.position.x > start.x + 2, "past the threshold: action 1, one px right per step")
    }

    @Test(
        "a host that dies, hangs, or whose environment raises latches a camera fault; nothing crashes", arguments: ["die", "hang", "raise"])
    func misbehavingEnvironment(mode: String) throws {
        let r = try GymRig(
            try GymBoard(
                "env-\(mode)", env: "CerebellumTiny-v0",
                gymnasium: boxAction + "\n    kwargs: {misbehave: \(mode), at: 3}\n    step_timeout_ms: 300"), efforts: [0.2, 0])
        defer { r.finish() }
        #expect(r.arm())
        for _ in 0..<8 { r.loop.tick() }
        #expect(r.plant.failure != nil)
        #expect(r.governor.latchedFaults.contains(.cameraLost), "\(r.governor.latchedFaults)")
        #expect(r.governor.state == .faulted)
        switch (mode, r.plant.failure) {
        case ("die", .closed(let how)?): #expect(how == "exit status 3")
        case ("hang", .timedOut?): break
        case ("raise", .hostError(let text)?): #expect(text.contains("failed on purpose"))
        default: Issue.record("\(mode): \(String(describing: r.plant.failure))")
        }
        #expect(r.governor.requestArm() != .armed, "a dead host keeps the governor from arming")
        #expect(r.governor.neutral.isNeutral)
    }

    @Test(
        "a host that breaks the protocol latches a fault with the reason", arguments: ["short-image", "bad-type", "huge", "silent", "exit"])
    func malformedHost(mode: String) throws {
        let r = try GymRig(
            try GymBoard(
                "bad-\(mode)", env: mode, gymnasium: boxAction + "\n    step_timeout_ms: 300",
                host: repoRoot + "/Tests/Fixtures/gym/malformed_host.py"), efforts: [0.2, 0])
        defer { r.finish() }
        #expect(r.arm())
        for _ in 0..<4 { r.loop.tick() }
        #expect(r.governor.latchedFaults.contains(.cameraLost), "\(mode): \(r.governor.latchedFaults)")
        switch (mode, r.plant.failure) {
        case ("short-image", .malformed(let why)?): #expect(why.contains("image bytes"))
        case ("bad-type", .malformed(let why)?): #expect(why.contains("unknown reply type 0x42"))
        case ("huge", .malformed(let why)?): #expect(why.contains("out of range"))
        case ("silent", .timedOut?): break
        case ("exit", .closed(let how)?): #expect(how == "exit status 4")
        default: Issue.record("\(mode): \(String(describing: r.plant.failure))")
        }
    }

    @Test("an environment the host cannot make, or whose action space the map does not fit, stops the rig before anything moves")
    func refusedAtStart() throws {
        let unknown = try GymBoard("unknown", env: "NoSuchEnvironment-v9", gymnasium: boxAction)
        defer { unknown.remove() }
        #expect {
            _ = try Rig(board: try unknown.load(), clock: ManualClock())
        } throws: { e in
            let c = e as? ConfigError
            return c?.field == "simulation.gymnasium" && c!.message.contains("NoSuchEnvironment-v9")
        }
        let misfit = try GymBoard(
            "misfit", env: "CerebellumTiny-v0", gymnasium: "    action:\n      - {channel: vx, range: [-1, 1]}")
        defer { misfit.remove() }
        #expect {
            _ = try Rig(board: try misfit.load(), clock: ManualClock())
        } throws: { e in
            (e as? ConfigError)?.message.contains("the action map has 1 components, the environment's Box has 2") == true
        }
        let wide = try GymBoard("wide", env: "CerebellumTiny-v0", gymnasium: boxAction + "\n    crop: [0, 0, 41, 30]")
        defer { wide.remove() }
        #expect {
            _ = try Rig(board: try wide.load(), clock: ManualClock())
        } throws: { e in (e as? ConfigError)?.message.contains("crop 41×30+0+0 does not fit the 40×30 observation") == true }
        let noPython = try GymBoard("nopython", env: "CerebellumTiny-v0", gymnasium: boxAction + "\n    python: no-such-python3")
        defer { noPython.remove() }
        #expect {
            _ = try Rig(board: try noPython.load(), clock: ManualClock())
        } throws: { e in (e as? ConfigError)?.message.contains("the host is gone (exit status 127)") == true }
    }
}
