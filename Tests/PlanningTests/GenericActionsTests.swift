import Glibc
import Planning
import TestSupport
import Testing
import WorldModel

/// The planner with the board's actions: any count, any span, no heading assumed unless the board says holonomic.
@Suite("Planning with the board's actions")
struct GenericActionsTests {
    static func actions(_ spans: [(String, Double, Double)]) -> [ModelAction] {
        spans.map { ModelAction(name: $0.0, lower: $0.1, upper: $0.2) }
    }

    /// Plans and steps the model's own latent world (z ← z + B·a) for `ticks` ticks from `z0` toward `goal`; returns
    /// the final latent, the distance to the goal after each tick and every first action taken.
    static func drive(
        _ model: WorldModelFile, effect b: [[Float]], from z0: [Float], to goal: [Float], ticks: Int, seed: UInt64 = 5,
        config: PlannerConfig = unbudgeted {
            $0.motion = .generic; $0.actuators = nil
        }
    ) throws -> (z: [Float], distances: [Float], taken: [[Float]]) {
        let planner = try LatentPlanner(model: model, config: config, seed: seed)
        var z = z0, taken: [[Float]] = [], distances: [Float] = []
        for _ in 0..<ticks {
            z.withUnsafeBufferPointer { zb in goal.withUnsafeBufferPointer { _ = planner.plan(from: zb, goal: $0) } }
            let u = (0..<planner.actionSize).map { planner.firstAction($0) }
            taken.append(u)
            for i in z.indices { for k in u.indices { z[i] += b[i][k] * u[k] } }
            distances.append(distance(z, goal))
            planner.shift()
        }
        return (z, distances, taken)
    }

    static func distance(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }

    @Test(
        "three actions of different spans, coupled in the latent: the plan reaches the goal, stays near it, never leaves the spans",
        arguments: [5, 6, 7] as [UInt64])
    func threeActionsReachTheGoal(seed: UInt64) throws {
        let spans = Self.actions([("steering", -1, 1), ("throttle", 0, 1), ("winch", -0.5, 0.5)])
        let b: [[Float]] = [[0.1, 0.03, 0], [0, 0.1, 0], [0, 0, 0.1], [0.02, 0, -0.02]]
        let model = linearWorldModel(effect: b, actions: spans)
        let z0: [Float] = [0, 0, 0, 0]
        // Reachable inside the spans: steering -0.6, throttle 1, winch 0.5 for 20 steps.
        var goal = z0
        for i in goal.indices { goal[i] += 20 * (b[i][0] * -0.6 + b[i][1] * 1 + b[i][2] * 0.5) }
        // The goal lies on the spans' edges (full throttle, full winch): the plan must get there and stop, with no reverse.
        let (_, distances, taken) = try Self.drive(model, effect: b, from: z0, to: goal, ticks: 100, seed: seed)
        let start = Self.distance(z0, goal), closest = distances.min()!
        let lastMean = distances.suffix(30).reduce(0, +) / 30
        #expect(closest < 0.1 * start, "came within \(closest) of the goal, started \(start) away")
        #expect(lastMean < 0.25 * start, "the last 30 ticks averaged \(lastMean) from the goal")
        for u in taken {
            #expect(u[0] >= -1 && u[0] <= 1 && u[1] >= 0 && u[1] <= 1 && u[2] >= -0.5 && u[2] <= 0.5, "action \(u) outside its spans")
        }
    }

    @Test("one forward-only action: the goal ahead is reached, and reverse is never asked for")
    func oneForwardOnlyAction() throws {
        let b: [[Float]] = [[0.1], [0.05]]
        let model = linearWorldModel(effect: b, actions: Self.actions([("throttle", 0, 1)]))
        let ahead: [Float] = [2, 1], behind: [Float] = [-2, -1]
        let (_, distances, taken) = try Self.drive(model, effect: b, from: [0, 0], to: ahead, ticks: 60)
        #expect(distances.min()! < 0.15 * Self.distance([0, 0], ahead), "came within \(distances.min()!)")
        // A goal behind cannot be reached: the plan holds still. (Averaging clipped samples instead of the samples as
        // drawn crept forward here, 0.29 away in 20 ticks.)
        let (zb, _, back) = try Self.drive(model, effect: b, from: [0, 0], to: behind, ticks: 20)
        #expect((taken + back).allSatisfy { $0[0] >= 0 && $0[0] <= 1 })
        #expect(Self.distance(zb, behind) < Self.distance([0, 0], behind) + 0.05, "it crept away from a goal it cannot reach")
    }

