import Configuration
import RobotCore
import Safety
import Simulation

/// The devices a board profile names, opened and wired: camera, actuators, e-stop, and for a
/// simulated board the simulated robot behind them.
public final class Rig {
    public let board: LoadedBoard
    public let clock: RobotClock
    public let camera: FrameSource
    public let actuators: ActuatorOutput
    public let eStop: DigitalInput?
    /// The simulated robot, on `sim` boards.
    public let robot: SimulatedRobot?
    public let variant: TwoRoomsVariant?
    private var episodeRNG: SeededGenerator

    /// Opens the board's devices. Throws a `ConfigError` if the profile asks for something this
    /// build cannot drive; nothing is started then.
    public init(board: LoadedBoard, clock: RobotClock, seed: UInt64? = nil) throws {
        self.board = board
        self.clock = clock
        let p = board.profile
        guard let sim = p.simulation else {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "simulation", message: "only simulated boards are supported by this build")
        }
        let variant = sim.world
        if p.actuators.count != 2 {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "actuators",
                              message: "the two-rooms robot has two actuator channels (vx, vy), the profile lists \(p.actuators.count)")
        }
        if p.camera.width != TwoRoomsLayout.size || p.camera.height != TwoRoomsLayout.size {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "camera", message: "the two-rooms camera is 64×64")
        }
        self.variant = variant
        var rng = SeededGenerator(seed: seed ?? sim.seed)
        let world = TwoRoomsWorld.episode(variant, rng: &rng)
        episodeRNG = rng
        let robot = SimulatedRobot(world: world, physics: sim.actuatorTruth, stepPeriod: p.loop.period)
        self.robot = robot
        camera = SimulatedCamera(robot: robot, clock: clock, latency: p.camera.simLatency,
                                 dropProbability: p.camera.simDropProbability, seed: (seed ?? sim.seed) &+ 7)
        actuators = SimulatedActuators(robot: robot, clock: clock)
        eStop = p.inputs.first { $0.role == .estop }.map { SimulatedInput(name: $0.name) }
    }

    /// A control loop over this rig's devices at the board's rate, gated by `governor`.
    public func makeLoop(source: CommandSource, governor: SafetyGovernor) -> ControlLoop {
        ControlLoop(period: board.profile.loop.period, clock: clock, camera: camera, eStop: eStop,
                    source: source, governor: governor, actuators: actuators)
    }

    /// Starts a new simulated episode (a new layout for the random-wall variant).
    public func newEpisode() {
        guard let robot, let variant else { return }
        robot.reset(world: TwoRoomsWorld.episode(variant, rng: &episodeRNG))
    }
}
