import Configuration
import Glibc
import LinuxHardware
import RobotCore
import Safety
import Simulation

/// The devices a board profile names, opened and wired: camera, actuators, e-stop, output lines and
/// watchdog. A real and a simulated board give the same shape (`RigDevices`); what only one of them has —
/// the drivers' own counters, the simulated robot — is beside it in `hardware` or `simulation`.
/// Every device follows the `Device` lifecycle: opened (configured) in `init`, activated there once all
/// are open, deactivated and shut down by `shutdown()`.
public final class Rig {
    public let board: LoadedBoard
    public let clock: RobotClock
    public let camera: FrameSource
    public let actuators: ActuatorOutput
    public let eStop: DigitalInput?
    /// Output lines and the watchdog, which follow the governor's state each tick.
    public let signals: BoardSignals
    /// The drivers of a real board (nil on a simulated one).
    public let hardware: BoardHardware?
    /// The simulated robot and its world (nil on a real board).
    public let simulation: SimulatedBoard?
    private let devices: DeviceSet

    /// The two-rooms robot, on two-rooms `sim` boards.
    public var robot: SimulatedRobot? { simulation?.robot }
    /// The simulated robot in whichever world, on `sim` boards.
    public var plant: SimulatedPlant? { simulation?.plant }

    /// Opens the board's devices, then activates them. Throws a `ConfigError` (the profile asks for
    /// something this build cannot drive) or the driver's error naming the device; whatever was opened is
    /// put back in its safe state and released then, and no actuator has moved. On a real board the output
    /// supervisor starts first (at SCHED_FIFO `supervisorPriority`, 0 for the normal scheduler).
    public init(board: LoadedBoard, clock: RobotClock, seed: UInt64? = nil, supervisorPriority: Int = 0) throws {
        self.board = board
        self.clock = clock
        let set = DeviceSet()
        let opened: RigDevices
        do {
            if let sim = board.profile.simulation {
                let s = try SimulatedBoard(board: board, settings: sim, clock: clock, seed: seed)
                opened = s.devices(set)
                simulation = s
                hardware = nil
            } else {
                let h = try BoardHardware.open(board, clock: clock, supervisorPriority: supervisorPriority, into: set)
                opened = h.devices
                hardware = h.hardware
                simulation = nil
            }
        } catch {
            set.close()
            throw error
        }
        try set.activate()
        devices = set
        camera = opened.camera
        actuators = opened.actuators
        eStop = opened.eStop
        signals = BoardSignals(
            motorEnable: opened.motorEnable, statusLEDs: opened.statusLEDs, watchdog: nil, supervisor: hardware?.supervisor)
    }

    /// A control loop over this rig's devices at the board's rate, gated by `governor`.
    public func makeLoop(source: CommandSource, governor: SafetyGovernor) -> ControlLoop {
        let loop = ControlLoop(
            period: board.profile.loop.period, clock: clock, camera: camera, eStop: eStop,
            source: source, governor: governor, actuators: actuators)
        loop.signals = signals
        return loop
    }

    /// Starts a new simulated episode (a new layout for the random-wall variant).
    public func newEpisode() { simulation?.newEpisode() }

    /// Opens and arms the board's watchdog (its `watchdog:` section), if it has one and it is not running yet.
    /// Call right before the loop starts ticking: from here on the loop must feed it within the timeout.
    public func startWatchdog() throws {
        guard signals.watchdog == nil, let w = board.profile.watchdog else { return }
        signals.watchdog = devices.add(try Watchdog(path: w.device, timeoutSeconds: w.timeoutSeconds))
    }

    /// Every device deactivated, then shut down, newest first: the watchdog disarmed by the magic close,
    /// the camera closed, the PWM board full-OFF with OE released, output lines at their safe levels and
    /// released, and last the output supervisor told to finish (it writes full-OFF once more and exits).
    /// Call after `ControlLoop.stop()`. Safe to call twice.
    public func shutdown() { devices.close() }
}

/// What the control loop reads and writes, the same for every kind of board.
public struct RigDevices {
    public var camera: FrameSource
    public var actuators: ActuatorOutput
    public var eStop: DigitalInput?
    /// Asserted only while armed without a latched fault.
    public var motorEnable: [DigitalOutput] = []
    /// Lit while armed.
    public var statusLEDs: [DigitalOutput] = []
}

