import RobotCore
import Safety

/// A clock that only moves when told: `sleep(until:)` jumps to the deadline. Runs the same loop
/// faster than real time, deterministically.
public final class ManualClock: RobotClock {
    public private(set) var current: Instant
    public init(start: Instant = Instant(nanoseconds: 1_000_000_000)) { current = start }
    public func now() -> Instant { current }
    public func sleep(until deadline: Instant) { if deadline > current { current = deadline } }
    /// Moves time forward (a stalled tick, a slow computation).
    public func advance(by d: Duration) { current += d }
}

/// The simulator's ground truth about one actuator channel: what the physical servo or ESC does
/// with a pulse. Calibration has to find these numbers; the governor only knows the calibration.
public struct ActuatorPhysics: Sendable, Equatable {
    /// The pulse that holds still, µs.
    public var neutralMicros: Double
    /// Pulse offset from neutral that gives full speed, µs.
    public var fullScaleMicros: Double
    /// Pulses within ± this of neutral do nothing, µs.
    public var deadbandMicros: Double
    /// True when a longer pulse moves the agent towards −x / −y.
    public var reversed: Bool

    public init(neutralMicros: Double = 1500, fullScaleMicros: Double = 500, deadbandMicros: Double = 0, reversed: Bool = false) {
        self.neutralMicros = neutralMicros
        self.fullScaleMicros = fullScaleMicros
        self.deadbandMicros = deadbandMicros
        self.reversed = reversed
    }

    /// The drive in [-1, 1] this pulse produces.
    public func drive(pulseMicros p: Double) -> Double {
        let off = p - neutralMicros
        guard abs(off) > deadbandMicros else { return 0 }
        let mag = min(1, (abs(off) - deadbandMicros) / (fullScaleMicros - deadbandMicros))
        let d = off > 0 ? mag : -mag
        return reversed ? -d : d
    }
}

/// A simulated robot in its world, as the simulated camera and actuators and the episode runners see it:
/// servo-style pulses in, camera frames out, the world stepped once per `stepPeriod` of the clock, and the
/// truth about the episode (for judging and recording, never for the controller).
public protocol SimulatedPlant: AnyObject {
    var channelCount: Int { get }
    var stepPeriod: Duration { get }
    /// World steps taken since the episode began.
    var steps: Int { get }
    /// World steps before an episode ends without success.
    var maxEpisodeSteps: Int { get }
    /// Where the robot is, in the world's units (px for two-rooms, m for the rooms world).
    var position: Vec2 { get }
    /// The room the robot is in (nil: between rooms, in a doorway).
    var room: Int? { get }
    var distanceToGoal: Double { get }
    var reachedGoal: Bool { get }
    /// The episode's facts for recordings' episode markers (layout, start, goal).
    var episodeInfo: [String: Double] { get }
    /// Steps the world for every whole `stepPeriod` elapsed up to `now`.
    func advance(to now: Instant)
    /// Sets the pulses, µs (after stepping up to `now` with the old ones).
    func apply(pulses: ChannelVector, at now: Instant)
    /// Where the robot was at time `t`.
    func position(at t: Instant) -> Vec2
    /// What the camera saw of the world exposed at `t`.
    func render(into frame: Frame, exposedAt t: Instant)
    /// What the camera would see at the episode's goal.
    func renderGoal(into frame: Frame)
    /// Starts the next episode.
    func newEpisode()
    /// The world itself failed (a simulator process that died, hung or broke its protocol): the camera and
    /// the actuators report this from then on. Nil for the built-in worlds.
    var deviceFailure: DeviceFailure? { get }
    /// The world ended the episode by itself (an environment's terminated or truncated).
    var episodeOver: Bool { get }
}

extension SimulatedPlant {
    public var deviceFailure: DeviceFailure? { nil }
    public var episodeOver: Bool { false }
}

/// The simulated point robot in a two-rooms world. The two actuator channels are its x and y
/// velocity, driven by servo-style pulses; the world steps once per `stepPeriod` of the clock.
public final class SimulatedRobot: SimulatedPlant {
    public private(set) var world: TwoRoomsWorld
    public let physics: [ActuatorPhysics]
    public let stepPeriod: Duration
    public private(set) var pulses: ChannelVector
    /// World steps taken since the episode began.
    public private(set) var steps = 0
    /// The steps on the clock and the recent positions, for cameras with latency.
    private var trail: StepTrail<Vec2>

