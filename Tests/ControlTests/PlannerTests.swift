import CAllocationCounter
import Configuration
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import Safety
import Simulation
import Testing
import WorldModel
@testable import Control

/// The shipped world model (`make model`); a missing or bad file fails the test that needs it, with the reason.
func loadShippedModel() throws -> WorldModelFile { try WorldModelFile.load(path: repoRoot + "/models/two-rooms.safetensors") }

/// Planner settings whose outcome does not depend on this machine's speed: the budget never cuts.
func unbudgeted(_ change: (inout PlannerConfig) -> Void = { _ in }) -> PlannerConfig {
    var c = PlannerConfig()
    c.budgetMilliseconds = 10_000
    change(&c)
    return c
}

func fixedBoard() throws -> LoadedBoard { try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml") }

/// The int8 latent of the fixed layout with the agent at `p`.
func latent(at p: Vec2, _ observer: LatentObserver) -> [Float] {
    let world = TwoRoomsWorld(layout: .fixed, start: p, goal: p)
    let f = Frame(width: 64, height: 64)
    world.render(into: f)
    return observer.encode(f.pixels)
}

/// The shipped board with a planner source aiming at the episode's goal image, armed.
func plannerSetup(_ config: PlannerConfig, timer: RobotClock = SystemClock()) throws -> (SimSetup, LatentPlannerSource, Frame) {
    let shippedModel = try loadShippedModel()
    let s = try SimSetup()
    let source = try LatentPlannerSource(model: shippedModel, config: config, governor: s.governor, timer: timer)
    s.loop.source = source
    let f = Frame(width: 64, height: 64)
    s.robot.world.render(into: f, agent: s.robot.world.goal)
    source.setGoal(image: f.pixels)
    s.arm()
    return (s, source, f)
}

@Suite("Latent planner")
struct PlannerTests {
    @Test("route search in imagination finds the way through the door, and it works in the real world")
    func routeThroughDoor() throws {
        let shippedModel = try loadShippedModel()
        let observer = try LatentObserver(model: shippedModel, timer: SystemClock())
        let c = PlannerConfig()  // the shipped board's settings
        let roadmap = try LatentRoadmap(model: shippedModel, config: c)
        let start = Vec2(20, 10), goal = Vec2(44, 10)  // the wall is between them; the door is at y 27.5…36.5
        let z = latent(at: start, observer), g = latent(at: goal, observer)
        let found = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { roadmap.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor)) }
        }
        #expect(found)
        // Replay the route's macro actions in the true world.
        var world = TwoRoomsWorld(layout: .fixed, start: start, goal: goal)
        var lowest = start.y
        for leg in 0..<roadmap.routeLength {
            let (ex, ey) = roadmap.effort(roadmap.route[leg])
            for _ in 0..<roadmap.macroSteps {
                world.step(Vec2(Double(ex), Double(ey)) * TwoRoomsWorld.maxStep)
                lowest = max(lowest, world.position.y)
            }
        }
        #expect(world.layout.side(of: world.position) == 1, "the route crosses into the goal's room")
        #expect(lowest > 25, "it goes down to the door (deepest y \(lowest))")
        #expect(world.distanceToGoal < 10, "it ends near the goal (\(world.distanceToGoal) px)")
    }

    @Test("planner reaches goals in the other room; the greedy baseline does not")
    func reachesGoals() throws {
        let shippedModel = try loadShippedModel()
        let board = try fixedBoard()
        let planner = try GoalReachingRun(board: board, seed: 77, model: shippedModel, policy: .planner(unbudgeted()))
        let greedy = try GoalReachingRun(board: board, seed: 77, model: shippedModel, policy: .greedy(unbudgeted()))
        var plannerOK = 0, greedyOK = 0
        for _ in 0..<4 {
            let p = planner.runEpisode(), g = greedy.runEpisode()
            #expect(p.start == g.start && p.goal == g.goal, "both policies get the same episodes")
            #expect(TwoRoomsLayout.fixed.side(of: Vec2(p.start[0], p.start[1])) != TwoRoomsLayout.fixed.side(of: Vec2(p.goal[0], p.goal[1])))
            if p.success { plannerOK += 1 }
            if g.success { greedyOK += 1 }
        }
        #expect(plannerOK >= 3, "planner reached \(plannerOK)/4")
        #expect(greedyOK <= 1, "greedy reached \(greedyOK)/4")
        #expect(planner.planner!.routesFound > 0)
        #expect(planner.governor.faultEvents == 0, "no fault while planning (surprise, heartbeat…)")
    }

    @Test("random walls: a refused push starts a wall follow that finds the door; off, none starts")
    func wallFollowingOnRandomWalls() throws {
        let shippedModel = try loadShippedModel()
        var board = try fixedBoard()
        board.profile.simulation!.world = .random
        let on = try GoalReachingRun(board: board, seed: 41, model: shippedModel, policy: .planner(unbudgeted { $0.wallFollowSteps = 80 }))
        let off = try GoalReachingRun(board: board, seed: 41, model: shippedModel, policy: .planner(unbudgeted { $0.wallFollowSteps = 0 }))
        var reached = 0
        for _ in 0..<3 where on.runEpisode().success { reached += 1 }
        _ = off.runEpisode()
        let follower = on.planner!.wallFollower
        #expect(follower.follows > 0 && follower.crossings > 0, "follows \(follower.follows), crossings \(follower.crossings)")
        #expect(reached >= 2, "reached \(reached)/3 with wall following")
        #expect(off.planner!.wallFollower.follows == 0)
        #expect(on.governor.faultEvents == 0)
    }

    @Test("handing control back after an operator drove ends a wall follow and forgets the stale latent, not the refused moves")
    func resumeAfterTakeover() throws {
        let (s, source, _) = try plannerSetup(unbudgeted { $0.wallFollowSteps = 80 })
        // A wall the model has not seen at x = 40, its door far below; the goal straight across it.
        let world = TwoRoomsWorld(layout: TwoRoomsLayout(wallX: 40, doorY: 52), start: Vec2(33, 20), goal: Vec2(48, 20))
        s.robot.reset(world: world)
        let goal = Frame(width: 64, height: 64)
        world.render(into: goal, agent: world.goal)
        source.setGoal(image: goal.pixels)
        var ticks = 0
        while !source.wallFollower.isActive && ticks < 60 { s.loop.tick(); ticks += 1 }
        #expect(source.wallFollower.isActive, "no follow started in \(ticks) ticks (agent at \(s.robot.world.position))")
        let refused = source.blockedMoves?.count ?? 0
        #expect(refused > 0)
        source.resume()
        #expect(!source.wallFollower.isActive && !source.observer.hasLatent)
        #expect(source.blockedMoves?.count == refused, "the walls did not move: the refused moves stay")
        s.loop.tick()
        #expect(source.observer.hasLatent && !source.observer.hasStep, "no forecast is scored across the operator's moves")
    }

    @Test("a plan that would overrun the budget is skipped and the shifted previous plan is used")
    func budgetCut() throws {
        let shippedModel = try loadShippedModel()
        // Work costs what the clock says (20 µs per reading), not what a busy machine makes of it.
        let timer = SteppingClock(step: .microseconds(20))
        let (s, source, f) = try plannerSetup(unbudgeted(), timer: timer)
        for _ in 0..<3 { s.loop.tick() }
        #expect(source.skipped == 0)
        let before = source.planner.mean
        // Now a budget no iteration fits in: the planner must not iterate, only shift.
        let tight = try LatentPlannerSource(model: shippedModel, config: unbudgeted { $0.budgetMilliseconds = 0.01; $0.roadmapEvery = 0 },
                                            governor: s.governor, timer: timer)
        tight.setGoal(image: f.pixels)
        tight.planner.seed(plan: before.withUnsafeBufferPointer { $0 })
        s.loop.source = tight
        // The warm-up measured an iteration, so the budget rules from the first tick on.
        s.loop.tick()
        #expect(tight.skipped == 1, "the first tick already has an estimate and skips")
        let seeded = tight.planner.mean
        #expect(seeded == before, "nothing re-planned it")
        let report = s.loop.tick()
        #expect(tight.skipped == 2)
        #expect(Array(tight.planner.mean[0..<(seeded.count - 2)]) == Array(seeded[2...]), "the plan was shifted by one step, not re-planned")
        #expect(report.proposed && report.command.efforts[0] == Double(seeded[2]), "the command is the shifted plan's first action")
    }

    @Test("planning allocates nothing in the tick (200 ticks, route searches included)")
    func noAllocation() throws {
        let (s, source, _) = try plannerSetup(unbudgeted { $0.roadmapEvery = 5 })
        for _ in 0..<5 { s.loop.tick() }
        allocation_counter_start()
        for _ in 0..<200 { s.loop.tick() }
        let allocations = allocation_counter_stop()
        #expect(allocations == 0)
        #expect(source.searches >= 30 && source.planTime.count >= 200)
    }

    @Test("the world model's surprise latches a fault when the world jumps, and slows when the profile says slow")
    func surprise() throws {
        let shippedModel = try loadShippedModel()
        for response in [SurpriseAction.stop, .slow] {
            var board = try fixedBoard()
            board.profile.surprise.action = response
            let clock = ManualClock()
            let rig = try Rig(board: board, clock: clock, seed: 5)
            let governor = try SafetyGovernor(config: board.safetyConfig)
            let source = try LatentPlannerSource(model: shippedModel, config: unbudgeted(), governor: governor, timer: SystemClock(),
                                                 surpriseThresholdFactor: board.profile.surprise.thresholdFactor)
            let p99 = try #require(shippedModel.validationOneStepErrorP99)
            #expect(source.observer.threshold == p99 * board.profile.surprise.thresholdFactor)
            let loop = rig.makeLoop(source: source, governor: governor)
            let robot = rig.robot!
            let f = Frame(width: 64, height: 64)
            robot.world.render(into: f, agent: robot.world.goal)
            source.setGoal(image: f.pixels)
            for _ in 0..<3 { loop.tick() }
            #expect(governor.requestArm() == .armed)
            for _ in 0..<10 { loop.tick() }
            #expect(governor.state == .armed && governor.surprisedTicks == 0, "no surprise while the world behaves")
            // The agent jumps to the other room: nothing the model predicted.
            let w = robot.world
            let elsewhere = Vec2(w.position.x < 32 ? 50 : 14, w.position.y < 32 ? 50 : 14)
            robot.reset(world: TwoRoomsWorld(layout: w.layout, start: elsewhere, goal: w.goal))
            var slowedMax = 0.0
            for _ in 0..<3 {
                let r = loop.tick()
                if governor.slowed { slowedMax = max(slowedMax, abs(r.output.efforts[0]), abs(r.output.efforts[1])) }
            }
            #expect(source.isSurprised)
            switch response {
            case .stop:
                #expect(governor.latchedFaults.contains(.modelSurprised) && governor.lastOutput.isNeutral)
            default:
                #expect(governor.state == .armed && governor.surprisedTicks > 0)
                #expect(slowedMax <= board.profile.surprise.slowFactor + 1e-9)
            }
        }
    }
}

