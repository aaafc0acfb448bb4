import Glibc
import RobotCore

/// A car-like robot: the kinematic bicycle model about the rear axle, a steering servo that turns at a
/// limited rate, and an ESC whose speed follows the throttle with a first-order lag (reverse slower).
public struct BicycleCar: Sendable, Equatable {
    /// Axle to axle, m.
    public var wheelbase = 0.26
    /// Steering angle at full steering effort, radians (positive: left).
    public var maxSteer = 28 * Double.pi / 180
    /// How fast the steering servo turns, radians per second.
    public var steerRate = 5.0
    /// Speed at full forward throttle, m/s.
    public var maxSpeed = 1.0
    /// Speed at full reverse throttle, m/s.
    public var reverseSpeed = 0.5
    /// Time constant of the speed's response to the throttle, s.
    public var speedTimeConstant = 0.15
    public init() {}
}

/// A differential-drive base: two wheels `track` apart, each wheel's speed following its channel's effort
/// with a first-order lag.
public struct DifferentialDrive: Sendable, Equatable {
    /// Wheel to wheel, m.
    public var track = 0.28
    /// A wheel's speed at full effort, m/s.
    public var maxWheelSpeed = 0.6
    /// Time constant of a wheel's response to its effort, s.
    public var timeConstant = 0.1
    public init() {}
}

/// What moves a ground robot, and the footprint that hits walls.
public struct GroundVehicle: Sendable, Equatable {
    public enum Drive: Sendable, Equatable {
        /// Channels: steering, throttle.
        case car(BicycleCar)
        /// Channels: left wheel, right wheel.
        case differential(DifferentialDrive)
    }
    public var drive: Drive
    /// The robot's footprint is a disc of this radius about its reference point, m.
    public var radius: Double

    public init(drive: Drive, radius: Double) {
        self.drive = drive
        self.radius = radius
    }

    /// The actuator names the drive's channels have, in channel order.
    public var channelNames: [String] {
        switch drive {
        case .car: ["steering", "throttle"]
        case .differential: ["left", "right"]
        }
    }
}

/// How the rooms world's episodes are made and judged.
public struct RoomsSettings: Sendable, Equatable {
    public var vehicle: GroundVehicle
    /// The house's layout seed; nil: a new house every episode.
    public var houseSeed: UInt64?
    public var roomColumns = 2
    public var roomRows = 2
    /// Camera: horizontal field of view, degrees; lens height, m.
    public var fieldOfViewDegrees = 90.0
    public var cameraHeight = 0.15
    /// Gaussian pixel noise, gray levels.
    public var noise = 2.0
    /// Share of a step the exposure lasts (0: a still image).
    public var motionBlur = 0.5
    /// The episode's light level is drawn from this range (1: the house's shades).
    public var lightRange: ClosedRange<Double> = 0.8...1.15
    /// Success: within this distance of the goal pose, m …
    public var goalDistance = 0.3
    /// … and this heading error, radians.
    public var goalHeading = 30 * Double.pi / 180
    /// World steps before an episode ends without success.
    public var maxSteps = 600

    public init(vehicle: GroundVehicle) { self.vehicle = vehicle }
}

/// The simulated ground robot in the rooms world: two actuator channels (a car's steering and throttle,
/// or a differential base's wheels) driven by servo-style pulses, a forward camera rendered by ray casting,
/// and swept collisions: the disc moves in sub-steps shorter than a cell, and a sub-step into a wall stops
/// the robot there (no tunnelling). A contact that begins is counted as a collision.
public final class SimulatedGroundRobot: SimulatedPlant {
    public let settings: RoomsSettings
    public let physics: [ActuatorPhysics]
    public let stepPeriod: Duration
    public let caster: RayCaster
    public private(set) var layout: RoomsLayout
    public private(set) var pose: Pose
    public private(set) var goal: Pose
    /// The episode's light level.
    public private(set) var light: Float = 1
    /// Rooms of the start and of the goal.
    public private(set) var startRoom = 0, goalRoom = 0
    public private(set) var pulses: ChannelVector
    public private(set) var steps = 0
    /// Contacts with a wall or box begun this episode.
    public private(set) var collisions = 0
    /// Within 5 mm of a wall or box.
    public private(set) var inContact = false
    /// Speed along the heading (car), m/s; steering angle, radians; wheel speeds (differential), m/s.
    public private(set) var speed = 0.0, steer = 0.0, leftSpeed = 0.0, rightSpeed = 0.0
    /// The steps on the clock and the recent poses, for cameras with latency and motion blur.
    private var trail: StepTrail<Pose>
    private var noiseRNG: SeededGenerator
    private var episodeRNG: SeededGenerator

