import CAllocationCounter
import Configuration
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing
import WorldModel
@testable import Control

@Suite("Latent planner source")
struct PlannerSourceTests {
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
        let tight = try LatentPlannerSource(
            model: shippedModel, channels: [0, 1],
            config: unbudgeted {
                $0.budgetMilliseconds = 0.01; $0.roadmapEvery = 0
            },
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
        #expect(
            Array(tight.planner.mean[0..<(seeded.count - 2)]) == Array(seeded[2...]), "the plan was shifted by one step, not re-planned")
        #expect(report.proposed && report.command.efforts[0] == Double(seeded[2]), "the command is the shifted plan's first action")
    }

    @Test("the plan's actions go to the board's channels by name: a model of [vy, vx] on a board of [vx, vy], generic motion")
    func actionsGoToTheirChannels() throws {
        let shipped = try loadShippedModel()
        var b = [[Float]](repeating: [0, 0], count: shipped.latentSize)
        b[0] = [0.1, 0]
        b[1] = [0, 0.1]
        let model = linearWorldModel(
            effect: b, actions: [ModelAction(name: "vy", lower: -1, upper: 1), ModelAction(name: "vx", lower: 0, upper: 1)],
            encoderFrom: shipped)
        var profile = try fixedBoard().profile
        profile.planner = unbudgeted {
            $0.actuators = ["vy", "vx"]
            $0.motion = .generic
            $0.roadmapEvery = 0
        }
        let channels = try profile.channels(for: model)
        #expect(channels == [1, 0])
        let s = try SimSetup()
        let source = try LatentPlannerSource(
            model: model, channels: channels, config: profile.planner!, governor: s.governor, timer: SystemClock())
        #expect(source.blockedMoves == nil, "refused moves are headings: generic motion keeps none")
        let f = Frame(width: 64, height: 64)
        s.robot.world.render(into: f)
        var goal = source.observer.encode(f.pixels)
        goal[0] -= 2  // vy back: inside its span
        goal[1] += 2  // vx ahead
        source.setGoal(latent: goal)
        s.loop.source = source
        s.arm()
        for _ in 0..<3 {
            let report = s.loop.tick()
            let vy = source.planner.firstAction(0), vx = source.planner.firstAction(1)
            #expect(report.command.efforts[1] == Double(vy) && report.command.efforts[0] == Double(vx), "\(report.command.efforts)")
            #expect(vx >= 0 && vx <= 1 && vy >= -1 && vy <= 1)
        }
        #expect(source.planner.firstAction(1) > 0.3 && source.planner.firstAction(0) < -0.3, "toward the goal on both actions")
    }

    @Test("planning allocates nothing in the tick (200 ticks, route searches included)")
    func noAllocation() throws {
        let (s, source, _) = try plannerSetup(unbudgeted { $0.roadmapEvery = 5 })
        for _ in 0..<5 { s.loop.tick() }
        allocation_counter_start()
        var n = 0
        while n < 200 {  // not `for in`: a debug build's unspecialized iterator allocates on aarch64
            s.loop.tick()
            n += 1
        }
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
            let source = try LatentPlannerSource(
                model: shippedModel, channels: [0, 1], config: unbudgeted(), governor: governor, timer: SystemClock(),
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

    @Test("a planner made slow on purpose reports 'planner starved' after max_stale_ticks; the governor stops, slows or reports")
    func starvation() throws {
        let model = try loadShippedModel()
        for action in [SurpriseAction.stop, .slow, .report] {
            var board = try fixedBoard()
            board.profile.planner = unbudgeted {
                $0.budgetMilliseconds = 4.5; $0.maxStaleTicks = 5; $0.starvedAction = action
            }
            let clock = ManualClock()
            let rig = try Rig(board: board, clock: clock, seed: 5)
            let governor = try SafetyGovernor(config: board.safetyConfig)
            // Planning fits at first (10 µs per clock reading); then every reading costs 5 ms, so no planning
            // work fits a 4.5 ms budget.
            let slow = SteppingClock(step: .microseconds(10))
            let source = try LatentPlannerSource(
                model: model, channels: board.profile.channels(for: model), config: board.profile.planner!, governor: governor, timer: slow)
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
