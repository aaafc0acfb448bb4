import Configuration
import Planning
import RobotCore
import Safety
import Simulation
import Testing
import WorldModel
@testable import Control

/// A clock on which work costs what the test says: every reading advances it by `step`, and once, at
/// reading number `stallAt`, by `stall` more (a preemption or a stall of the machine). The planner reads
/// the clock once per rollout step, so `step` is the cost of one predictor pass.
final class SteppingClock: RobotClock {
    private var t = Instant(nanoseconds: 1_000_000_000)
    var step: Duration
    var stall: Duration = .zero
    var stallAt = -1
    private(set) var readings = 0

    init(step: Duration) { self.step = step }

    func now() -> Instant {
        readings += 1
        t += step
        if readings == stallAt { t += stall }
        return t
    }

    func sleep(until deadline: Instant) { if deadline > t { t = deadline } }
}

@Suite("Anytime planning")
struct AnytimePlannerTests {
    /// A planner of the shipped board's settings whose row cost was measured on `clock`.
    func measuredPlanner(_ clock: SteppingClock) throws -> (LatentPlanner, [Float], [Float]) {
        let model = try loadShippedModel()
        let planner = try LatentPlanner(model: model, config: PlannerConfig())
        let z = [Float](repeating: 0, count: model.latentSize), g = [Float](repeating: 0.5, count: model.latentSize)
        for _ in 0..<3 { plan(planner, z, g, clock: clock, budget: .seconds(10)) }
        return (planner, z, g)
    }

    @discardableResult
    func plan(_ planner: LatentPlanner, _ z: [Float], _ g: [Float], clock: SteppingClock, budget: Duration) -> PlanStep {
        let deadline = clock.now() + budget
        return z.withUnsafeBufferPointer { zb in g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: deadline) } }
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

    @Test("a planner made slow on purpose reports 'planner starved' after max_stale_ticks; the governor stops, slows or reports")
    func starvation() throws {
        let model = try loadShippedModel()
        for action in [SurpriseAction.stop, .slow, .report] {
            var board = try fixedBoard()
            board.profile.planner = unbudgeted { $0.budgetMilliseconds = 4.5; $0.maxStaleTicks = 5; $0.starvedAction = action }
            let clock = ManualClock()
            let rig = try Rig(board: board, clock: clock, seed: 5)
            let governor = try SafetyGovernor(config: board.safetyConfig)
            // Planning fits at first (10 µs per clock reading); then every reading costs 5 ms, so no planning
            // work fits a 4.5 ms budget.
            let slow = SteppingClock(step: .microseconds(10))
            let source = try LatentPlannerSource(model: model, config: board.profile.planner!, governor: governor, timer: slow)
            let loop = rig.makeLoop(source: source, governor: governor)
            let f = Frame(width: 64, height: 64)
            rig.robot!.world.render(into: f, agent: rig.robot!.world.goal)
            source.setGoal(image: f.pixels)
            loop.tick()
            #expect(governor.requestArm() == .armed)
            for _ in 0..<4 { loop.tick() }
            #expect(!source.isStarved && governor.state == .armed, "\(source.staleRun) stale ticks: not yet")
            slow.step = .milliseconds(5)
            for _ in 0..<10 { loop.tick() }
            #expect(source.isStarved && source.longestStaleRun >= 5)
            switch action {
            case .stop: #expect(governor.latchedFaults.contains(.plannerStarved) && governor.lastOutput.isNeutral)
            case .slow: #expect(governor.state == .armed && governor.slowed)
            case .report: #expect(governor.state == .armed && governor.starvedTicks > 0)
            }
            let work = source.workDone
            #expect(work.idleShare > 0.5 && work.longestStaleRun >= 5)
        }
    }
}