@Suite("Evaluation statistics")
struct EvaluationStatisticsTests {
    @Test("Wilson 95 % interval matches known values and stays in [0, 1]")
    func wilson() {
        let (lo, hi) = wilsonInterval(successes: 195, trials: 200)
        #expect(abs(lo - 0.9428) < 5e-4 && abs(hi - 0.9893) < 5e-4, "\(lo) \(hi)")
        let (l0, h0) = wilsonInterval(successes: 0, trials: 50)
        #expect(l0 == 0 && abs(h0 - 0.0713) < 5e-4)
        let (l1, h1) = wilsonInterval(successes: 200, trials: 200)
        #expect(abs(l1 - 0.9812) < 5e-4 && h1 == 1)
    }
}

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
        let observer = try LatentObserver(model: model, timer: SystemClock())
        let z = latent(at: Vec2(16, 40), observer), g = latent(at: Vec2(26, 40), observer)  // the goal is 10 px to the right
        let c = PlannerConfig()
        let roadmap = try LatentRoadmap(model: model, config: c)
        func route() -> [(Float, Float)] {
            let found = z.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer { roadmap.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor)) }
            }
            #expect(found)
            return (0..<roadmap.routeLength).map { roadmap.effort(roadmap.route[$0]) }
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
        let observer = try LatentObserver(model: model, timer: SystemClock())
        let z = latent(at: Vec2(20, 10), observer), g = latent(at: Vec2(44, 10), observer)
        let c = PlannerConfig()
        // A clock that moves 0.1 ms per reading: a 1 ms deadline passes in the middle of the work.
        let clock = SteppingClock(step: .microseconds(100))

        let planner = try LatentPlanner(model: model, config: unbudgeted(), seed: 3)
        let before = planner.mean
        let cut = z.withUnsafeBufferPointer { zb in g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: clock.now() + .milliseconds(1)) } }
        #expect(cut.abandoned && cut.iterations == 0, "\(cut)")
        #expect(planner.mean == before, "an abandoned iteration leaves the plan as it was")
        let whole = z.withUnsafeBufferPointer { zb in g.withUnsafeBufferPointer { planner.plan(from: zb, goal: $0, clock: clock, deadline: clock.now() + .seconds(10)) } }
        #expect(!whole.abandoned && whole.iterations == 1)

        // The same search, uninterrupted and cut into many short slices, finds the same route.
        let reference = try LatentRoadmap(model: model, config: c)
        let sliced = try LatentRoadmap(model: model, config: c)
        let found = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { reference.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor)) }
        }
        #expect(found)
        z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { sliced.begin(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor)) }
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

