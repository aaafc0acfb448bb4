// What several test targets share: the repository's paths, the shipped model and board, the simulated
// board ready to tick, and clocks on which work costs what a test says.
import Configuration
import Control
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import Safety
import Simulation
import WorldModel

/// The repository root (three levels above this file).
public let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .path

/// The shipped world model (`make model`); a missing or bad file fails the test that needs it, with the reason.
public func loadShippedModel() throws -> WorldModelFile { try WorldModelFile.load(path: repoRoot + "/models/two-rooms.safetensors") }

/// The shipped simulated board.
public func fixedBoard() throws -> LoadedBoard { try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml") }

/// A world model whose predictor is exactly f([z, a]) = B·a (each action through a ReLU pair, relu(a) − relu(−a)),
/// so a test can step the latent world the model describes. `effect`: B, latent × actions. The encoder is
/// `encoderFrom`'s (whose latent size `effect` must then have), none otherwise (planner tests need none).
public func linearWorldModel(
    effect b: [[Float]], actions: [ModelAction], hidden: Int = 16, encoderFrom base: WorldModelFile? = nil
) -> WorldModelFile {
    let d = b.count, a = actions.count
    precondition(b.allSatisfy { $0.count == a } && hidden >= 2 * a && (base == nil || base!.latentSize == d))
    let layers = WorldModelArchitecture.predictor(latent: d, actions: a, hidden: hidden)
    let p = Parameters.initialized(for: layers, seed: 1)
    for t in p.values { t.fill(0) }
    let first = p["0.weight"]!, middle = p["2.weight"]!, last = p["4.weight"]!
    for k in 0..<a {
        first[k * (d + a) + d + k] = 1
        first[(a + k) * (d + a) + d + k] = -1
    }
    for k in 0..<(2 * a) { middle[k * hidden + k] = 1 }
    for i in 0..<d {
        for k in 0..<a {
            last[i * hidden + k] = b[i][k]
            last[i * hidden + a + k] = -b[i][k]
        }
    }
    return WorldModelFile(
        encoderLayers: base?.encoderLayers ?? [], predictorLayers: layers, encoder: base?.encoder ?? [:], predictor: p,
        quantizedEncoder: base?.quantizedEncoder ?? QuantizedParameters(tensors: [:]), latentSize: d, actions: actions,
        frameShape: base?.frameShape ?? WorldModelArchitecture.frameShape, training: base?.training ?? "{}")
}

/// The planner's defaults for the two-rooms dot: its actions (vx, vy) are a planar velocity (holonomic motion).
public func twoRoomsPlanner() -> PlannerConfig {
    var c = PlannerConfig()
    c.actuators = ["vx", "vy"]
    c.motion = .holonomic
    return c
}

/// Planner settings whose outcome does not depend on this machine's speed: the budget never cuts.
public func unbudgeted(_ change: (inout PlannerConfig) -> Void = { _ in }) -> PlannerConfig {
    var c = twoRoomsPlanner()
    c.budgetMilliseconds = 10_000
    change(&c)
    return c
}

/// The int8 latent of the fixed layout with the agent at `p`, through `encoder` (the model's int8 encoder).
public func latent(at p: Vec2, _ encoder: QuantizedNetwork) -> [Float] {
    let world = TwoRoomsWorld(layout: .fixed, start: p, goal: p)
    let f = Frame(width: 64, height: 64)
    world.render(into: f)
    encoder.input.assignGray8(f.pixels)
    return encoder.forward().scalars
}

/// A clock on which work costs what the test says: every reading advances it by `step`, and once, at
/// reading number `stallAt`, by `stall` more (a preemption or a stall of the machine). The planner reads
/// the clock once per rollout step, so `step` is the cost of one predictor pass.
public final class SteppingClock: RobotClock {
    private var t = Instant(nanoseconds: 1_000_000_000)
    public var step: Duration
    public var stall: Duration = .zero
    public var stallAt = -1
    public private(set) var readings = 0

    public init(step: Duration) { self.step = step }

    public func now() -> Instant {
        readings += 1
        t += step
        if readings == stallAt { t += stall }
        return t
    }

    public func sleep(until deadline: Instant) { if deadline > t { t = deadline } }
}

/// The shipped simulated board on a manual clock, with the scripted follower, ready to tick.
public struct SimSetup {
    public let board: LoadedBoard
    public let clock = ManualClock()
    public let rig: Rig
    public let governor: SafetyGovernor
    public let loop: ControlLoop
    public var robot: SimulatedRobot { rig.robot! }
    public var camera: SimulatedCamera { rig.simulation!.camera }
    public var actuators: SimulatedActuators { rig.simulation!.actuators }
    public var eStop: SimulatedInput { rig.simulation!.eStop! }

    /// `source` makes the command source from the robot and the setup's clock (default: the scripted follower).
    public init(variant: TwoRoomsVariant = .fixed, seed: UInt64 = 1, source: ((SimulatedRobot, ManualClock) -> CommandSource)? = nil) throws
    {
        var b = try fixedBoard()
        b.profile.simulation?.world = SimulatedWorldName(variant)
        board = b
        rig = try Rig(board: b, clock: clock, seed: seed)
        governor = try SafetyGovernor(config: b.safetyConfig)
        let robot = rig.robot!
        loop = rig.makeLoop(source: source?(robot, clock) ?? ScriptedWaypointFollower(world: robot.world), governor: governor)
    }

    /// Ticks until armed (at most 5 ticks).
    public func arm() {
        for _ in 0..<5 {
            loop.tick()
            if governor.requestArm() == .armed { return }
        }
    }
}

/// The shipped board with a planner source aiming at the episode's goal image, armed.
public func plannerSetup(_ config: PlannerConfig, timer: RobotClock = SystemClock()) throws -> (SimSetup, LatentPlannerSource, Frame) {
    let shippedModel = try loadShippedModel()
    let s = try SimSetup()
    let source = try LatentPlannerSource(
        model: shippedModel, channels: [0, 1], config: config, governor: s.governor, timer: timer)
    s.loop.source = source
    let f = Frame(width: 64, height: 64)
    s.robot.world.render(into: f, agent: s.robot.world.goal)
    source.setGoal(image: f.pixels)
    s.arm()
    return (s, source, f)
}

/// A fresh path in the temporary directory (nothing there yet).
public func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("cerebellum-\(getpid())-\(name)").path
}

/// Runs a Python script with arguments; returns its standard output.
public func runPython(_ script: String, _ arguments: String...) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    p.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
}

/// The gamepad section the tests give the simulated board (the shipped file leaves it commented out).
public let testGamepadSection = """

    gamepad:
      device: /dev/input/by-id/test-event-joystick
      axes: {vx: -ABS_Y, vy: ABS_X}
      deadzone: 0.08
      deadman: BTN_TL
      deadman_ms: 250
      estop: BTN_EAST
      arm: BTN_START
      disarm: BTN_SELECT
      reset: BTN_MODE
      autonomy: BTN_THUMBR
      mark_good: BTN_NORTH
      mark_bad: BTN_WEST
    """

/// The shipped simulated board with `testGamepadSection` (or `section`) added.
public func boardWithGamepad(_ section: String = testGamepadSection) throws -> LoadedBoard {
    let path = repoRoot + "/boards/sim-two-rooms.yaml"
    let profile = try BoardProfile.parse(text: try String(contentsOfFile: path, encoding: .utf8) + section, path: path)
    return try LoadedBoard(profile: profile, calibration: try Calibration.load(path: profile.calibrationPath))
}
