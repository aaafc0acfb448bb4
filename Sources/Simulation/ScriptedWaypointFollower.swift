import RobotCore

/// A driver of a simulated robot that is told the truth of its episode (where the door, the goal, or the
/// whole map are): `run --policy follower`, recordings, references. Not a controller.
public protocol ScriptedDriver: CommandSource {
    /// True once it has reached the episode's goal.
    var arrived: Bool { get }
}

/// A new scripted driver for the plant's current episode: the waypoint follower in two-rooms, the route
/// driver (to the episode's goal pose) in the rooms world.
public func scriptedDriver(for plant: SimulatedPlant, seed: UInt64 = 1) -> ScriptedDriver? {
    if let r = plant as? SimulatedRobot { return ScriptedWaypointFollower(world: r.world) }
    if let g = plant as? SimulatedGroundRobot {
        let d = RoomsRouteDriver(robot: g, wander: false, seed: seed)
        d.reset()
        return d
    }
    return nil
}

/// Finds the agent's dot in a two-rooms frame: the intensity-weighted centroid of the pixels
/// brighter than any wall. Returns world coordinates (pixel centres at i + 0.5), or nil.
public func locateDot(in frame: Frame) -> Vec2? {
    let threshold = Int((255 * (TwoRoomsWorld.wallLevel + 1) / 2).rounded())
    // The sums live inside the closure: captured `var`s get heap boxes in debug builds.
    let (sx, sy, sw) = frame.pixels.withUnsafeBufferPointer { px -> (Double, Double, Double) in
        var sx = 0.0, sy = 0.0, sw = 0.0
        for j in 0..<frame.height {
            for i in 0..<frame.width {
                let v = Int(px[j * frame.width + i]) - threshold
                if v > 0 {
                    let w = Double(v)
                    sx += w * (Double(i) + 0.5)
                    sy += w * (Double(j) + 0.5)
                    sw += w
                }
            }
        }
        return (sx, sy, sw)
    }
    return sw > 0 ? Vec2(sx / sw, sy / sw) : nil
}

/// A scripted command source for the simulated two-rooms robot, until the latent planner lands:
/// it follows fixed waypoints (through the door, then to the goal) that it is given from the
/// scenario, closing the loop on the agent position it finds in each camera frame.
/// It is a test and demo driver, not a controller: it is told where the door and goal are.
public final class ScriptedWaypointFollower: ScriptedDriver {
    public let origin = CommandOrigin.script
    public private(set) var waypoints: [Vec2]
    public private(set) var next = 0
    /// Within this distance a waypoint counts as reached, px.
    public let tolerance: Double
    /// The last position found in a frame.
    public private(set) var lastSeen: Vec2?

    public init(layout: TwoRoomsLayout, start: Vec2, goal: Vec2, tolerance: Double = 1.0) {
        var w: [Vec2] = []
        let s0 = layout.side(of: start), s1 = layout.side(of: goal)
        if s0 != s1 {
            let approach = TwoRoomsLayout.wallHalfThickness + 3
            let dir: Double = s0 == 0 ? 1 : -1
            w.append(Vec2(layout.wallX - dir * approach, layout.doorY))
            w.append(Vec2(layout.wallX + dir * approach, layout.doorY))
        }
        w.append(goal)
        waypoints = w
        self.tolerance = tolerance
    }

    /// Follows the waypoints of this world's current episode.
    public convenience init(world: TwoRoomsWorld) {
        self.init(layout: world.layout, start: world.position, goal: world.goal)
    }

    /// True once the last waypoint (the goal) is reached.
    public var arrived: Bool { next >= waypoints.count }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        command.issuedAt = now
        command.origin = origin
        command.efforts[0] = 0
        command.efforts[1] = 0
        guard frame.isValid, let p = locateDot(in: frame) else { return true }
        lastSeen = p
        while next < waypoints.count && (waypoints[next] - p).length <= tolerance { next += 1 }
        guard next < waypoints.count else { return true }
        let d = waypoints[next] - p
        // Full speed far away, proportional close in: effort 1 is 2.45 px per step.
        let speed = min(d.length, TwoRoomsWorld.maxStep)
        let v = d * (speed / max(d.length, 1e-9)) / TwoRoomsWorld.maxStep
        command.efforts[0] = max(-1, min(1, v.x))
        command.efforts[1] = max(-1, min(1, v.y))
        return true
    }
}