@Suite("Wall knowledge")
struct WallKnowledgeTests {
    @Test("wall knowledge: pushes into the wall and through the door on every layout, scored against the push away")
    func wallKnowledge() throws {
        let model = try loadShippedModel()
        let fixed = try WallKnowledge.run(model: model, variant: .fixed, layouts: 2, seed: 4)
        #expect(fixed.wallPushes == 2 * 16 && fixed.doorPushes == 2 * 4)
        // Any shipped model must know the benchmark's own door: motion through it is forecast.
        #expect(fixed.doorKnownOpen == fixed.doorPushes, "\(fixed)")
        #expect(fixed.layoutProbeR2.isEmpty, "one layout: nothing to probe")
        let random = try WallKnowledge.run(model: model, variant: .random, layouts: 40, seed: 4)
        #expect(random.wallPushes == 40 * 16 && random.medianWallRatio.isFinite && random.medianDoorRatio.isFinite)
        #expect(random.layoutProbeR2.count == 2)
        #expect(random.layoutProbeR2[0] > 0.8, "the wall's x is in the latent: R² \(random.layoutProbeR2[0])")
        let again = try WallKnowledge.run(model: model, variant: .random, layouts: 40, seed: 4)
        #expect(again.wallKnownBlocked == random.wallKnownBlocked && again.layoutProbeR2 == random.layoutProbeR2, "seeded")
    }
}
