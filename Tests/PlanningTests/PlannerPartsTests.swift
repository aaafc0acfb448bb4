import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import Simulation
import TestSupport
import Testing
import WorldModel

@Suite("Planning cost estimate")
struct CostEstimateTests {
    @Test("a steady cost is bounded by itself; jitter raises the bound; skipping work decays it")
    func boundFollowsMeanAndDeviation() {
        var steady = CostEstimate()
        #expect(!steady.isMeasured && steady.bound == 0)
        for _ in 0..<200 { steady.record(2_000_000) }
        #expect(abs(steady.mean - 2_000_000) < 1 && steady.deviation < 1_000 && steady.bound < 2_003_000)

        var jittery = CostEstimate()
        for i in 0..<200 { jittery.record(i % 2 == 0 ? 1_500_000 : 2_500_000) }
        #expect(abs(jittery.mean - 2_000_000) < 100_000, "\(jittery.mean)")
        #expect(jittery.bound > 3_000_000, "a ±0.5 ms jitter must raise the bound past the 2.5 ms worst case: \(jittery.bound)")

        let before = jittery.bound
        jittery.decay()
        #expect(abs(jittery.bound - 0.8 * before) < 1)
    }
}

@Suite("Refused moves")
struct BlockedMovesTests {
    @Test("a refused move blocks steps near its latent in its direction only; the ring drops the oldest")
    func blocksNearbyStepsInTheSameDirection() {
        let memory = BlockedMoves(latentSize: 2, capacity: 2)
        let z: [Float] = [1, 1], near: [Float] = [1.5, 1], far: [Float] = [4, 1]
        func blocks(_ p: [Float], _ ax: Float, _ ay: Float) -> Bool { p.withUnsafeBufferPointer { memory.blocks($0.baseAddress!, ax, ay) } }
        #expect(!blocks(z, 1, 0), "empty memory blocks nothing")
        z.withUnsafeBufferPointer { memory.record(latent: $0, effort: 0.8, 0, radius: 1) }
        #expect(blocks(z, 1, 0) && blocks(near, 0.5, 0.3), "same place, same direction (within 45°)")
        #expect(!blocks(near, 0, 1) && !blocks(near, -1, 0), "a sideways or backward step is free")
        #expect(!blocks(far, 1, 0), "beyond the radius")
        #expect(!blocks(z, 0.1, 0), "a tiny effort is never blocked")
        far.withUnsafeBufferPointer { memory.record(latent: $0, effort: 0, 1, radius: 1) }
        far.withUnsafeBufferPointer { memory.record(latent: $0, effort: 0, -1, radius: 1) }
        #expect(memory.count == 2 && memory.recorded == 3)
        #expect(!blocks(z, 1, 0) && blocks(far, 0, -1), "the first entry was dropped")
        memory.clear()
        #expect(memory.count == 0 && !blocks(far, 0, -1))
    }