    /// The robot at its first episode, drawn from `seed`.
    public init(
        settings: RoomsSettings, physics: [ActuatorPhysics], stepPeriod: Duration, cameraWidth: Int, cameraHeight: Int, seed: UInt64
    ) {
        precondition(physics.count == 2, "a ground robot has two channels")
        self.settings = settings
        self.physics = physics
        self.stepPeriod = stepPeriod
        caster = RayCaster(
            width: cameraWidth, height: cameraHeight, fieldOfViewDegrees: settings.fieldOfViewDegrees, cameraHeight: settings.cameraHeight)
        episodeRNG = SeededGenerator(seed: seed)
        noiseRNG = SeededGenerator(seed: seed &+ 0x5EED)
        var houseRNG = SeededGenerator(seed: settings.houseSeed ?? seed)
        layout = RoomsLayout.make(roomColumns: settings.roomColumns, roomRows: settings.roomRows, rng: &houseRNG)
        pose = Pose(x: 0, y: 0, heading: 0)
        goal = pose
        pulses = ChannelVector(count: 2)
        trail = StepTrail(period: stepPeriod, state: pose)
        newEpisode()
    }

    public var channelCount: Int { 2 }
    public var maxEpisodeSteps: Int { settings.maxSteps }
    public var position: Vec2 { pose.position }
    public var room: Int? { layout.room(at: pose.position) }
    public var distanceToGoal: Double { (goal.position - pose.position).length }
    public var reachedGoal: Bool {
        distanceToGoal <= settings.goalDistance && abs(pose.headingError(to: goal)) <= settings.goalHeading
    }
    public var episodeInfo: [String: Double] {
        [
            "start_x": pose.x, "start_y": pose.y, "start_heading": pose.heading, "goal_x": goal.x, "goal_y": goal.y,
            "goal_heading": goal.heading, "start_room": Double(startRoom), "goal_room": Double(goalRoom), "light": Double(light),
        ]
    }

    /// A new episode: a new house when the settings ask for one, start and goal poses in different rooms
    /// (when there are two), the light level; pulses back to neutral, step and collision counts 0.
    public func newEpisode() {
        if settings.houseSeed == nil {
            layout = RoomsLayout.make(roomColumns: settings.roomColumns, roomRows: settings.roomRows, rng: &episodeRNG)
        }
        let n = layout.rooms.count
        startRoom = Int(episodeRNG.next() % UInt64(n))
        goalRoom = n < 2 ? startRoom : (startRoom + 1 + Int(episodeRNG.next() % UInt64(n - 1))) % n
        let r = settings.vehicle.radius
        pose = layout.freePose(inRoom: startRoom, radius: r, rng: &episodeRNG)
        goal = layout.freePose(inRoom: goalRoom, radius: r, rng: &episodeRNG)
        light = Float(episodeRNG.uniform(settings.lightRange.lowerBound, settings.lightRange.upperBound))
        reset(to: pose)
    }

    /// Places the robot (tests, goal capture); the pose must be free. Motion state and counts start over.
    public func teleport(to p: Pose) {
        precondition(layout.discIsFree(p.position, radius: settings.vehicle.radius), "(\(p.x), \(p.y)) touches a wall")
        reset(to: p)
    }

    /// Sets the goal pose (tests); it must be free.
    public func setGoal(_ p: Pose) {
        precondition(layout.discIsFree(p.position, radius: settings.vehicle.radius), "(\(p.x), \(p.y)) touches a wall")
        goal = p
    }

    private func reset(to p: Pose) {
        pose = p
        steps = 0
        collisions = 0
        inContact = false
        (speed, steer, leftSpeed, rightSpeed) = (0, 0, 0, 0)
        for i in 0..<2 { pulses[i] = physics[i].neutralMicros }
        trail.reset(to: p)
    }

    public func advance(to now: Instant) {
        steps += trail.advance(to: now, current: pose) {
            step()
            return pose
        }
    }

    public func apply(pulses new: ChannelVector, at now: Instant) {
        advance(to: now)
        for i in 0..<2 { pulses[i] = new[i] }
    }

