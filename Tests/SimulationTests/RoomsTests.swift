import Glibc
import RobotCore
import Testing
@testable import Simulation

/// A ground robot driven step by step with efforts in [-1, 1] turned into its truth's pulses.
private final class Driver {
    let robot: SimulatedGroundRobot
    var now = Instant(nanoseconds: 1_000_000_000)
    let period = Duration.milliseconds(50)

    init(_ drive: GroundVehicle.Drive, seed: UInt64 = 3, radius: Double = 0.18, deadband: Double = 0) {
        var s = RoomsSettings(vehicle: GroundVehicle(drive: drive, radius: radius))
        s.motionBlur = 0
        let truth = [ActuatorPhysics(deadbandMicros: deadband), ActuatorPhysics(deadbandMicros: deadband)]
        robot = SimulatedGroundRobot(settings: s, physics: truth, stepPeriod: period, cameraWidth: 64, cameraHeight: 48, seed: seed)
        robot.advance(to: now)
    }

    /// One step at efforts (a, b).
    func step(_ a: Double, _ b: Double) {
        var p = ChannelVector(count: 2)
        p[0] = 1500 + 500 * a
        p[1] = 1500 + 500 * b
        robot.apply(pulses: p, at: now)
        now += period
        robot.advance(to: now)
    }

    /// The middle of the first room, facing +x.
    func placeInRoom(_ k: Int = 0, heading: Double = 0) -> Pose {
        let r = robot.layout.rooms[k]
        var p = Pose(x: (r.minX + r.maxX) / 2, y: (r.minY + r.maxY) / 2, heading: heading)
        // Away from a box, if one is in the middle.
        var dx = 0.0
        while !robot.layout.discIsFree(p.position, radius: 0.6) && dx < 1 { dx += 0.05; p.x = (r.minX + r.maxX) / 2 + dx }
        robot.teleport(to: p)
        return p
    }
}

