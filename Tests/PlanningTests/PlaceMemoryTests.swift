import Foundation
import NeuralEngine
import Planning
import TestSupport
import Testing
import WorldModel

/// Two drives in a 2-D latent world: A along x from (0, 0) to (5, 0); B from (3, 0.1) up to (3, 5), so the
/// drives meet at A's node 3. Spacing 2 steps; drive A's efforts are (1, 0), B's (0, 1).
private func crossingDrives(placeFactor: Float = 0.5) throws -> PlaceMemory {
    var latents: [Float] = [], successor: [Int32] = [], actions: [Float] = []
    for k in 0..<6 {
        latents += [Float(k), 0]
        successor.append(k < 5 ? Int32(k + 1) : -1)
        actions += [1, 0, 1, 0]
    }
    for k in 0..<6 {
        latents += [3, k == 0 ? 0.1 : Float(k)]
        successor.append(k < 5 ? Int32(6 + k + 1) : -1)
        actions += [0, 1, 0, 1]
    }
    return try PlaceMemory(
        latents: latents, successor: successor, actions: actions, latentSize: 2, actionSize: 2, spacing: 2, placeFactor: placeFactor)
}

@Suite("Place memory")
struct PlaceMemoryTests {
    @Test("a route runs along the drives' own edges and over the place where they meet, never against a drive's direction")
    func routes() throws {
        let m = try crossingDrives()
        #expect(m.stepScale == 1)
        #expect(m.placeRadius == 0.5)
        let goal: [Float] = [3, 4]
        let routed = goal.withUnsafeBufferPointer { m.setGoal($0) }
        #expect(m.goalNode == 10)
        // A's nodes 0…3 and B's 0…4 reach the goal; A's 4 and 5 lie past the crossing, B's 5 past the goal.
        #expect(routed == 9)
        for k in [4, 5, 11] { #expect(m.toGoal[k] == .infinity, "node \(k)") }
        // From A0: 3 drive edges (6 steps), the crossing (0.1 of a step apart: 0.2 steps), 4 edges of B (8 steps).
        #expect(abs(m.toGoal[0] - 14.2) < 1e-4)
        var chain = [0]
        while m.nextHop[chain.last!] >= 0 { chain.append(Int(m.nextHop[chain.last!])) }
        #expect(chain == [0, 1, 2, 3, 6, 7, 8, 9, 10])
        // 12 steps along the route from A0: past the crossing, at B's node 3 (2 steps from the goal).
        #expect(m.subgoal(from: 0, steps: 12) == 9)
        #expect(m.subgoal(from: 0, steps: 100) == 10)
        // The efforts along the route: A's (1, 0) for 6 steps, none over the crossing, then B's (0, 1).
        var out = [Float](repeating: .nan, count: 20)
        let n = out.withUnsafeMutableBufferPointer { m.routeEfforts(from: 0, into: $0, count: 10) }
        #expect(n == 10)
        #expect(Array(out[0..<12]) == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
        #expect(Array(out[12..<20]) == [0, 1, 0, 1, 0, 1, 0, 1])
    }

    @Test("localizing: the nearest node, or a nearly as near one with the cheaper route; no goal, the nearest")
    func localizing() throws {
        let m = try crossingDrives()
        let here: [Float] = [3.02, 0.06]
        // Nearest is B0 (0.05 away) over A3 (0.063): with no goal, B0.
        #expect(here.withUnsafeBufferPointer { m.localize($0).node } == 6)
        let goal: [Float] = [5, 0]
        goal.withUnsafeBufferPointer { _ = m.setGoal($0) }
        // Toward A's end, B0's route (over the crossing) costs more than A3's, but A3 is not within 15 % (0.063 > 0.051).
        #expect(here.withUnsafeBufferPointer { m.localize($0).node } == 6)
        let between: [Float] = [3.0, 0.052]
        // Nearer B0 (0.048) than A3 (0.052), within 15 %: A3, whose route is cheaper.
        #expect(between.withUnsafeBufferPointer { m.localize($0).node } == 3)
    }

    @Test("a memory file round-trips; one made for another latent size, or malformed, is refused with the reason")
    func files() throws {
        let m = try crossingDrives()
        let model = linearWorldModel(
            effect: [[0.1, 0], [0, 0.1]],
            actions: [ModelAction(name: "a", lower: -1, upper: 1), ModelAction(name: "b", lower: -1, upper: 1)])
        let path = temporaryPath("memory.safetensors")
        try m.file(metadata: ["board": "test"]).write(path: path)
        let (back, meta) = try PlaceMemory.load(path: path, model: model)
        #expect(back.latents == m.latents && back.successor == m.successor && back.actions == m.actions && back.spacing == 2)
        #expect(meta["board"] == "test")
        let wide = linearWorldModel(effect: [[0.1, 0], [0, 0.1], [0, 0]], actions: model.actions)
        #expect(throws: ModelError.self) { _ = try PlaceMemory.load(path: path, model: wide) }
        do {
            _ = try PlaceMemory.load(path: path, model: wide)
        } catch let e as ModelError {
            #expect(e.reason.contains(path) && e.reason.contains("latent has 3 values"))
        }
        var f = m.file(metadata: [:])
        f.tensors["successor"] = .i32(Tensor(shape: [12], scalars: [1, 2, 3, 4, 5, 99, 7, 8, 9, 10, 11, -1]))
        try f.write(path: path)
        do {
            _ = try PlaceMemory.load(path: path, model: model)
            Issue.record("a successor outside the nodes was accepted")
        } catch let e as ModelError {
            #expect(e.reason.contains("successor 99 is not a node"))
        }
        f.metadata["format"] = "something else"
        try f.write(path: path)
        #expect(throws: ModelError.self) { _ = try PlaceMemory.load(path: path, model: model) }
    }

    @Test("built from recorded episodes: a node every spacing frames, joined along each episode with its efforts")
    func building() throws {
        // Frames whose first pixel is the step index; the encoder reads it as the latent (t, 0).
        var frames: [UInt8] = []
        for t in 0..<9 { frames += [UInt8(t)] + [UInt8](repeating: 0, count: 15) }
        let actions = (0..<8).flatMap { [Float($0) / 10, -Float($0) / 10] }
        let e = try Episode(width: 4, height: 4, frames: frames, actions: actions, actionSize: 2, positions: nil, source: "test")
        let m = try PlaceMemory.build(episodes: [e, e], spacing: 3, latentSize: 2) { [Float($0[0]), 0] }
        #expect(m.nodeCount == 6)
        #expect(m.successor == [1, 2, -1, 4, 5, -1])
        #expect(Array(m.latents[0..<6]) == [0, 0, 3, 0, 6, 0])
        #expect(Array(m.actions[0..<6]) == [0, -0, 0.1, -0.1, 0.2, -0.2])
    }
}