/// A real board's drivers, typed, for what only they can tell (the negotiated camera format, the
/// PWM prescale, their error counters) and for the hardware checks.
public struct BoardHardware {
    public let camera: V4L2Camera
    public let pwm: PCA9685
    /// The output supervisor process: it holds the OE line and cuts the outputs if this process dies or
    /// its loop stops ticking.
    public let supervisor: SupervisorLink

    /// Opens a real board's devices into `set`, each in its safe state: the output supervisor first, then
    /// the output lines at their safe levels (so nothing else can move before they hold), the e-stop, the
    /// PCA9685 behind the supervisor (outputs disabled), the camera (streaming).
    static func open(_ board: LoadedBoard, clock: RobotClock, supervisorPriority: Int, into set: DeviceSet) throws
        -> (devices: RigDevices, hardware: BoardHardware)
    {
        let p = board.profile
        let opener = BoardDevices(board: board)
        let link = set.add(try opener.startSupervisor(priority: supervisorPriority))
        var motorEnable: [DigitalOutput] = []
        var statusLEDs: [DigitalOutput] = []
        for o in p.outputs {
            let l = set.add(try opener.output(o))
            switch o.role {
            case .motorEnable: motorEnable.append(l)
            case .statusLED: statusLEDs.append(l)
            }
        }
        let eStop = try opener.eStop().map { set.add($0) }
        let chip = try opener.pca9685(clock: clock, supervisor: link)
        let actuators = set.add(SupervisedActuators(chip: chip, link: link))
        guard let v = p.camera.v4l2 else {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "camera", message: "a real board needs a v4l2 camera")
        }
        let crop = (board.calibration.cameraCrop ?? v.crop).map {
            GrayResampler.Rect(x: $0[0], y: $0[1], width: $0[2], height: $0[3])
        }
        let camera = set.add(
            try V4L2Camera(
                request: CameraRequest(
                    device: v.device, width: v.captureWidth, height: v.captureHeight,
                    framesPerSecond: v.framesPerSecond, format: v.format, crop: crop,
                    buffers: v.buffers, pollTimeoutMilliseconds: v.pollTimeoutMilliseconds),
                outputWidth: p.camera.width, outputHeight: p.camera.height, clock: clock))
        return (
            RigDevices(camera: camera, actuators: actuators, eStop: eStop, motorEnable: motorEnable, statusLEDs: statusLEDs),
            BoardHardware(camera: camera, pwm: chip, supervisor: link)
        )
    }
}

/// A simulated board: the robot in its world (two-rooms, or a ground robot in the rooms world) behind a
/// simulated camera, actuators and e-stop.
public final class SimulatedBoard {
    public let plant: SimulatedPlant
    public let world: SimulatedWorldName
    public let camera: SimulatedCamera
    public let actuators: SimulatedActuators
    public let eStop: SimulatedInput?

    /// The two-rooms robot (nil in the rooms world).
    public var robot: SimulatedRobot? { plant as? SimulatedRobot }
    /// The ground robot of the rooms world (nil in two-rooms).
    public var groundRobot: SimulatedGroundRobot? { plant as? SimulatedGroundRobot }