    /// One world step of `stepPeriod`: the actuators respond, then the robot moves along the arc.
    private func step() {
        let dt = stepPeriod.inSeconds
        let d0 = physics[0].drive(pulseMicros: pulses[0]), d1 = physics[1].drive(pulseMicros: pulses[1])
        var v = 0.0, w = 0.0
        switch settings.vehicle.drive {
        case .car(let car):
            let target = d0 * car.maxSteer
            let turn = car.steerRate * dt
            steer += min(turn, max(-turn, target - steer))
            let wanted = d1 >= 0 ? d1 * car.maxSpeed : d1 * car.reverseSpeed
            speed += (wanted - speed) * (1 - exp(-dt / car.speedTimeConstant))
            v = speed
            w = speed * tan(steer) / car.wheelbase
        case .differential(let base):
            let k = 1 - exp(-dt / base.timeConstant)
            leftSpeed += (d0 * base.maxWheelSpeed - leftSpeed) * k
            rightSpeed += (d1 * base.maxWheelSpeed - rightSpeed) * k
            v = (leftSpeed + rightSpeed) / 2
            w = (rightSpeed - leftSpeed) / base.track
        }
        // Sub-steps of at most 2 cm (a fifth of a cell) and 0.05 rad; a sub-step into a wall is cut to the
        // free share of it (bisection, to 1/256), so the disc ends touching the wall.
        let count = max(1, Int((max(abs(v) * dt / 0.02, abs(w) * dt / 0.05)).rounded(.up)))
        let h = dt / Double(count)
        let radius = settings.vehicle.radius
        let wasTouching = inContact
        var blocked = false
        for _ in 0..<count {
            let next = moved(by: h, v, w)
            if layout.discIsFree(next.position, radius: radius) {
                pose = next
                continue
            }
            var (lo, hi) = (0.0, 1.0)
            for _ in 0..<8 {
                let mid = (lo + hi) / 2
                if layout.discIsFree(moved(by: h * mid, v, w).position, radius: radius) { lo = mid } else { hi = mid }
            }
            if lo > 0 { pose = moved(by: h * lo, v, w) }
            blocked = true
            break
        }
        if blocked {
            // The robot stops against the wall: no speed left, the wheels stall.
            (speed, leftSpeed, rightSpeed) = (0, 0, 0)
            if !wasTouching { collisions += 1 }
        }
        // In contact while within 5 mm of a wall or box: pushing on is the same collision.
        inContact = !layout.discIsFree(pose.position, radius: radius + 0.005)
    }

    /// The pose after `h` seconds at speed `v` and turn rate `w`, along the arc (midpoint heading).
    @inline(__always)
    private func moved(by h: Double, _ v: Double, _ w: Double) -> Pose {
        let mid = pose.heading + w * h / 2
        return Pose(x: pose.x + v * h * cos(mid), y: pose.y + v * h * sin(mid), heading: wrappedAngle(pose.heading + w * h))
    }

    /// Where the robot was at time `t` (the newest recorded step at or before t).
    public func pose(at t: Instant) -> Pose { trail.state(at: t, current: pose) }

    public func position(at t: Instant) -> Vec2 { pose(at: t).position }

    public func render(into frame: Frame, exposedAt t: Instant) {
        let end = pose(at: t)
        caster.clear()
        let blur = settings.motionBlur
        if blur > 0 {
            // Two sub-exposures: at the end of the exposure and `blur` of a step before it.
            let before = pose(at: t - stepPeriod)
            let a = 1 - blur
            let start = Pose(
                x: before.x + (end.x - before.x) * a, y: before.y + (end.y - before.y) * a,
                heading: before.heading + wrappedAngle(end.heading - before.heading) * a)
            caster.accumulate(layout, pose: start, light: light, weight: 0.5)
            caster.accumulate(layout, pose: end, light: light, weight: 0.5)
        } else {
            caster.accumulate(layout, pose: end, light: light, weight: 1)
        }
        caster.finish(into: frame, noise: settings.noise, rng: &noiseRNG)
    }

    public func renderGoal(into frame: Frame) {
        caster.clear()
        caster.accumulate(layout, pose: goal, light: light, weight: 1)
        caster.finish(into: frame, noise: settings.noise, rng: &noiseRNG)
    }
}

/// Which simulated world a `sim` board's robot lives in (`simulation.world`).
public enum SimulatedWorldName: String, Sendable, CaseIterable {
    /// Two-rooms, the door fixed in the middle.
    case twoRooms = "two-rooms"
    /// Two-rooms, wall and door moved per episode.
    case twoRoomsRandom = "two-rooms-random"
    /// A car with a forward camera in a house of rooms.
    case carRooms = "car-rooms"
    /// A differential-drive base with a forward camera in a house of rooms.
    case diffdriveRooms = "diffdrive-rooms"
    /// A Gymnasium environment in a host process (`simulation.gymnasium`, docs/gym-bridge.md).
    case gymnasium

    public init(_ variant: TwoRoomsVariant) { self = variant == .fixed ? .twoRooms : .twoRoomsRandom }

    /// The two-rooms variant, for the two-rooms worlds.
    public var twoRoomsVariant: TwoRoomsVariant? {
        switch self {
        case .twoRooms: .fixed
        case .twoRoomsRandom: .random
        case .carRooms, .diffdriveRooms, .gymnasium: nil
        }
    }

    /// The built-in house of rooms (car-rooms, diffdrive-rooms).
    public var isRooms: Bool { self == .carRooms || self == .diffdriveRooms }
}
