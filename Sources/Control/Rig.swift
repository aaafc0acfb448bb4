import Configuration
import LinuxHardware
import RobotCore
import Safety
import Simulation

/// The devices a board profile names, opened and wired: camera, actuators, e-stop, output lines and
/// watchdog; for a simulated board, the simulated robot behind them.
public final class Rig {
    public let board: LoadedBoard
    public let clock: RobotClock
    public let camera: FrameSource
    public let actuators: ActuatorOutput
    public let eStop: DigitalInput?
    /// Output lines and the watchdog, which follow the governor's state each tick.
    public let signals: BoardSignals
    /// The simulated robot, on `sim` boards.
    public let robot: SimulatedRobot?
    public let variant: TwoRoomsVariant?
    /// The PWM board, on real boards.
    public let pwm: PCA9685?
    /// The output supervisor process, on real boards: it holds the OE line and cuts the outputs if this
    /// process dies or its loop stops ticking.
    public let supervisor: SupervisorLink?
    /// What the real camera negotiated (printed at start).
    public var cameraFormat: NegotiatedFormat? { (camera as? V4L2Camera)?.format }
    private var episodeRNG: SeededGenerator

    /// Opens the board's devices. Throws a `ConfigError` (the profile asks for something this build
    /// cannot drive) or the driver's error naming the device; whatever was opened is put back in its
    /// safe state and released then, and no actuator has moved. On a real board the output supervisor
    /// starts first (at SCHED_FIFO `supervisorPriority`, 0 for the normal scheduler).
    public init(board: LoadedBoard, clock: RobotClock, seed: UInt64? = nil, supervisorPriority: Int = 0) throws {
        self.board = board
        self.clock = clock
        let p = board.profile
        guard let sim = p.simulation else {
            robot = nil
            variant = nil
            episodeRNG = SeededGenerator(seed: seed ?? 1)
            var opened: [GPIOOutputLine] = []
            var pwmBoard: PCA9685?
            let devices = BoardDevices(board: board)
            let link = try devices.startSupervisor(priority: supervisorPriority)
            do {
                // Outputs first, at their safe levels, so nothing else can move before they hold.
                var lines: [(OutputLine, GPIOOutputLine)] = []
                for o in p.outputs {
                    let l = try devices.output(o)
                    opened.append(l)
                    lines.append((o, l))
                }
                eStop = try devices.eStop()
                let (chipDriver, oe) = try devices.pca9685(clock: clock, supervisor: link)
                if let oe { opened.append(oe) }
                try chipDriver.initializeOrThrow()
                pwmBoard = chipDriver
                guard let v = p.camera.v4l2 else {
                    throw ConfigError(file: p.path, line: nil, column: nil, field: "camera", message: "a real board needs a v4l2 camera")
                }
                let crop = (board.calibration.cameraCrop ?? v.crop).map {
                    GrayResampler.Rect(x: $0[0], y: $0[1], width: $0[2], height: $0[3])
                }
                camera = try V4L2Camera(
                    request: CameraRequest(
                        device: v.device, width: v.captureWidth, height: v.captureHeight,
                        framesPerSecond: v.framesPerSecond, format: v.format, crop: crop,
                        buffers: v.buffers, pollTimeoutMilliseconds: v.pollTimeoutMilliseconds),
                    outputWidth: p.camera.width, outputHeight: p.camera.height, clock: clock)
                actuators = SupervisedActuators(chip: chipDriver, link: link)
                pwm = chipDriver
                supervisor = link
                signals = BoardSignals(
                    motorEnable: lines.filter { $0.0.role == .motorEnable }.map(\.1),
                    statusLEDs: lines.filter { $0.0.role == .statusLED }.map(\.1),
                    watchdog: nil, supervisor: link)
            } catch {
                pwmBoard?.stop()
                for l in opened { l.release() }
                link.close()
                throw error
            }
            return
        }
        let variant = sim.world
        if p.actuators.count != 2 {
            throw ConfigError(
                file: p.path, line: nil, column: nil, field: "actuators",
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
        camera = SimulatedCamera(
            robot: robot, clock: clock, latency: p.camera.simLatency,
            dropProbability: p.camera.simDropProbability, seed: (seed ?? sim.seed) &+ 7)
        actuators = SimulatedActuators(robot: robot, clock: clock)
        eStop = p.inputs.first { $0.role == .estop }.map { SimulatedInput(name: $0.name) }
        signals = BoardSignals(motorEnable: [], statusLEDs: [], watchdog: nil)
        pwm = nil
        supervisor = nil
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
    public func newEpisode() {
        guard let robot, let variant else { return }
        robot.reset(world: TwoRoomsWorld.episode(variant, rng: &episodeRNG))
    }

    /// Opens and arms the board's watchdog (its `watchdog:` section), if it has one and it is not running yet.
    /// Call right before the loop starts ticking: from here on the loop must feed it within the timeout.
    public func startWatchdog() throws {
        guard signals.watchdog == nil, let w = board.profile.watchdog else { return }
        signals.watchdog = try Watchdog(path: w.device, timeoutSeconds: w.timeoutSeconds)
    }

    /// Puts every real output in its safe state and lets go of the devices: PWM full-OFF with OE
    /// released, output lines to their safe levels, watchdog disarmed by the magic close, camera closed,
    /// the output supervisor told to finish (it writes full-OFF once more and exits).
    /// Call after `ControlLoop.stop()`.
    public func shutdown() {
        pwm?.stop()
        signals.release()
        (camera as? V4L2Camera)?.shutdown()
        supervisor?.close()
    }
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

    /// Safe levels, the GPIO lines released, the watchdog disarmed.
    func release() {
        for l in motorEnable + statusLEDs {
            _ = l.set(l.safeLevel)
            (l as? GPIOOutputLine)?.release()
        }
        watchdog?.disarm()
    }
}
