import CAllocationCounter
import Configuration
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing
@testable import Control

/// A command source that takes `cost` of (manual) clock time per decision and pushes +x.
final class SlowSource: CommandSource {
    let origin = CommandOrigin.autonomy
    let clock: ManualClock
    var cost: Duration
    init(clock: ManualClock, cost: Duration) { self.clock = clock; self.cost = cost }
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        clock.advance(by: cost)
        command.issuedAt = now
        command.efforts[0] = 0.5
        command.efforts[1] = 0
        return true
    }
}

/// Patrols between the two rooms through the fixed layout's door (y = 32), steering by the dot
/// it finds in each frame: every tick does the full read → decide → gate → write work.
final class PatrolSource: CommandSource {
    let origin = CommandOrigin.script
    var target = Vec2(54, 32)
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        command.issuedAt = now
        guard let p = locateDot(in: frame) else { return false }
        if (target - p).length < 2 { target = Vec2(target.x < 32 ? 54 : 10, 32) }
        let d = target - p
        let scale = min(1, d.length / TwoRoomsWorld.maxStep) / max(d.length, 1e-9)
        command.efforts[0] = d.x * scale
        command.efforts[1] = d.y * scale
        return true
    }
}

@Suite("Latency histogram")
struct HistogramTests {
    @Test("percentiles are within 0.4 % of the exact ones")
    func accuracy() {
        var rng = SeededGenerator(seed: 11)
        var h = LatencyHistogram()
        var values: [Int64] = []
        for _ in 0..<20_000 {
            let v = Int64(rng.uniform(1_000, 50_000_000) * (rng.unit() < 0.01 ? 4 : 1))
            values.append(v)
            h.record(nanoseconds: v)
        }
        values.sort()
        for p in [0.5, 0.9, 0.99] {
            let exact = Double(values[Int((p * Double(values.count)).rounded(.up)) - 1])
            #expect(abs(Double(h.percentile(p)) - exact) / exact < 0.004, "p\(p)")
        }
        #expect(h.maxNanoseconds == values.last!)
        #expect(h.percentile(1) == values.last!)
        #expect(h.count == 20_000)
        let exact999 = Double(values[Int((0.999 * Double(values.count)).rounded(.up)) - 1])
        #expect(abs(h.summary.p999 * 1e6 - exact999) / exact999 < 0.004)
        // Counting over a limit: exact but for the values in the limit's own bucket.
        for limit: Int64 in [5_000_000, 45_000_000, 100_000_000] {
            let exact = values.filter { $0 > limit }.count
            #expect(
                abs(h.count(above: limit) - exact) <= values.filter { abs(Double($0 - limit)) <= Double(limit) / 128 }.count,
                "over \(limit) ns")
        }
        #expect(h.count(above: 200_000_000) == 0)
    }

    @Test("small values are exact; bucket index and value agree")
    func buckets() {
        for v: UInt64 in [0, 1, 31, 127] { #expect(LatencyHistogram.value(ofBucket: LatencyHistogram.index(v)) == Int64(v)) }
        var x: UInt64 = 128
        while x < UInt64(1) << 40 {
            let mid = LatencyHistogram.value(ofBucket: LatencyHistogram.index(x))
            #expect(abs(Double(mid) - Double(x)) / Double(x) <= 1.0 / 128)
            x = x * 3 / 2 + 7
        }
        #expect(LatencyHistogram().percentile(0.5) == 0)
    }
}

