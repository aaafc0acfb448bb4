import Glibc
import RobotCore

/// A route through the rooms world's free space for a disc of `radius`: Dijkstra on the 0.1 m grid
/// (8-connected), cells closer than `radius` + 6 cm to a wall refused and those closer than `radius` +
/// 25 cm made three times as dear, so routes keep to the middle of doorways and passages.
public struct GridRoute: Sendable {
    /// Cell centres from the start's cell to the goal's, m.
    public var points: [Vec2]

    public init?(layout: RoomsLayout, from start: Vec2, to goal: Vec2, radius: Double) {
        let n = layout.columns * layout.rows, w = layout.columns, s = RoomsLayout.cellSize
        func centre(_ c: Int) -> Vec2 { Vec2((Double(c % w) + 0.5) * s, (Double(c / w) + 0.5) * s) }
        var weight = [Double](repeating: .infinity, count: n)
        for c in 0..<n where layout.cells[c] != RoomsLayout.solid {
            let p = centre(c)
            if layout.discIsFree(p, radius: radius + 0.06) { weight[c] = layout.discIsFree(p, radius: radius + 0.25) ? 1 : 3 }
        }
        guard let s0 = layout.cellIndex(x: start.x, y: start.y), let g0 = layout.cellIndex(x: goal.x, y: goal.y) else { return nil }
        // The start and goal may sit closer to a wall than the margin: let them be entered anyway.
        if weight[s0] == .infinity { weight[s0] = 3 }
        if weight[g0] == .infinity { weight[g0] = 3 }
        // Dijkstra from the goal, so the route is read off downhill from the start.
        var dist = [Double](repeating: .infinity, count: n)
        // Every cell can be pushed once per neighbour, and the goal once.
        var heap = MinHeap<Double>(capacity: 8 * n + 1, filler: 0)
        heap.push(0, Int32(g0))
        dist[g0] = 0
        let steps: [(Int, Int, Double)] = [
            (1, 0, 1), (-1, 0, 1), (0, 1, 1), (0, -1, 1), (1, 1, 2.0.squareRoot()), (1, -1, 2.0.squareRoot()), (-1, 1, 2.0.squareRoot()),
            (-1, -1, 2.0.squareRoot()),
        ]
        while let (d, top) = heap.popMin() {
            let c = Int(top)
            if d > dist[c] { continue }
            if c == s0 { break }
            let (i, j) = (c % w, c / w)
            for (di, dj, len) in steps {
                let (ni, nj) = (i + di, j + dj)
                guard ni >= 0, nj >= 0, ni < w, nj < layout.rows else { continue }
                let m = nj * w + ni
                // No corner cutting: a diagonal step needs both side cells passable.
                if di != 0 && dj != 0 && (weight[j * w + ni] == .infinity || weight[nj * w + i] == .infinity) { continue }
                let nd = d + len * (weight[m] + weight[c]) / 2
                guard nd < dist[m] else { continue }
                dist[m] = nd
                heap.push(nd, Int32(m))
            }
        }
        guard dist[s0] < .infinity else { return nil }
        var path = [start]
        var c = s0
        while c != g0 {
            let (i, j) = (c % w, c / w)
            var best = c
            for (di, dj, _) in steps {
                let (ni, nj) = (i + di, j + dj)
                guard ni >= 0, nj >= 0, ni < w, nj < layout.rows else { continue }
                let m = nj * w + ni
                if dist[m] < dist[best] { best = m }
            }
            if best == c { return nil }
            c = best
            path.append(centre(c))
        }
        path.append(goal)
        points = path
    }
}

/// A driver for the simulated ground robot that knows the map and where the robot is (the simulator's
/// truth, as a motion-capture system would): it follows a grid route by pure pursuit, backs out of
/// contacts and turns a car around with a reversing leg. For recording drives through the house (`record
/// --driver route`: random places one after another, with smooth noise on its efforts) and as the
/// map-knowing reference in evaluations. It is a test and data driver, not a controller.
public final class RoomsRouteDriver: ScriptedDriver {
    public let origin = CommandOrigin.script
    public let robot: SimulatedGroundRobot
    /// Where it is driving to.
    public private(set) var target: Pose?
    public private(set) var route: [Vec2] = []
    /// On arrival, drive on to another random free place (recording), instead of stopping.
    public var wander: Bool
    /// Smooth noise on the efforts: per-step persistence and innovation (0: none).
    public var noisePersistence = 0.9
    public var noiseScale = 0.0
    /// Places reached so far.
    public private(set) var arrivals = 0
    private var next = 0
    private var noise = (0.0, 0.0)
    private var rng: SeededGenerator
    /// Steps left of a reversing leg, and its steering.
    private var reversing = 0
    private var reverseSteer = 0.0
    private var stepsOnTarget = 0
    private var progressMark = Vec2(0, 0)
    /// How far behind the target pose the approach leg starts, m.
    private var approachDistance = 0.5
    /// Within this distance of the target it counts as reached (without `wander`: when the robot's world
    /// says the goal is reached).
    public var arrivalDistance = 0.25

    public init(robot: SimulatedGroundRobot, wander: Bool, seed: UInt64) {
        self.robot = robot
        self.wander = wander
        rng = SeededGenerator(seed: seed)
    }