    public init(world: TwoRoomsWorld, physics: [ActuatorPhysics], stepPeriod: Duration) {
        precondition(physics.count == 2, "the two-rooms robot has two channels (vx, vy)")
        self.world = world
        self.physics = physics
        self.stepPeriod = stepPeriod
        var neutral = ChannelVector(count: 2)
        for i in 0..<2 { neutral[i] = physics[i].neutralMicros }
        self.pulses = neutral
        self.trail = StepTrail(period: stepPeriod, state: world.position)
    }

    public var channelCount: Int { 2 }
    public var maxEpisodeSteps: Int { TwoRoomsWorld.maxEpisodeSteps }
    public var position: Vec2 { world.position }
    public var room: Int? { world.layout.side(of: world.position) }
    public var distanceToGoal: Double { world.distanceToGoal }
    public var reachedGoal: Bool { world.reachedGoal }
    public var episodeInfo: [String: Double] {
        [
            "wall_x": world.layout.wallX, "door_y": world.layout.doorY, "start_x": world.position.x, "start_y": world.position.y,
            "goal_x": world.goal.x, "goal_y": world.goal.y,
        ]
    }

    public func render(into frame: Frame, exposedAt t: Instant) { world.render(into: frame, agent: position(at: t)) }
    public func renderGoal(into frame: Frame) { world.render(into: frame, agent: world.goal) }

    /// Episodes of `variant` drawn from `rng` for `newEpisode()`; nil: `newEpisode()` keeps the world.
    public var episodes: (variant: TwoRoomsVariant, rng: SeededGenerator)?

    public func newEpisode() {
        guard var e = episodes else { return reset(world: world) }
        reset(world: TwoRoomsWorld.episode(e.variant, rng: &e.rng))
        episodes = e
    }

    /// Starts a new episode in `world` (pulses back to neutral, step count 0).
    public func reset(world: TwoRoomsWorld) {
        self.world = world
        steps = 0
        for i in 0..<2 { pulses[i] = physics[i].neutralMicros }
        trail.reset(to: world.position)
    }

    /// The velocity (px per step) the current pulses produce.
    public var velocity: Vec2 {
        Vec2(physics[0].drive(pulseMicros: pulses[0]), physics[1].drive(pulseMicros: pulses[1])) * TwoRoomsWorld.maxStep
    }

    /// Steps the world for every whole `stepPeriod` elapsed up to `now`.
    public func advance(to now: Instant) {
        steps += trail.advance(to: now, current: world.position) {
            world.step(velocity)
            return world.position
        }
    }

    /// Sets the pulses (after stepping up to `now` with the old ones).
    public func apply(pulses new: ChannelVector, at now: Instant) {
        advance(to: now)
        for i in 0..<2 { pulses[i] = new[i] }
    }

    /// Where the agent was at time `t` (the newest recorded step at or before t).
    public func position(at t: Instant) -> Vec2 { trail.state(at: t, current: world.position) }

    /// Places the agent (tests, goal capture).
    public func teleport(to p: Vec2) {
        world.teleport(to: p)
        trail.overwrite(with: p)
    }
}

/// A simulated camera on the robot's world (looking down on two-rooms, forward in the rooms world): gray
/// frames, monotonic timestamps, sequence numbers, optional latency, dropped frames and injected failures.
public final class SimulatedCamera: FrameSource {
    public let width: Int
    public let height: Int
    public let robot: SimulatedPlant
    public let clock: RobotClock
    /// The image shows the world this long ago, and is stamped so.
    public var latency: Duration
    /// Chance that a capture brings no new frame.
    public var dropProbability: Double
    /// While set, captures fail with this.
    public var injectedFailure: DeviceFailure?
    private var rng: SeededGenerator
    private var sequence: UInt64 = 0

