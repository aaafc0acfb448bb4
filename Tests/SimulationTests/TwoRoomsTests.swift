import RobotCore
import Safety
import Testing
@testable import Simulation

@Suite("Two-rooms world")
struct TwoRoomsTests {
    @Test("episodes are deterministic per seed, start and goal free and in opposite rooms", arguments: TwoRoomsVariant.allCases)
    func episodes(variant: TwoRoomsVariant) {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        var layouts = Set<Double>()
        for _ in 0..<200 {
            let w = TwoRoomsWorld.episode(variant, rng: &a)
            let v = TwoRoomsWorld.episode(variant, rng: &b)
            #expect(w.position == v.position && w.goal == v.goal && w.layout == v.layout)
            #expect(w.isFree(w.position) && w.isFree(w.goal))
            #expect(w.layout.side(of: w.position) != w.layout.side(of: w.goal))
            #expect(w.layout.doorY - TwoRoomsLayout.doorHalfHeight > TwoRoomsLayout.borderThickness)
            #expect(w.layout.doorY + TwoRoomsLayout.doorHalfHeight < 64 - TwoRoomsLayout.borderThickness)
            layouts.insert(w.layout.wallX * 100 + w.layout.doorY)
        }
        #expect(variant == .fixed ? layouts.count == 1 : layouts.count > 50)
    }

    @Test("actions are clipped to norm 2.45")
    func clipping() {
        var w = TwoRoomsWorld(layout: .fixed, start: Vec2(10, 10), goal: Vec2(50, 50))
        w.step(Vec2(30, 40))
        #expect(abs((w.position - Vec2(10, 10)).length - 2.45) < 1e-9)
        w.step(Vec2(.nan, 1))
        #expect(abs((w.position - Vec2(10, 10)).length - 2.45) < 1e-9)
    }

    @Test("motion into the middle wall stops at the wall")
    func wallStops() {
        var w = TwoRoomsWorld(layout: .fixed, start: Vec2(29, 10), goal: Vec2(50, 50))
        w.step(Vec2(2.4, 0))
        #expect(w.position.x < 30.5 && w.position.x > 30.49)
        #expect(w.position.y == 10)
        w.step(Vec2(2.4, 0))
        #expect(w.position.x < 30.5)
    }

    @Test("random walks never enter a wall and cross only through the door", arguments: TwoRoomsVariant.allCases)
    func noTunnelling(variant: TwoRoomsVariant) {
        var rng = SeededGenerator(seed: 7)
        var crossings = 0
        for _ in 0..<40 {
            var w = TwoRoomsWorld.episode(variant, rng: &rng)
            for _ in 0..<500 {
                let before = w.position
                // Biased toward the wall so the corners of the door get hit often.
                let toward = Vec2(w.layout.wallX - before.x, w.layout.doorY - before.y)
                let a =
                    toward * (2.45 / max(toward.length, 1e-9)) * rng.uniform(0, 1)
                    + Vec2(rng.uniform(-2.45, 2.45), rng.uniform(-2.45, 2.45))
                w.step(a)
                #expect(w.isFree(w.position))
                if w.layout.side(of: before) != w.layout.side(of: w.position) {
                    crossings += 1
                    // The crossing segment passes x = wallX inside the door opening.
                    let t = (w.layout.wallX - before.x) / (w.position.x - before.x)
                    let y = before.y + t * (w.position.y - before.y)
                    #expect(abs(y - w.layout.doorY) <= TwoRoomsLayout.doorHalfHeight)
                }
            }
        }
        #expect(crossings > 20, "the walks must actually use the door")
    }