    @Test("macro actions: the action box's corners and axes for generic motion, headings for holonomic")
    func macroActions() throws {
        func box(_ spans: [(String, Double, Double)], motion: PlannerMotion = .generic) throws -> ActionBox {
            var c = PlannerConfig()
            c.motion = motion
            let model = linearWorldModel(
                effect: [[Float]](repeating: [Float](repeating: 0, count: spans.count), count: 2), actions: Self.actions(spans))
            return try ActionBox(model: model, config: c)
        }
        let full = ("a", -1.0, 1.0)
        #expect(try box([full]).macroActions(headings: 16) == [-1, 1])
        #expect(try box([full, full]).macroActions(headings: 16).count == 8 * 2)
        #expect(try box([full, full, full]).macroActions(headings: 16).count == 26 * 3)
        #expect(try box([full, full, full, full]).macroActions(headings: 16).count == 8 * 4, "past 64 combinations: each axis's two ends")
        // A span that starts at rest adds no duplicate: throttle [0, 1] has one end away from rest.
        let car = try box([("steering", -1, 1), ("throttle", 0, 1)]).macroActions(headings: 16)
        let legs = stride(from: 0, to: car.count, by: 2).map { [car[$0], car[$0 + 1]] }
        #expect(legs.count == 5 && Set(legs.map { "\($0)" }).count == 5, "\(legs)")
        #expect(legs.allSatisfy { $0[1] >= 0 })
        let headings = try box([full, full], motion: .holonomic).macroActions(headings: 16)
        #expect(headings.count == 32)
        for m in 0..<16 {
            #expect(abs((headings[2 * m] * headings[2 * m] + headings[2 * m + 1] * headings[2 * m + 1]).squareRoot() - 1) < 1e-6)
        }
    }

    @Test("the route search takes the board's actions: a route found in a generic two-action model stays on the box's corners")
    func routeSearchWithGenericActions() throws {
        let b: [[Float]] = [[0.1, 0], [0, 0.1]]
        let spans = Self.actions([("steering", -1, 1), ("throttle", 0, 1)])
        let model = linearWorldModel(effect: b, actions: spans)
        var c = unbudgeted {
            $0.motion = .generic; $0.actuators = nil
        }
        c.roadmapMacroSteps = 3
        let roadmap = try LatentRoadmap(model: model, config: c)
        #expect(roadmap.directions == 5)
        let z: [Float] = [0, 0], goal: [Float] = [-0.6, 0.9]
        let found = z.withUnsafeBufferPointer { zb in
            goal.withUnsafeBufferPointer { roadmap.search(from: zb, goal: $0, mergeFactor: 0.8, goalFactor: 0.8) }
        }
        #expect(found)
        var end = z
        for leg in 0..<roadmap.routeLength {
            let u = [roadmap.effort(roadmap.route[leg], 0), roadmap.effort(roadmap.route[leg], 1)]
            #expect(u[1] >= 0, "no reverse in a forward-only span: \(u)")
            for _ in 0..<roadmap.macroSteps { for i in end.indices { end[i] += b[i][0] * u[0] + b[i][1] * u[1] } }
        }
        #expect(
            Self.distance(end, goal) < 0.8 * roadmap.stepScale + 1e-4,
            "the route's imagined end \(end) is within the goal radius of \(goal)")
    }

    @Test("a model is matched to the board's planned actuators by name and order; another set is refused with both lists")
    func plannedChannelsByName() throws {
        let model = linearWorldModel(effect: [[0.1, 0], [0, 0.1]], actions: Self.actions([("vy", -1, 1), ("vx", -1, 1)]))
        #expect(try plannedChannels(model: model, planned: ["vy", "vx"], boardActuators: ["vx", "vy", "lamp"]) == [1, 0])
        #expect {
            try plannedChannels(model: model, planned: ["vx", "vy"], boardActuators: ["vx", "vy"])
        } throws: { "\($0)".contains("[vy, vx]") && "\($0)".contains("[vx, vy]") && "\($0)".contains("planner.actuators") }
        let car = linearWorldModel(effect: [[0.1, 0], [0, 0.1]], actions: Self.actions([("steering", -1, 1), ("throttle", 0, 1)]))
        #expect {
            try plannedChannels(model: car, planned: ["vx", "vy"], boardActuators: ["vx", "vy"])
        } throws: { "\($0)".contains("[steering, throttle]") }
    }

    @Test("holonomic motion needs a planar velocity, and a span outside max_effort is refused")
    func boxChecks() throws {
        let one = linearWorldModel(effect: [[0.1], [0]], actions: Self.actions([("throttle", 0, 1)]))
        var c = PlannerConfig()
        c.motion = .holonomic
        #expect { try ActionBox(model: one, config: c) } throws: { "\($0)".contains("holonomic") }
        let high = linearWorldModel(effect: [[0.1], [0]], actions: Self.actions([("throttle", 0.5, 1)]))
        var low = PlannerConfig()
        low.maxEffort = 0.3
        #expect { try ActionBox(model: high, config: low) } throws: { "\($0)".contains("max_effort") }
        var named = PlannerConfig()
        named.motion = .holonomic
        named.actuators = ["throttle"]
        #expect(named.problems().contains { $0.contains("two actuators") })
    }
}