    public init(
        robot: SimulatedPlant, width: Int = TwoRoomsLayout.size, height: Int = TwoRoomsLayout.size, clock: RobotClock,
        latency: Duration = .zero, dropProbability: Double = 0, seed: UInt64 = 1
    ) {
        self.robot = robot
        self.width = width
        self.height = height
        self.clock = clock
        self.latency = latency
        self.dropProbability = dropProbability
        self.rng = SeededGenerator(seed: seed)
    }

    public func capture(into frame: Frame) -> CaptureResult {
        if let f = injectedFailure { return .failed(f) }
        let now = clock.now()
        robot.advance(to: now)
        if let f = robot.deviceFailure { return .failed(f) }
        if dropProbability > 0 && rng.unit() < dropProbability { return .noNewFrame }
        let exposed = now - latency
        robot.render(into: frame, exposedAt: exposed)
        sequence += 1
        frame.timestamp = exposed
        frame.sequence = sequence
        frame.isValid = true
        return .newFrame
    }
}

/// The robot's actuator channels, fed with the governor's pulse widths.
public final class SimulatedActuators: ActuatorOutput {
    public let robot: SimulatedPlant
    public let clock: RobotClock
    public var channelCount: Int { robot.channelCount }
    /// The next this-many writes fail (an I2C error on a real board).
    public var failingWrites = 0
    public private(set) var writes = 0

    public init(robot: SimulatedPlant, clock: RobotClock) {
        self.robot = robot
        self.clock = clock
    }

    public func write(_ command: SafeCommand) -> DeviceFailure? {
        if failingWrites > 0 {
            failingWrites -= 1
            return .injected
        }
        writes += 1
        robot.apply(pulses: command.pulseMicros, at: clock.now())
        return robot.deviceFailure
    }
}

/// A simulated push-button input (the e-stop): `pressed` is the logical level.
public final class SimulatedInput: DigitalInput {
    public let name: String
    public var pressed = false
    /// While set, reads fail with this.
    public var injectedFailure: DeviceFailure?

    public init(name: String) { self.name = name }

    public func read() -> InputReading {
        if let f = injectedFailure { return .failed(f) }
        return .level(pressed)
    }
}

/// A plant's world steps on the clock and the states it passed through: `advance` steps once per whole `period`
/// elapsed (the first call only starts the count), and a ring of the last 128 states answers where the robot
/// was at an earlier time (cameras with latency). Allocation-free after init.
struct StepTrail<State> {
    let period: Duration
    private var last: Instant?
    private var times: [Instant]
    private var states: [State]
    private var head = 0

    init(period: Duration, state: State, capacity: Int = 128) {
        self.period = period
        times = Array(repeating: .zero, count: capacity)
        states = Array(repeating: state, count: capacity)
    }

    /// Forgets the steps: the count starts again at the next `advance`, and every kept state is `state`.
    mutating func reset(to state: State) {
        last = nil
        for k in times.indices {
            times[k] = .zero
            states[k] = state
        }
    }

    /// Every kept state becomes `state`, their times kept (a robot placed by hand).
    mutating func overwrite(with state: State) { for k in states.indices { states[k] = state } }

    /// Calls `step` (one world step, returning the new state) for every whole period elapsed up to `now`, at
    /// most `maxSteps` of them (the periods past that are skipped: a world that cannot keep up runs slower);
    /// the first call keeps `current` at `now`. Returns the steps taken.
    @discardableResult
    mutating func advance(to now: Instant, current: State, maxSteps: Int = .max, step: () -> State) -> Int {
        guard let l = last else {
            last = now
            record(now, current)
            return 0
        }
        var t = l, taken = 0
        while now - t >= period {
            t += period
            if taken == maxSteps { continue }
            record(t, step())
            taken += 1
        }
        last = t
        return taken
    }

    /// The newest kept state at or before `t` (`current` when none is).
    func state(at t: Instant, current: State) -> State {
        var best = current
        var bestTime = Instant(nanoseconds: .min)
        for k in 0..<times.count where times[k] <= t && times[k] > bestTime {
            best = states[k]
            bestTime = times[k]
        }
        return best
    }

    private mutating func record(_ t: Instant, _ s: State) {
        times[head] = t
        states[head] = s
        head = (head + 1) % times.count
    }
}