    @Test("exploration: without pushes the plain smooth process; held pushes keep one unit direction for 6–20 steps and lean on walls")
    func heldPushes() {
        // No pushes: exactly v ← ρ·v + σ·N(0, 1), clipped to norm 1, from the same seed.
        var plain = SmoothRandomActions(seed: 11)
        var rng = SeededGenerator(seed: 11)
        var v = Vec2.zero
        for _ in 0..<200 {
            v = v * 0.8 + Vec2(rng.normal(), rng.normal()) * 0.6
            if v.length > 1 { v /= v.length }
            #expect(plain.next() == v)
        }

        var pushing = SmoothRandomActions(seed: 12, pushProbability: 0.05)
        var actions: [Vec2] = []
        for _ in 0..<20_000 { actions.append(pushing.next()) }
        // Runs of one identical full-effort action are the pushes (the smooth process never repeats exactly).
        var runs: [Int] = []
        var i = 0
        while i < actions.count {
            var j = i + 1
            while j < actions.count && actions[j] == actions[i] { j += 1 }
            if j - i > 1 {
                runs.append(j - i)
                #expect(abs(actions[i].length - 1) < 1e-9, "a push is at full effort")
            }
            i = j
        }
        #expect(runs.count > 300)
        #expect(runs.allSatisfy { (6...20).contains($0) }, "pushes last 6–20 steps (back-to-back pushes are separate runs)")
        let pushed = runs.reduce(0, +)
        #expect(pushed > 6_000 && pushed < 12_000, "about 40 % of the steps are pushes: \(pushed)")

        // Pushes lean on walls: far more steps end against a wall than in a plain random walk.
        func stuckSteps(_ source: inout SmoothRandomActions) -> Int {
            var worldRng = SeededGenerator(seed: 5)
            var stuck = 0
            for _ in 0..<50 {
                var w = TwoRoomsWorld.episode(.random, rng: &worldRng)
                source.reset()
                for _ in 0..<100 {
                    let before = w.position, a = source.next()
                    w.step(a * TwoRoomsWorld.maxStep)
                    if a.length > 0.5 && (w.position - before).length < 0.1 { stuck += 1 }
                }
            }
            return stuck
        }
        var a = SmoothRandomActions(seed: 3), b = SmoothRandomActions(seed: 3, pushProbability: 0.05)
        let plainStuck = stuckSteps(&a), pushStuck = stuckSteps(&b)
        #expect(pushStuck > 2 * plainStuck, "refused steps: \(pushStuck) with pushes, \(plainStuck) without")
    }

    @Test("frames: dark floor, anti-aliased bright walls, a Gaussian dot where the agent is")
    func rendering() {
        var rng = SeededGenerator(seed: 3)
        let frame = Frame(width: 64, height: 64)
        let w = TwoRoomsWorld(layout: .fixed, start: Vec2(10.3, 20.7), goal: Vec2(50, 50))
        w.render(into: frame)
        #expect(frame[0, 0] == 153 && frame[63, 40] == 153)  // border walls, full coverage
        #expect(frame[31, 10] == 153 && frame[30, 10] == 77)  // wall [30.5, 33.5]: half-covered column
        #expect(frame[45, 45] == 0)  // floor
        #expect(frame[10, 20] > 240)  // dot peak
        var worst = 0.0
        for _ in 0..<500 {
            var world = TwoRoomsWorld.episode(.random, rng: &rng)
            world.teleport(to: world.position)
            world.render(into: frame)
            let found = locateDot(in: frame)!
            worst = max(worst, (found - world.position).length)
        }
        #expect(worst < 0.5, "dot localization error \(worst) px")
    }
}

@Suite("Simulated devices")
struct SimulatedDeviceTests {
    @Test("actuator physics: neutral, deadband, full scale, direction")
    func physics() {
        let p = ActuatorPhysics(neutralMicros: 1500, fullScaleMicros: 500, deadbandMicros: 10)
        #expect(p.drive(pulseMicros: 1500) == 0)
        #expect(p.drive(pulseMicros: 1509) == 0)
        #expect(p.drive(pulseMicros: 2000) == 1)
        #expect(p.drive(pulseMicros: 2400) == 1)
        #expect(abs(p.drive(pulseMicros: 1245) + 0.5) < 1e-12)  // 1500 − 10 (deadband) − 0.5 × 490
        var r = p
        r.reversed = true
        #expect(r.drive(pulseMicros: 2000) == -1)
    }

