import Configuration
import Evaluation
import Foundation
import LinuxHardware
import Planning
import RobotCore
import Simulation
import TestSupport
import Testing
import WorldModel
@testable import Control

/// What the shipped model must be able to do (run by `make eval-smoke`, not `make test-unit`: these check a
/// trained model's quality, not the code's behaviour).
@Suite("Shipped model quality")
struct ShippedModelQualityTests {
    @Test("route search in imagination finds the way through the door, and it works in the real world")
    func routeThroughDoor() throws {
        let shippedModel = try loadShippedModel()
        let encoder = try shippedModel.makeQuantizedEncoder()
        let c = twoRoomsPlanner()  // the shipped board's settings
        let roadmap = try LatentRoadmap(model: shippedModel, config: c)
        let start = Vec2(20, 10), goal = Vec2(44, 10)  // the wall is between them; the door is at y 27.5…36.5
        let z = latent(at: start, encoder), g = latent(at: goal, encoder)
        let found = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer {
                roadmap.search(from: zb, goal: $0, mergeFactor: Float(c.roadmapMergeFactor), goalFactor: Float(c.roadmapGoalFactor))
            }
        }
        #expect(found)
        // Replay the route's macro actions in the true world.
        var world = TwoRoomsWorld(layout: .fixed, start: start, goal: goal)
        var lowest = start.y
        for leg in 0..<roadmap.routeLength {
            let (ex, ey) = (roadmap.effort(roadmap.route[leg], 0), roadmap.effort(roadmap.route[leg], 1))
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
            #expect(
                TwoRoomsLayout.fixed.side(of: Vec2(p.start[0], p.start[1])) != TwoRoomsLayout.fixed.side(of: Vec2(p.goal[0], p.goal[1])))
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
        board.profile.simulation!.world = .twoRoomsRandom
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