    @Test("the route search never takes a refused move, and MPPI's imagined rollouts hold refused steps still")
    func rolloutsRespectRefusedMoves() throws {
        let model = try loadShippedModel()
        let encoder = try model.makeQuantizedEncoder()
        let z = latent(at: Vec2(16, 40), encoder), g = latent(at: Vec2(26, 40), encoder)  // the goal is 10 px to the right
        let c = twoRoomsPlanner()
        let roadmap = try LatentRoadmap(model: model, config: c)
        func route() -> [(Float, Float)] {
            let found = z.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer {
                    roadmap.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor))
                }
            }
            #expect(found)
            return (0..<roadmap.routeLength).map { (roadmap.effort(roadmap.route[$0], 0), roadmap.effort(roadmap.route[$0], 1)) }
        }
        let straight = route()
        #expect(!straight.isEmpty && straight[0].0 > 0.9, "with nothing refused the route starts to the right: \(straight)")
        let memory = BlockedMoves(latentSize: model.latentSize)
        z.withUnsafeBufferPointer { memory.record(latent: $0, effort: 1, 0, radius: 1e6) }  // "right" refused everywhere
        roadmap.blockedMoves = memory
        let detour = route()
        #expect(detour.allSatisfy { $0.0 <= BlockedMoves.sameDirection + 1e-3 }, "no leg within 45° of the refused direction: \(detour)")

        // Every direction refused everywhere: no imagined step moves, so the predicted latents stay at the start.
        for k in 0..<16 {
            let th = Float(k) * .pi / 8
            z.withUnsafeBufferPointer { memory.record(latent: $0, effort: cosf(th), sinf(th), radius: 1e6) }
        }
        let planner = try LatentPlanner(model: model, config: unbudgeted(), seed: 3)
        planner.blockedMoves = memory
        let fullRight: [Float] = (0..<c.horizon).flatMap { _ -> [Float] in [1, 0] }
        fullRight.withUnsafeBufferPointer { planner.seed(plan: $0) }  // sample 0, whose latents are kept, pushes right all along
        z.withUnsafeBufferPointer { zb in g.withUnsafeBufferPointer { _ = planner.plan(from: zb, goal: $0) } }
        let d = model.latentSize
        let moved = (0..<c.horizon).map { t in (0..<d).map { abs(planner.predicted[t * d + $0] - z[$0]) }.max()! }.max()!
        #expect(moved == 0, "the plan's imagined latents left the start by \(moved)")
    }
}

@Suite("Planning deadline")
struct PlanningDeadlineTests {
    @Test("work that runs past the deadline is abandoned between predictor passes; the route search resumes where it stopped")
    func abandonsWorkAtTheDeadline() throws {
        let model = try loadShippedModel()
        let encoder = try model.makeQuantizedEncoder()
        let z = latent(at: Vec2(20, 10), encoder), g = latent(at: Vec2(44, 10), encoder)
        let c = twoRoomsPlanner()
        // A clock that moves 0.1 ms per reading: a 1 ms deadline passes in the middle of the work.
        let clock = SteppingClock(step: .microseconds(100))

        let planner = try LatentPlanner(model: model, config: unbudgeted(), seed: 3)
        let before = planner.mean
        let cut = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: clock.now() + .milliseconds(1)) }
        }
        #expect(cut.abandoned && cut.iterations == 0, "\(cut)")
        #expect(planner.mean == before, "an abandoned iteration leaves the plan as it was")
        let whole = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: clock.now() + .seconds(10)) }
        }
        #expect(!whole.abandoned && whole.iterations == 1)

        // The same search, uninterrupted and cut into many short slices, finds the same route.
        let reference = try LatentRoadmap(model: model, config: c)
        let sliced = try LatentRoadmap(model: model, config: c)
        let found = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer {
                reference.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor))
            }
        }
        #expect(found)
        z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer {
                sliced.begin(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor))
            }
        }
        var slices = 0
        while sliced.status == .searching && slices < 100_000 {
            sliced.advance(clock: clock, deadline: clock.now() + .microseconds(1500))
            slices += 1
        }
        #expect(slices > 10, "the search was cut \(slices) times")
        #expect(sliced.status == .found && sliced.nodeCount == reference.nodeCount)
        #expect(Array(sliced.route[0..<sliced.routeLength]) == Array(reference.route[0..<reference.routeLength]))
    }
}

@Suite("Planner work report")
struct PlannerWorkTests {
    func work(ticks: Int, fresh: Int) -> PlannerWork {
        PlannerWork(
            ticks: ticks, freshTicks: fresh, longestStaleRun: ticks - fresh, samplesPerTick: 32, horizonPerUpdate: 48,
            updatesPerTick: 1, rowsPerTick: 1536, searchExpansionsPerTick: 0, configured: "32 × 48 × 1")
    }

    @Test("more than 2 % of ticks without planning work is warned about, with the share; 1 % is not")
    func idleWarning() {
        #expect(work(ticks: 100, fresh: 99).idleWarning == nil && work(ticks: 0, fresh: 0).idleWarning == nil)
        let w = work(ticks: 1000, fresh: 968).idleWarning
        #expect(w?.contains("no planning work on 3.2 % of its ticks (over 2 %)") == true, "\(w ?? "nil")")
    }
}