    @Test("the robot steps once per period of elapsed clock time with the last pulses")
    func robotSteps() {
        let clock = ManualClock()
        let robot = SimulatedRobot(
            world: TwoRoomsWorld(layout: .fixed, start: Vec2(10, 10), goal: Vec2(50, 50)),
            physics: [ActuatorPhysics(), ActuatorPhysics()], stepPeriod: .milliseconds(100))
        robot.advance(to: clock.now())
        robot.apply(pulses: ChannelVector([2000, 1500]), at: clock.now())
        clock.advance(by: .milliseconds(350))
        robot.advance(to: clock.now())
        #expect(robot.steps == 3)
        #expect(abs(robot.world.position.x - (10 + 3 * 2.45)) < 1e-9)
        robot.reset(world: TwoRoomsWorld(layout: .fixed, start: Vec2(12, 12), goal: Vec2(50, 50)))
        #expect(robot.steps == 0 && robot.velocity == Vec2(0, 0))
    }

    @Test("camera: monotonic timestamps and sequence numbers, latency shows the past, drops and failures")
    func camera() throws {
        let clock = ManualClock()
        let robot = SimulatedRobot(
            world: TwoRoomsWorld(layout: .fixed, start: Vec2(10, 30), goal: Vec2(50, 50)),
            physics: [ActuatorPhysics(), ActuatorPhysics()], stepPeriod: .milliseconds(100))
        let cam = SimulatedCamera(robot: robot, clock: clock, latency: .milliseconds(200))
        let out = SimulatedActuators(robot: robot, clock: clock)
        let frame = Frame(width: 64, height: 64)
        #expect(cam.capture(into: frame) == .newFrame)
        let governor = try SafetyGovernor(
            config: SafetyConfig(
                channels: ["vx", "vy"].map {
                    ChannelLimits(
                        name: $0, maxSlewPerSecond: 100,
                        calibration: PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000))
                },
                tickPeriod: .milliseconds(100), maxWindowChange: 2, maxFrameAge: .milliseconds(500), maxConsecutiveOverruns: 3,
                stallTimeout: .seconds(1), heartbeatTimeout: .seconds(1)))
        // Drive +x at full speed for 5 steps through a real governor.
        var lastSeq: UInt64 = frame.sequence, lastTime = frame.timestamp
        for k in 0..<6 {
            let inputs = TickInputs(now: clock.now(), eStop: .level(false), frameTimestamp: frame.timestamp)
            let cmd = Command(efforts: ChannelVector([1, 0]), issuedAt: clock.now(), origin: .script)
            let safe = governor.step(command: cmd, inputs: inputs)
            if k == 0 { #expect(governor.requestArm() == .armed) }
            #expect(out.write(safe) == nil)
            clock.advance(by: .milliseconds(100))
            #expect(cam.capture(into: frame) == .newFrame)
            #expect(frame.sequence == lastSeq + 1 && frame.timestamp > lastTime)
            lastSeq = frame.sequence
            lastTime = frame.timestamp
        }
        #expect(frame.timestamp == clock.now() - .milliseconds(200))
        let seen = locateDot(in: frame)!
        #expect(abs(seen.x - robot.position(at: frame.timestamp).x) < 0.3)
        #expect(robot.world.position.x - seen.x > 4, "the image lags the world by two steps")
        cam.dropProbability = 1
        #expect(cam.capture(into: frame) == .noNewFrame)
        cam.injectedFailure = .lost
        #expect(cam.capture(into: frame) == .failed(.lost))
        out.failingWrites = 1
        #expect(out.write(governor.neutral) == .injected)
        #expect(out.write(governor.neutral) == nil)
    }

    @Test("simulated input reads its level and injected failures")
    func input() {
        let e = SimulatedInput(name: "estop")
        #expect(e.read() == .level(false))
        e.pressed = true
        #expect(e.read() == .level(true))
        e.injectedFailure = .io(errno: .ioError)
        #expect(e.read() == .failed(.io(errno: .ioError)))
    }

    @Test("the manual clock moves only when told, never backwards")
    func manualClock() {
        let c = ManualClock(start: Instant(nanoseconds: 100))
        c.sleep(until: Instant(nanoseconds: 50))
        #expect(c.now() == Instant(nanoseconds: 100))
        c.sleep(until: Instant(nanoseconds: 500))
        #expect(c.now() == Instant(nanoseconds: 500))
    }
}