    /// True once a target was reached without `wander`.
    public private(set) var arrived = false

    /// Drives to `pose` next, approaching along its heading from 0.5 m behind it where that is free.
    public func drive(to pose: Pose) { drive(to: pose, keepingApproach: false) }

    private func drive(to pose: Pose, keepingApproach: Bool) {
        target = pose
        arrived = false
        stepsOnTarget = 0
        if !keepingApproach { approachDistance = 0.5 }
        let r = robot.settings.vehicle.radius
        let behind = Vec2(pose.x - approachDistance * cos(pose.heading), pose.y - approachDistance * sin(pose.heading))
        let approach = robot.layout.discIsFree(behind, radius: r + 0.05) ? behind : pose.position
        if var legs = GridRoute(layout: robot.layout, from: robot.pose.position, to: approach, radius: r)?.points {
            if approach != pose.position { legs.append(pose.position) }
            route = legs
        } else {
            route = [robot.pose.position, pose.position]
        }
        next = 0
    }

    /// Starts over for the robot's current episode: toward its goal, or (wandering) a random place.
    public func reset() {
        reversing = 0
        noise = (0, 0)
        arrivals = 0
        if wander { pickPlace() } else { drive(to: robot.goal) }
    }

    private func pickPlace() {
        let k = Int(rng.next() % UInt64(robot.layout.rooms.count))
        drive(to: robot.layout.freePose(inRoom: k, radius: robot.settings.vehicle.radius, rng: &rng))
    }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        command.issuedAt = now
        command.origin = origin
        for i in 0..<command.efforts.count { command.efforts[i] = 0 }
        if target == nil { reset() }
        guard let target, !arrived else { return true }
        stepsOnTarget += 1
        let pose = robot.pose
        let toGoal = (target.position - pose.position).length
        if wander ? toGoal < arrivalDistance : robot.reachedGoal {
            arrivals += 1
            if wander { pickPlace() } else { arrived = true }
            return true
        }
        if wander && stepsOnTarget > 600 { pickPlace() }
        // No headway for 20 steps (wedged against a box at an angle): a reversing leg.
        if stepsOnTarget % 20 == 0 {
            if (pose.position - progressMark).length < 0.03 && reversing == 0 { reversing = 15; reverseSteer = rng.unit() < 0.5 ? -1 : 1 }
            progressMark = pose.position
        }
        // At the place with the wrong heading: go round again, approaching from further back.
        if !wander && stepsOnTarget > 10 && toGoal < 0.3 && abs(pose.headingError(to: target)) > robot.settings.goalHeading,
            case .car = robot.settings.vehicle.drive
        {
            approachDistance = approachDistance >= 1.2 ? 0.5 : approachDistance + 0.35
            drive(to: target, keepingApproach: true)
        }
        // Pure pursuit: the first route point at least the look-ahead away, past the last one passed.
        let lookAhead = 0.45
        while next < route.count - 1 && (route[next] - pose.position).length < lookAhead { next += 1 }
        let aim = route[next]
        let d = aim - pose.position
        let alpha = wrappedAngle(atan2(d.y, d.x) - pose.heading)
        let headingError = pose.headingError(to: target)
        var a = 0.0, b = 0.0
        switch robot.settings.vehicle.drive {
        case .car(let car):
            if robot.inContact && reversing == 0 {
                reversing = 12
                reverseSteer = alpha > 0 ? -1 : 1
            } else if reversing == 0 && abs(alpha) > 1.9 {
                // The aim is behind: back up turning the other way, then go on.
                reversing = 15
                reverseSteer = alpha > 0 ? -1 : 1
            }
            if reversing > 0 {
                reversing -= 1
                (a, b) = (reverseSteer, -0.6)
            } else {
                let ld = max(d.length, 0.2)
                a = atan(2 * car.wheelbase * sin(alpha) / ld) / car.maxSteer
                b = min(0.6, 0.25 + 0.6 * toGoal)
            }
        case .differential(let base):
            var v = 0.0, w = 0.0
            if robot.inContact && reversing == 0 { reversing = 6 }
            if reversing > 0 {
                reversing -= 1
                v = -0.3
            } else if toGoal < 0.2 && !wander {
                // At the place: turn to the goal's heading.
                w = max(-1.5, min(1.5, 3 * headingError))
            } else if abs(alpha) > 0.6 {
                w = alpha > 0 ? 2 : -2
            } else {
                v = min(0.45, 0.12 + 0.5 * toGoal) * cos(alpha)
                w = 3 * alpha
            }
            a = (v - w * base.track / 2) / base.maxWheelSpeed
            b = (v + w * base.track / 2) / base.maxWheelSpeed
            let m = max(abs(a), abs(b), 1)
            (a, b) = (a / m, b / m)
        }
        if noiseScale > 0 {
            noise.0 = noise.0 * noisePersistence + noiseScale * rng.normal()
            noise.1 = noise.1 * noisePersistence + noiseScale * rng.normal()
            a += noise.0
            b += noise.1
        }
        command.efforts[0] = max(-1, min(1, a))
        command.efforts[1] = max(-1, min(1, b))
        return true
    }
}
