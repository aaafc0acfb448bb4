import Foundation
import NeuralEngine
import RobotCore
import WorldModel

/// A persistent memory of places: a topological map of the robot's surroundings in latent space, the way
/// ViNT and NoMaD navigate (Shah et al. 2023; Sridhar et al. 2024). Its nodes are latents of frames from
/// recorded drives, one every `spacing` world steps; its edges are transitions known to be feasible —
/// each node to the next one of its drive (the drive made it, with the efforts recorded for it), and
/// between nodes of different drives whose latents are within `placeRadius` (the same place seen
/// again: where the drives cross). With a goal latent, the map gives every node its cost to the goal
/// along the edges (Dijkstra, in world steps); the planner localizes the current latent among the
/// nodes, follows the route a few nodes ahead, and plans by MPC to that node's latent.
///
/// Everything per tick (`localize`, `subgoal`) is allocation-free; `setGoal` allocates nothing either.
public final class PlaceMemory {
    public let latentSize: Int
    public let actionSize: Int
    /// World steps between consecutive nodes of a drive.
    public let spacing: Int
    public let nodeCount: Int
    /// Node latents, `nodeCount` × `latentSize`.
    public let latents: [Float]
    /// The next node of the same drive, or -1 at a drive's end.
    public let successor: [Int32]
    /// The node before each one on its drive, or -1 at a drive's start.
    public let predecessor: [Int32]
    /// The efforts applied from each node to its successor: `nodeCount` × `spacing` × `actionSize`.
    public let actions: [Float]
    /// Where each node's frame was taken (the simulator's truth, x and y per node), when the drives had it:
    /// for judging localization in evaluations only, never for planning.
    public var positions: [Float]?
    /// Median latent distance between a node and its successor.
    public let stepScale: Float
    /// Latent distance within which nodes of different drives are the same place.
    public let placeRadius: Float
    /// Edges, by source node (compressed rows), and reversed, by target node, for the search from the goal.
    private let edgeStart: [Int32], edgeTarget: [Int32], edgeCost: [Float]
    private let reverseStart: [Int32], reverseSource: [Int32], reverseCost: [Float]
    public var edgeCount: Int { edgeTarget.count }
    /// Per node: cost to the current goal, world steps (∞: cut off from it), and the next node on the way.
    public private(set) var toGoal: [Float]
    public private(set) var nextHop: [Int32]
    /// The node nearest the goal latent (-1: no goal).
    public private(set) var goalNode = -1
    /// The search's frontier, allocated once (every edge and every node can be pushed once).
    private var heap: MinHeap<Float>
    /// Each node's localization score at the last `localize` (reused, so localizing allocates nothing).
    private var scores: [Float]

