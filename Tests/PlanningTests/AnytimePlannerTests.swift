import Planning
import RobotCore
import TestSupport
import Testing
import WorldModel

@Suite("Anytime planning")
struct AnytimePlannerTests {
    /// A planner of the shipped board's settings whose row cost was measured on `clock`.
    func measuredPlanner(_ clock: SteppingClock) throws -> (LatentPlanner, [Float], [Float]) {
        let model = try loadShippedModel()
        let planner = try LatentPlanner(model: model, config: twoRoomsPlanner())
        let z = [Float](repeating: 0, count: model.latentSize), g = [Float](repeating: 0.5, count: model.latentSize)
        for _ in 0..<3 { plan(planner, z, g, clock: clock, budget: .seconds(10)) }
        return (planner, z, g)
    }

    @discardableResult
    func plan(_ planner: LatentPlanner, _ z: [Float], _ g: [Float], clock: SteppingClock, budget: Duration) -> PlanStep {
        let deadline = clock.now() + budget
        return z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: deadline) }
        }
    }

    @Test("any budget that holds one chunk improves the plan: fewer samples, then a shorter horizon, then nothing")
    func workFitsTheBudget() throws {
        // 10 µs per predictor pass: a chunk of 8 samples over 48 steps costs about 0.5 ms.
        let clock = SteppingClock(step: .microseconds(10))
        let (planner, z, g) = try measuredPlanner(clock)
        let full = plan(planner, z, g, clock: clock, budget: .seconds(10))
        #expect(full.iterations == 1 && full.samples == 32 && full.horizon == 48 && full.isFresh)

        let part = plan(planner, z, g, clock: clock, budget: .milliseconds(1.2))
        #expect(part.isFresh && part.iterations == 0, "an update from the chunks that fitted, not a whole iteration")
        #expect(part.samples >= 8 && part.samples < 32 && part.horizon == 48, "samples \(part.samples), horizon \(part.horizon)")

        let short = plan(planner, z, g, clock: clock, budget: .microseconds(250))
        #expect(short.isFresh && short.samples == planner.chunk, "one chunk")
        #expect(short.horizon >= planner.minHorizon && short.horizon < 48, "a horizon that fits: \(short.horizon)")

        let none = plan(planner, z, g, clock: clock, budget: .microseconds(20))
        #expect(!none.isFresh && none.samples == 0, "below the shortest horizon nothing starts")
        #expect(!none.abandoned)
    }

    @Test("one slow measurement (a 25 ms stall inside a chunk) stops planning for at most a few ticks")
    func stallRecovery() throws {
        let clock = SteppingClock(step: .microseconds(10))
        let (planner, z, g) = try measuredPlanner(clock)
        let before = planner.rowCost.bound
        clock.stall = .milliseconds(25)
        clock.stallAt = clock.readings + 20
        let hit = plan(planner, z, g, clock: clock, budget: .milliseconds(4.5))
        #expect(hit.abandoned, "the chunk that stalled is abandoned at the deadline")
        #expect(planner.rowCost.bound < 4 * before, "the estimate rose by a bounded step: \(before) → \(planner.rowCost.bound)")
        var stale = 0
        while !plan(planner, z, g, clock: clock, budget: .milliseconds(4.5)).isFresh && stale < 50 { stale += 1 }
        #expect(stale <= 2, "\(stale) ticks without a fresh plan after the stall")
    }
}