    /// Checks that the profile describes the world's robot and builds it at its first episode.
    init(board: LoadedBoard, settings sim: SimulationSettings, clock: RobotClock, seed: UInt64?) throws {
        let p = board.profile
        world = sim.world
        let seed = seed ?? sim.seed
        if let variant = sim.world.twoRoomsVariant {
            if p.actuators.count != 2 {
                throw ConfigError(
                    file: p.path, line: nil, column: nil, field: "actuators",
                    message: "the two-rooms robot has two actuator channels (vx, vy), the profile lists \(p.actuators.count)")
            }
            if p.camera.width != TwoRoomsLayout.size || p.camera.height != TwoRoomsLayout.size {
                throw ConfigError(file: p.path, line: nil, column: nil, field: "camera", message: "the two-rooms camera is 64×64")
            }
            var rng = SeededGenerator(seed: seed)
            let r = SimulatedRobot(world: TwoRoomsWorld.episode(variant, rng: &rng), physics: sim.actuatorTruth, stepPeriod: p.loop.period)
            r.episodes = (variant, rng)
            plant = r
        } else if let rooms = sim.rooms {
            if p.camera.width < 16 || p.camera.height < 16 {
                throw ConfigError(file: p.path, line: nil, column: nil, field: "camera", message: "the rooms camera is at least 16×16")
            }
            plant = SimulatedGroundRobot(
                settings: rooms, physics: sim.actuatorTruth, stepPeriod: p.loop.period, cameraWidth: p.camera.width,
                cameraHeight: p.camera.height, seed: seed)
        } else if let gym = sim.gymnasium {
            plant = try SimulatedBoard.gymnasiumPlant(gym, physics: sim.actuatorTruth, board: board, seed: seed)
        } else {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "simulation", message: "no settings for \(sim.world.rawValue)")
        }
        camera = SimulatedCamera(
            robot: plant, width: p.camera.width, height: p.camera.height, clock: clock, latency: p.camera.simLatency,
            dropProbability: p.camera.simDropProbability, seed: seed &+ 7)
        actuators = SimulatedActuators(robot: plant, clock: clock)
        eStop = p.inputs.first { $0.role == .estop }.map { SimulatedInput(name: $0.name) }
    }

    /// Starts the board's Gymnasium host and its first episode. Throws a `ConfigError` naming the section when
    /// the host cannot start, reports an error (a missing package, an unknown id) or the spaces do not fit.
    static func gymnasiumPlant(_ gym: GymnasiumSettings, physics: [ActuatorPhysics], board: LoadedBoard, seed: UInt64) throws
        -> GymnasiumPlant
    {
        let p = board.profile
        func configError(_ message: String) -> ConfigError {
            ConfigError(file: p.path, line: nil, column: nil, field: "simulation.gymnasium", message: message)
        }
        let host: GymHostProcess
        do { host = try GymHostProcess(settings: gym) } catch { throw configError("\(error)") }
        let plant: GymnasiumPlant
        do {
            plant = try GymnasiumPlant(settings: gym, physics: physics, stepPeriod: p.loop.period, link: host, seed: seed)
        } catch { throw configError(error.message) }
        plant.onFailure = { f in
            let line = "simulation.gymnasium (\(gym.env)): \(f); the camera and actuators report it from now on\n"
            _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
        }
        return plant
    }

    /// The simulated devices in `set`, in the shape every rig has.
    func devices(_ set: DeviceSet) -> RigDevices {
        if let g = plant as? GymnasiumPlant { set.add(g) }
        set.add(actuators)
        if let eStop { set.add(eStop) }
        set.add(camera)
        return RigDevices(camera: camera, actuators: actuators, eStop: eStop)
    }

    /// Starts a new episode (a new layout for the random-wall variant and a new house per episode).
    public func newEpisode() { plant.newEpisode() }
}

/// Output lines and the watchdog that follow the governor: motor-enable lines are asserted only while
/// armed without a latched fault, status LEDs while armed; anything else holds their safe levels. The
/// watchdog is fed every tick the loop runs. Lines are written only when their level changes.
public final class BoardSignals {
    public let motorEnable: [DigitalOutput]
    public let statusLEDs: [DigitalOutput]
    /// Armed by `Rig.startWatchdog()` just before the loop runs.
    public internal(set) var watchdog: Watchdog?
    /// Told of every tick: the output supervisor cuts the outputs when ticks stop.
    public let supervisor: SupervisorLink?
    private var enabled: Bool?
    private var lit: Bool?

    public init(motorEnable: [DigitalOutput], statusLEDs: [DigitalOutput], watchdog: Watchdog?, supervisor: SupervisorLink? = nil) {
        self.motorEnable = motorEnable
        self.statusLEDs = statusLEDs
        self.watchdog = watchdog
        self.supervisor = supervisor
    }

    /// After each tick's write. Returns the first line failure (an actuator fault for the governor).
    func update(state: GovernorState, now: Instant) -> DeviceFailure? {
        watchdog?.feed(now: now)
        supervisor?.tick()
        var failure: DeviceFailure?
        let enable = state == .armed
        if enable != enabled {
            for l in motorEnable { if let f = l.set(enable ? true : l.safeLevel) { failure = failure ?? f } }
            enabled = enable
        }
        if enable != lit {
            for l in statusLEDs { if let f = l.set(enable ? true : l.safeLevel) { failure = failure ?? f } }
            lit = enable
        }
        return failure
    }
}