    /// `placeFactor`: the place radius in units of `stepScale`.
    public init(
        latents: [Float], successor: [Int32], actions: [Float], latentSize: Int, actionSize: Int, spacing: Int, placeFactor: Float = 0.5
    )
        throws
    {
        let n = successor.count
        guard latentSize > 0, actionSize > 0, spacing > 0, n >= 2, latents.count == n * latentSize,
            actions.count == n * spacing * actionSize
        else {
            throw ModelError("place memory: \(n) nodes need \(n * latentSize) latent values and \(n * spacing * actionSize) efforts")
        }
        if let bad = successor.firstIndex(where: { $0 < -1 || Int($0) >= n }) {
            throw ModelError("place memory: node \(bad)'s successor \(successor[bad]) is not a node")
        }
        guard latents.allSatisfy(\.isFinite), actions.allSatisfy(\.isFinite) else { throw ModelError("place memory: non-finite values") }
        (self.latentSize, self.actionSize, self.spacing, nodeCount) = (latentSize, actionSize, spacing, n)
        (self.latents, self.successor, self.actions) = (latents, successor, actions)
        var before = [Int32](repeating: -1, count: n)
        for i in 0..<n where successor[i] >= 0 { before[Int(successor[i])] = Int32(i) }
        predecessor = before
        let d = latentSize
        func distance(_ i: Int, _ j: Int) -> Float {
            latents.withUnsafeBufferPointer {
                squaredLatentDistance($0.baseAddress! + i * d, $0.baseAddress! + j * d, count: d).squareRoot()
            }
        }
        var steps = (0..<n).compactMap { i in successor[i] >= 0 ? distance(i, Int(successor[i])) : nil }
        guard !steps.isEmpty else { throw ModelError("place memory: no node has a successor (a drive needs two nodes)") }
        steps.sort()
        stepScale = max(steps[steps.count / 2], 1e-6)
        placeRadius = placeFactor * stepScale
        // The drive of each node: a place edge joins nodes of different drives (or far apart in one).
        var drive = [Int](repeating: -1, count: n), order = [Int](repeating: 0, count: n)
        var hasPredecessor = [Bool](repeating: false, count: n)
        for i in 0..<n where successor[i] >= 0 { hasPredecessor[Int(successor[i])] = true }
        var driveCount = 0
        for i in 0..<n where !hasPredecessor[i] {
            var k = i, t = 0
            while k >= 0 && drive[k] < 0 {
                drive[k] = driveCount
                order[k] = t
                t += 1
                k = Int(successor[k])
            }
            driveCount += 1
        }
        var outgoing = [[(Int32, Float)]](repeating: [], count: n)
        for i in 0..<n where successor[i] >= 0 { outgoing[i].append((successor[i], Float(spacing))) }
        let r2 = placeRadius * placeRadius, scale = stepScale
        latents.withUnsafeBufferPointer { z in
            for i in 0..<n {
                for j in (i + 1)..<n where drive[i] != drive[j] || abs(order[i] - order[j]) > 4 {
                    let s = squaredLatentDistance(z.baseAddress! + i * d, z.baseAddress! + j * d, count: d)
                    guard s < r2 else { continue }
                    // The same place: moving between the two costs what the latent gap is worth in steps.
                    let cost = Float(spacing) * s.squareRoot() / scale
                    outgoing[i].append((Int32(j), cost))
                    outgoing[j].append((Int32(i), cost))
                }
            }
        }
        var start: [Int32] = [0], target: [Int32] = [], cost: [Float] = []
        var incoming = [[(Int32, Float)]](repeating: [], count: n)
        for i in 0..<n {
            for (j, c) in outgoing[i] {
                target.append(j)
                cost.append(c)
                incoming[Int(j)].append((Int32(i), c))
            }
            start.append(Int32(target.count))
        }
        var rStart: [Int32] = [0], rSource: [Int32] = [], rCost: [Float] = []
        for j in 0..<n {
            for (i, c) in incoming[j] {
                rSource.append(i)
                rCost.append(c)
            }
            rStart.append(Int32(rSource.count))
        }
        (edgeStart, edgeTarget, edgeCost) = (start, target, cost)
        (reverseStart, reverseSource, reverseCost) = (rStart, rSource, rCost)
        toGoal = [Float](repeating: .infinity, count: n)
        nextHop = [Int32](repeating: -1, count: n)
        scores = [Float](repeating: 0, count: n)
        heap = MinHeap(capacity: target.count + n + 1, filler: 0)
    }

    /// The latent distance from `z` to node `k`.
    @inline(__always)
    public func distance(_ z: UnsafePointer<Float>, node k: Int) -> Float {
        latents.withUnsafeBufferPointer { squaredLatentDistance(z, $0.baseAddress! + k * latentSize, count: latentSize).squareRoot() }
    }