@Suite("Rooms world")
struct RoomsTests {
    /// Free cells a disc of `radius` can reach from `start`, by flood fill over cell centres.
    func reachable(_ layout: RoomsLayout, from start: Vec2, radius: Double) -> Set<Int> {
        let s = RoomsLayout.cellSize
        guard let c0 = layout.cellIndex(x: start.x, y: start.y) else { return [] }
        var seen: Set<Int> = [c0], queue = [c0]
        while let c = queue.popLast() {
            let (i, j) = (c % layout.columns, c / layout.columns)
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                let (ni, nj) = (i + di, j + dj)
                guard ni >= 0, nj >= 0, ni < layout.columns, nj < layout.rows else { continue }
                let n = nj * layout.columns + ni
                if seen.contains(n) { continue }
                if layout.discIsFree(Vec2((Double(ni) + 0.5) * s, (Double(nj) + 0.5) * s), radius: radius) {
                    seen.insert(n)
                    queue.append(n)
                }
            }
        }
        return seen
    }

    @Test("houses are deterministic per seed, every room reachable by the robot's disc through the doorways")
    func houses() {
        var distinct = Set<[UInt8]>()
        for seed in 1...30 as ClosedRange<UInt64> {
            var a = SeededGenerator(seed: seed), b = SeededGenerator(seed: seed)
            let (columns, rows) = seed % 3 == 0 ? (3, 2) : (2, 2)
            let l = RoomsLayout.make(roomColumns: columns, roomRows: rows, rng: &a)
            let m = RoomsLayout.make(roomColumns: columns, roomRows: rows, rng: &b)
            #expect(l.cells == m.cells && l.textures == m.textures)
            distinct.insert(l.cells)
            #expect(l.rooms.count == columns * rows)
            #expect(l.doors.count >= l.rooms.count - 1)
            // A 0.2 m disc (the vehicles are 0.17–0.18 m) gets from room 0's middle to every room's middle.
            var rng = SeededGenerator(seed: seed)
            let start = l.freePose(inRoom: 0, radius: 0.2, rng: &rng).position
            let cells = reachable(l, from: start, radius: 0.2)
            for k in 0..<l.rooms.count {
                let p = l.freePose(inRoom: k, radius: 0.2, rng: &rng).position
                #expect(cells.contains(l.cellIndex(x: p.x, y: p.y)!), "seed \(seed): room \(k) cannot be reached")
            }
            // Every room has its own wall look.
            #expect(Set(l.textures.prefix(l.rooms.count).map(\.base)).count == l.rooms.count)
        }
        #expect(distinct.count == 30)
    }

    @Test("the car follows the bicycle model: a circle of radius wheelbase / tan(steer), reverse at its own speed")
    func bicycle() {
        var car = BicycleCar()
        car.maxSpeed = 0.5
        let d = Driver(.car(car))
        _ = d.placeInRoom(heading: 0)
        // Half steering, half throttle: speed 0.25 m/s, steer 14°, once settled.
        for _ in 0..<40 { d.step(0.5, 0.5) }
        #expect(abs(d.robot.speed - 0.25) < 1e-3)
        #expect(abs(d.robot.steer - car.maxSteer / 2) < 1e-9)
        let h0 = d.robot.pose.heading
        for _ in 0..<10 { d.step(0.5, 0.5) }
        let turned = wrappedAngle(d.robot.pose.heading - h0)
        // 10 steps of 0.05 s at 0.25 m/s along an arc of curvature tan(14°) / 0.26.
        let expected = 0.25 * 0.5 * tan(car.maxSteer / 2) / car.wheelbase
        #expect(abs(turned - expected) < 1e-3, "turned \(turned) rad, the model says \(expected)")
        // Full reverse, straight: backwards at the reverse speed.
        _ = d.placeInRoom(heading: 0)
        for _ in 0..<20 { d.step(0, -1) }
        #expect(abs(d.robot.speed + car.reverseSpeed) < 1e-3)
        let x0 = d.robot.pose.x
        d.step(0, -1)
        #expect(abs(d.robot.pose.x - x0 + car.reverseSpeed * 0.05) < 1e-3 || d.robot.inContact)
    }

    @Test("pulses inside the ESC's deadband do not move the robot")
    func deadband() {
        let d = Driver(.car(BicycleCar()), deadband: 40)
        let p0 = d.placeInRoom()
        for _ in 0..<20 { d.step(0.3, 0.07) }  // 35 µs of throttle: inside the 40 µs deadband
        #expect(d.robot.pose.position == p0.position)
        for _ in 0..<5 { d.step(0, 0.2) }
        #expect(d.robot.pose.x > p0.x)
    }

    @Test("the differential base drives straight on equal wheels and spins in place on opposite ones")
    func differential() {
        let base = DifferentialDrive()
        let d = Driver(.differential(base))
        let p0 = d.placeInRoom(heading: 0.3)
        for _ in 0..<10 { d.step(0.5, 0.5) }
        #expect(abs(d.robot.pose.heading - 0.3) < 1e-9)
        let moved = d.robot.pose.position - p0.position
        #expect(abs(atan2(moved.y, moved.x) - 0.3) < 1e-6)
        let p1 = d.placeInRoom(heading: 0)
        for _ in 0..<40 { d.step(-1, 1) }
        #expect((d.robot.pose.position - p1.position).length < 1e-9)
        let h = d.robot.pose.heading
        d.step(-1, 1)
        // ω = 2 · 0.6 / 0.28 rad/s once the wheels are at speed.
        #expect(abs(wrappedAngle(d.robot.pose.heading - h) - 2 * base.maxWheelSpeed / base.track * 0.05) < 1e-3)
    }

    @Test("driving into a wall stops the robot against it and counts one collision")
    func collisions() {
        let d = Driver(.car(BicycleCar()))
        _ = d.placeInRoom(heading: 0)
        for _ in 0..<200 { d.step(0, 1) }
        #expect(d.robot.inContact)
        #expect(d.robot.collisions == 1)
        #expect(d.robot.speed == 0)
        // Touching (within 5 mm), not inside.
        #expect(d.robot.layout.discIsFree(d.robot.pose.position, radius: 0.18))
        #expect(!d.robot.layout.discIsFree(d.robot.pose.position, radius: 0.185))
        // Backing off and driving in again is a second collision.
        for _ in 0..<20 { d.step(0, -1) }
        #expect(!d.robot.inContact)
        for _ in 0..<100 { d.step(0, 1) }
        #expect(d.robot.collisions == 2)
    }

    @Test(
        "random drives at full speed, ten episodes, never leave free space nor jump (swept motion, no tunnelling)",
        arguments: [false, true])
    func noTunnelling(car: Bool) {
        let d = Driver(car ? .car(BicycleCar()) : .differential(DifferentialDrive()), seed: 11)
        var rng = SeededGenerator(seed: 5)
        var rooms = Set<Int>()
        var (a, b) = (0.0, 1.0)
        var backing = 0, collisions = 0
        for t in 0..<6000 {
            // Mostly forward with a new steer every 15 steps; after a collision, back off turning.
            if d.robot.inContact && backing == 0 { backing = 12; (a, b) = (rng.uniform(-1, 1), -1) }
            if backing > 0 {
                backing -= 1
                if backing == 0 { (a, b) = (rng.uniform(-0.6, 0.6), rng.uniform(0.3, 1)) }
            } else if t % 15 == 0 {
                (a, b) = (rng.uniform(-0.6, 0.6), rng.uniform(0.3, 1))
            }
            let before = d.robot.pose.position
            // (steer, throttle); a base turns by the difference of its wheels.
            if car { d.step(a, b) } else { d.step(b - 0.5 * a, b + 0.5 * a) }
            let p = d.robot.pose.position
            #expect(d.robot.layout.discIsFree(p, radius: 0.18))
            #expect((p - before).length <= 1.0 * 0.05 + 1e-9 || t % 600 == 0)
            if let r = d.robot.room { rooms.insert(r) }
            if t % 600 == 599 {
                collisions += d.robot.collisions
                d.robot.newEpisode()
            }
        }
        #expect(collisions > 0)
        #expect(rooms.count >= 2, "the drives stayed in one room")
    }

    @Test("the camera renders the board's size, the same frame for the same pose and noise seed, rooms that differ")
    func camera() {
        for (w, h) in [(64, 64), (64, 48), (80, 60)] {
            var s = RoomsSettings(vehicle: GroundVehicle(drive: .car(BicycleCar()), radius: 0.18))
            s.noise = 0
            let make = {
                SimulatedGroundRobot(
                    settings: s, physics: [.init(), .init()], stepPeriod: .milliseconds(50), cameraWidth: w, cameraHeight: h, seed: 2)
            }
            let a = make(), b = make()
            let fa = Frame(width: w, height: h), fb = Frame(width: w, height: h)
            a.render(into: fa, exposedAt: .zero)
            b.render(into: fb, exposedAt: .zero)
            #expect(fa.pixels == fb.pixels)
            // Floor below the horizon, wall or ceiling above: the image is not flat.
            let mean = fa.pixels.reduce(0) { $0 + Int($1) } / fa.pixels.count
            #expect(fa.pixels.filter { abs(Int($0) - mean) > 20 }.count > fa.pixels.count / 10)
            // The goal, in another room, looks different from the start.
            a.renderGoal(into: fb)
            let diff = zip(fa.pixels, fb.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / fa.pixels.count
            #expect(diff > 10)
        }
    }

    @Test("noise and light change the frame; a still robot with no noise renders the same frame twice")
    func appearance() {
        var s = RoomsSettings(vehicle: GroundVehicle(drive: .car(BicycleCar()), radius: 0.18))
        s.noise = 4
        let r = SimulatedGroundRobot(
            settings: s, physics: [.init(), .init()], stepPeriod: .milliseconds(50), cameraWidth: 64, cameraHeight: 64, seed: 4)
        let f1 = Frame(width: 64, height: 64), f2 = Frame(width: 64, height: 64)
        r.render(into: f1, exposedAt: .zero)
        r.render(into: f2, exposedAt: .zero)
        let d = zip(f1.pixels, f2.pixels).map { Double(Int($0) - Int($1)) }
        let sd = (d.map { $0 * $0 }.reduce(0, +) / Double(d.count)).squareRoot()
        // Two independent draws of σ = 4: their difference has σ ≈ 5.7 (less where pixels clip).
        #expect(sd > 4.5 && sd < 6.5, "σ of the difference \(sd)")
    }
}

extension RoomsTests {
    @Test("a robot driven straight through a doorway gets to the next room")
    func throughTheDoor() {
        let d = Driver(.differential(DifferentialDrive()), seed: 11)
        let layout = d.robot.layout
        for door in layout.doors {
            let c = Vec2((door.minX + door.maxX) / 2, (door.minY + door.maxY) / 2)
            let vertical = door.maxY - door.minY > door.maxX - door.minX
            let start = vertical ? Pose(x: c.x - 0.5, y: c.y, heading: 0) : Pose(x: c.x, y: c.y - 0.5, heading: Double.pi / 2)
            d.robot.teleport(to: start)
            let before = d.robot.room
            for _ in 0..<30 { d.step(1, 1) }
            #expect(
                d.robot.room != nil && d.robot.room != before,
                "door \(door): from room \(String(describing: before)) to \(String(describing: d.robot.room)), at \(d.robot.pose)"
            )
        }
    }
}