@Suite("Control loop")
struct ControlLoopTests {
    @Test("ticks run on the absolute schedule: one per period, no jitter on the manual clock")
    func schedule() throws {
        let s = try SimSetup()
        let start = s.clock.now()
        var wakes: [Instant] = []
        for _ in 0..<30 { wakes.append(s.loop.tick().wake) }
        for (k, w) in wakes.enumerated() { #expect(w == start + s.loop.period * k) }
        let r = s.loop.statistics.report
        #expect(r.ticks == 30 && r.overruns == 0 && r.wakeJitter.max == 0)
        #expect(abs(r.rateHz - 30) < 0.01)
    }

    @Test("stays disarmed and neutral until armed; arms once the camera is fresh")
    func armingPath() throws {
        let s = try SimSetup()
        #expect(s.governor.requestArm() != .armed, "nothing known before the first tick")
        for _ in 0..<5 {
            let r = s.loop.tick()
            #expect(r.state == .disarmed && r.output.isNeutral)
            #expect(s.robot.pulses.array == [1500, 1500])
        }
        #expect(s.governor.requestArm() == .armed)
        let r = s.loop.tick()
        #expect(!r.output.isNeutral && r.state == .armed)
    }

    @Test("closed loop through the camera: the scripted follower reaches the goal across the door", arguments: TwoRoomsVariant.allCases)
    func episodes(variant: TwoRoomsVariant) throws {
        for seed: UInt64 in 1...10 {
            let s = try SimSetup(variant: variant, seed: seed)
            let runner = EpisodeRunner(rig: s.rig, loop: s.loop, armPolicy: .always)
            let follower = s.loop.source as! ScriptedWaypointFollower
            #expect(follower.waypoints.count == 3, "start and goal are in opposite rooms")
            let result = runner.run(isDone: { follower.arrived }, shouldStop: { false })
            #expect(result.ending == .finished && result.success, "seed \(seed): \(result)")
            #expect(result.steps < 120)
            #expect(s.governor.faultEvents == 0 && s.governor.rejectedCommands == 0)
        }
    }

    @Test("an overrun is counted, raised, and skips whole periods: no catch-up burst")
    func overrun() throws {
        let s = try SimSetup { _, clock in SlowSource(clock: clock, cost: .zero) }
        let slow = s.loop.source as! SlowSource
        let start = s.clock.now()
        s.loop.tick()
        slow.cost = s.loop.period * 2 + .milliseconds(5)  // this tick ends 1 period + 5 ms past its next deadline
        s.loop.tick()
        slow.cost = .zero
        let r = s.loop.tick()
        #expect(s.loop.statistics.overruns == 1)
        #expect(s.loop.statistics.skippedPeriods == 2)
        // The next tick runs on the original grid, three periods after the late tick's deadline.
        #expect(r.wake == start + s.loop.period * 4)
        let events = s.loop.drainEvents()
        #expect(events == [.overrun(tick: 2, late: s.loop.period + .milliseconds(5), skipped: 2)])
        #expect(s.loop.drainEvents().isEmpty)
        #expect(s.loop.consecutiveOverruns == 0)
    }

    @Test("consecutive overruns trip the loop watchdog: outputs neutral, fault raised")
    func watchdog() throws {
        let s = try SimSetup { _, clock in SlowSource(clock: clock, cost: .zero) }
        let slow = s.loop.source as! SlowSource
        s.arm()
        #expect(!s.loop.tick().output.isNeutral)
        slow.cost = s.loop.period + .milliseconds(1)
        var r = s.loop.tick()
        for _ in 0..<8 where r.state == .armed { r = s.loop.tick() }
        #expect(r.state == .faulted && r.latchedFaults.contains(.loopWatchdog))
        #expect(r.output.isNeutral && s.robot.pulses.array == [1500, 1500])
        #expect(s.loop.drainEvents().contains(.faultLatched(tick: r.tick, faults: .loopWatchdog)))
    }

    @Test("e-stop pressed: the actuators get neutral in the same tick")
    func eStop() throws {
        let s = try SimSetup()
        s.arm()
        for _ in 0..<3 { s.loop.tick() }
        #expect(s.robot.pulses.array != [1500, 1500])
        s.eStop.pressed = true
        let r = s.loop.tick()
        #expect(r.state == .faulted && r.output.isNeutral)
        #expect(s.robot.pulses.array == [1500, 1500])
        let before = s.robot.world.position
        for _ in 0..<5 { s.loop.tick() }
        #expect(s.robot.world.position == before, "the robot does not move while the fault is latched")
    }

    @Test("a failed actuator write latches a fault and neutral is written at once")
    func actuatorFailure() throws {
        let s = try SimSetup()
        s.arm()
        for _ in 0..<3 { s.loop.tick() }
        s.actuators.failingWrites = 1
        let r = s.loop.tick()
        #expect(r.output.isNeutral && r.latchedFaults == .actuatorFailure)
        #expect(s.robot.pulses.array == [1500, 1500], "the retry wrote neutral")
    }

    @Test("frames that stop coming trip the stale-frame fault once they are older than the limit")
    func staleFrames() throws {
        let s = try SimSetup()
        s.arm()
        s.loop.tick()
        s.camera.dropProbability = 1
        let r1 = s.loop.tick(), r2 = s.loop.tick(), r3 = s.loop.tick(), r4 = s.loop.tick()
        #expect(r1.state == .armed && r2.state == .armed && r3.state == .armed)  // 33, 67, 100 ms old
        #expect(r4.state == .faulted && r4.latchedFaults == .staleFrame)  // 133 ms > 100 ms
    }

    @Test("stop disarms and writes neutral")
    func stop() throws {
        let s = try SimSetup()
        s.arm()
        s.loop.tick()
        s.loop.stop()
        #expect(s.governor.state == .disarmed && s.robot.pulses.array == [1500, 1500])
    }

    @Test("no heap allocation inside the tick: 1 000 armed ticks allocate nothing")
    func noAllocation() throws {
        let patrol = PatrolSource()
        let s = try SimSetup { _, _ in patrol }
        s.arm()
        for _ in 0..<50 { s.loop.tick() }  // warm-up
        allocation_counter_start()
        var moving = 0
        var n = 0
        while n < 1000 {  // not `for in`: a debug build's unspecialized iterator allocates on aarch64
            if !s.loop.tick().output.isNeutral { moving += 1 }
            n += 1
        }
        let allocations = allocation_counter_stop()
        #expect(allocations == 0)
        #expect(s.loop.statistics.ticks == 1051)
        #expect(moving > 900, "the ticks did real work")
        #expect(patrol.target.x == 10 || s.robot.world.position.x > 40, "the robot patrolled through the door")
        // The counter itself works: an allocation on this thread is seen.
        allocation_counter_start()
        let a = [Int](repeating: 1, count: Int.random(in: 100...200))
        #expect(allocation_counter_stop() >= 1 && a.count >= 100)
    }

    @Test("the system clock sleeps to an absolute deadline, never returning early")
    func systemClock() {
        let c = SystemClock()
        let t0 = c.now()
        for k in 1...5 {
            let deadline = t0 + .milliseconds(2 * Int64(k))
            c.sleep(until: deadline)
            #expect(c.now() >= deadline)
        }
        c.sleep(until: t0)  // a past deadline returns at once
        #expect(c.now() > t0)
    }
}