    /// Node `k`'s latent.
    public func withLatent<R>(of k: Int, _ body: (UnsafeBufferPointer<Float>) -> R) -> R {
        latents.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[(k * latentSize)..<((k + 1) * latentSize)])) }
    }

    /// Routes every node to the goal latent `g`: the nodes within the place radius of it (or the nearest
    /// one) are the goal, at the cost of their latent gap; Dijkstra from them along reversed edges.
    /// Returns how many nodes have a route.
    @discardableResult
    public func setGoal(_ g: UnsafeBufferPointer<Float>) -> Int {
        precondition(g.count == latentSize)
        let n = nodeCount
        var nearest = 0, best = Float.infinity
        for k in 0..<n {
            toGoal[k] = .infinity
            nextHop[k] = -1
            let s = distance(g.baseAddress!, node: k)
            if s < best { (best, nearest) = (s, k) }
        }
        goalNode = nearest
        heap.removeAll()
        for k in 0..<n {
            let s = distance(g.baseAddress!, node: k)
            guard k == nearest || s < placeRadius else { continue }
            toGoal[k] = Float(spacing) * s / stepScale
            heap.push(toGoal[k], Int32(k))
        }
        var routed = 0
        while let (c, top) = heap.popMin() {
            let k = Int(top)
            if c > toGoal[k] { continue }
            routed += 1
            for e in Int(reverseStart[k])..<Int(reverseStart[k + 1]) {
                let src = Int(reverseSource[e]), nc = c + reverseCost[e]
                if nc < toGoal[src] && heap.push(nc, Int32(src)) {
                    toGoal[src] = nc
                    nextHop[src] = Int32(k)
                }
            }
        }
        return routed
    }

    /// The node the latent `z` is at: among the nodes within 15 % of the nearest one's distance, the one
    /// with the cheapest route to the goal; when none of them has a route, the same within 50 % (without a
    /// goal: the nearest). Returns the node and its distance.
    public func localize(_ z: UnsafeBufferPointer<Float>) -> (node: Int, distance: Float) { localize(sequence: z, count: 1) }

    /// Localizing a short history: `recent` holds `count` latents, newest first, `spacing` steps apart (the
    /// camera's latents now, a node's spacing ago, …). Each node is scored by the mean latent distance of the
    /// history to it and its predecessors on its drive (a drive's start scores the missing ones at 1.5 × the
    /// place radius beyond its last), so a view that looks like another place must also have been reached
    /// the way that place was (sequence matching, after SeqSLAM). Among the nodes within 15 % of the best
    /// score (50 % when none of those has a route), the one with the cheapest route wins. Each node is scored
    /// once per call, into a buffer kept from the last.
    public func localize(sequence recent: UnsafeBufferPointer<Float>, count: Int) -> (node: Int, distance: Float) {
        precondition(count >= 1 && recent.count >= count * latentSize)
        let base = recent.baseAddress!
        var best = Float.infinity, node = 0
        for k in 0..<nodeCount {
            var total: Float = 0, at = k, last: Float = 0
            for h in 0..<count {
                if at < 0 {
                    total += last + 1.5 * placeRadius
                    continue
                }
                last = distance(base + h * latentSize, node: at)
                total += last
                at = Int(predecessor[at])
            }
            let s = total / Float(count)
            scores[k] = s
            if s < best { (best, node) = (s, k) }
        }
        guard goalNode >= 0 else { return (node, best) }
        var pick = node
        for pass in 0..<2 {
            let limit = best * (pass == 0 ? 1.15 : 1.5)
            var cheapest = toGoal[node]
            for k in 0..<nodeCount where toGoal[k] < cheapest && scores[k] <= limit { (cheapest, pick) = (toGoal[k], k) }
            if cheapest.isFinite { break }
        }
        return (pick, scores[pick])
    }

    /// The node `steps` world steps (or more) along the route from `node`, or the last one before the goal.
    public func subgoal(from node: Int, steps: Int) -> Int {
        var k = node
        let target = toGoal[node] - Float(steps)
        while nextHop[k] >= 0 && toGoal[k] > target { k = Int(nextHop[k]) }
        return k
    }

    /// The node whose recorded drive the route follows from `node`: `node` itself when the route goes on
    /// along its drive, else the node across the place edges the route takes first (at most 8).
    public func driveNode(from node: Int) -> Int {
        var k = node
        for _ in 0..<8 {
            let next = nextHop[k]
            guard next >= 0, next != successor[k] else { break }
            k = Int(next)
        }
        return k
    }

    /// The efforts recorded along the route from `node`, up to `count` steps, into `out` (`count` ×
    /// `actionSize`); a place edge (the same place on another drive) takes none. Returns the steps written.
    public func routeEfforts(from node: Int, into out: UnsafeMutableBufferPointer<Float>, count: Int) -> Int {
        var k = node, t = 0
        let a = actionSize
        while t < count, k >= 0 {
            let next = Int(nextHop[k])
            guard next >= 0 else { break }
            if Int32(next) == successor[k] {
                for s in 0..<spacing where t < count {
                    for j in 0..<a { out[t * a + j] = actions[(k * spacing + s) * a + j] }
                    t += 1
                }
            }
            k = next
        }
        return t
    }

    /// The outgoing edges of node `k`: (target, cost in steps).
    public func edges(of k: Int) -> [(Int, Float)] {
        (Int(edgeStart[k])..<Int(edgeStart[k + 1])).map { (Int(edgeTarget[$0]), edgeCost[$0]) }
    }
}

extension PlaceMemory {
    /// The memory as a safetensors file: `latents` [N, D], `successor` [N] (I32), `actions` [N, spacing, A];
    /// metadata names the model it was encoded with (`model_crc32`), the spacing and the drives' source.
    public func file(metadata: [String: String]) -> SafetensorsFile {
        var m = metadata
        m["format"] = "cerebellum place memory 1"
        m["spacing"] = String(spacing)
        var tensors: [String: AnyTensor] = [
            "latents": .f32(Tensor(shape: [nodeCount, latentSize], scalars: latents)),
            "successor": .i32(Tensor(shape: [nodeCount], scalars: successor)),
            "actions": .f32(Tensor(shape: [nodeCount, spacing, actionSize], scalars: actions)),
        ]
        if let positions { tensors["positions"] = .f32(Tensor(shape: [nodeCount, 2], scalars: positions)) }
        return SafetensorsFile(tensors: tensors, metadata: m)
    }

    /// Reads a memory file written by `file(metadata:)`; every malformed part is an error naming the file.
    /// `model`: the world model it must have been encoded with (its latent size and actions are checked).
    public static func load(path: String, model: WorldModelFile, placeFactor: Float = 0.5) throws -> (PlaceMemory, [String: String]) {
        let f = try SafetensorsFile.read(path: path)
        guard f.metadata["format"] == "cerebellum place memory 1" else {
            throw ModelError("\(path): not a place memory (cerebellum memory build writes one)")
        }
        guard let spacing = f.metadata["spacing"].flatMap({ Int($0) }), (1...64).contains(spacing) else {
            throw ModelError("\(path): metadata spacing is missing or outside 1…64")
        }
        let z = try f.tensor("latents", Float.self, path: path)
        guard z.shape.count == 2, z.shape[1] == model.latentSize else {
            throw ModelError("\(path): latents have shape \(z.shape), the model's latent has \(model.latentSize) values")
        }
        let n = z.shape[0]
        let s = try f.tensor("successor", Int32.self, shape: [n], path: path)
        let a = try f.tensor("actions", Float.self, shape: [n, spacing, model.actions.count], path: path)
        do {
            let memory = try PlaceMemory(
                latents: z.scalars, successor: s.scalars, actions: a.scalars, latentSize: model.latentSize, actionSize: model.actions.count,
                spacing: spacing, placeFactor: placeFactor)
            if f.tensors["positions"] != nil {
                memory.positions = try f.tensor("positions", Float.self, shape: [n, 2], path: path).scalars
            }
            return (memory, f.metadata)
        } catch let e as ModelError { throw ModelError("\(path): \(e.reason)") }
    }
}

extension PlaceMemory {
    /// A memory of recorded drives: a node every `spacing` frames of each episode (its latent from
    /// `encode`, a frame's `width` × `height` gray pixels), each joined to the next node of its episode with
    /// the efforts applied in between. Episodes shorter than two nodes are left out.
    public static func build(
        episodes: [Episode], spacing: Int, latentSize: Int, placeFactor: Float = 0.5, encode: ([UInt8]) -> [Float]
    ) throws -> PlaceMemory {
        guard let first = episodes.first else { throw ModelError("place memory: no episodes") }
        var latents: [Float] = [], successor: [Int32] = [], actions: [Float] = [], positions: [Float] = []
        let a = first.actionSize
        let truth = episodes.allSatisfy { $0.positions != nil }
        for e in episodes {
            let n = (e.frameCount - 1) / spacing + 1
            guard n >= 2, e.actionSize == a else { continue }
            let base = successor.count
            for k in 0..<n {
                let t = k * spacing
                let z = encode(Array(e.frames[(t * e.frameBytes)..<((t + 1) * e.frameBytes)]))
                guard z.count == latentSize else { throw ModelError("place memory: the encoder gave \(z.count) values, not \(latentSize)") }
                latents += z
                if truth, let p = e.positions { positions += [p[2 * t], p[2 * t + 1]] }
                let last = k == n - 1 || t + spacing > e.frameCount - 1
                successor.append(last ? -1 : Int32(base + k + 1))
                for s in 0..<spacing {
                    for j in 0..<a { actions.append(!last && t + s < e.frameCount - 1 ? e.actions[(t + s) * a + j] : 0) }
                }
            }
        }
        let memory = try PlaceMemory(
            latents: latents, successor: successor, actions: actions, latentSize: latentSize, actionSize: a, spacing: spacing,
            placeFactor: placeFactor)
        if truth { memory.positions = positions }
        return memory
    }
}
