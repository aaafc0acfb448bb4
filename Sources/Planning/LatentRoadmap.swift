import Glibc
import NeuralEngine
import RobotCore
import WorldModel

/// Breadth-first search in imagination, for routes around walls and through doors that a
/// sampling planner cannot see: the latent distance to a goal image is flat beyond a few agent
/// diameters (see `cerebellum eval --cost-map`), so a goal behind a wall gives no gradient.
///
/// From the current latent, the predictor is rolled out for a fixed set of macro actions, each held
/// for `macroSteps` steps: `ActionBox.macroActions` (full effort along one of `directions` headings for
/// holonomic motion; the action box's corners and axes otherwise). A child that lands within
/// the merge radius of a known node is dropped (a move into a wall barely moves the latent, so it
/// merges with its parent). The search ends when a node comes within the goal radius of the goal
/// latent; its chain of macro actions is the route. Radii are multiples of the latent distance one
/// macro step covers from the start, since the latent's scale differs between layouts and models.
///
/// The search is resumable: `begin` sets it up, `advance` expands batches of children until a
/// deadline, so a long search spreads over several ticks. Allocation-free after init.
public final class LatentRoadmap {
    public enum Status: Sendable, Equatable {
        case idle, searching, found, exhausted
    }

    public let latentSize: Int
    /// Efforts per action.
    public let actionSize: Int
    /// Macro actions per node.
    public let directions: Int
    public let macroSteps: Int
    public let maxNodes: Int
    private let batch: Int
    private let predictor: DenseStack
    private var nodes: [Float]
    private var parent: [Int32]
    private var move: [Int8]
    public private(set) var nodeCount = 0
    private var goal: [Float]
    private var childLatents: [Float]
    private var childParent: [Int32]
    private var childMove: [Int8]
    private var rootMoves: [Float]
    /// Per child of the batch: whether its current sub-step is a move the world refused.
    private var childHeld: [Bool]
    /// Moves the world refused this episode: imagined sub-steps like them are held still (nil: none kept;
    /// holonomic motion only).
    public var blockedMoves: BlockedMoves?
    private var directionEfforts: [Float]
    /// Latent distance covered by one macro step from the search's start (upper quartile over directions).
    public private(set) var stepScale: Float = 0
    private var mergeFactor: Float = 0.8
    private var goalFactor: Float = 0.8
    private var mergeRadius = Float.infinity
    private var goalRadius: Float = 0
    /// Breadth-first cursor: the current layer's nodes [layerStart, layerEnd) and the next (node, direction) pair.
    private var layerStart = 0, layerEnd = 0, pair = 0
    public private(set) var status = Status.idle
    /// The route of the last successful search: macro action per leg, from the start.
    public private(set) var route: [Int8]
    public private(set) var routeLength = 0
    /// Running estimates of the wall-clock cost of a batch's parts, ns: one child's rollout (a predictor
    /// row per macro sub-step) and one child-to-node distance check (a batch makes children × known
    /// nodes of them, so the batch cost grows with the graph).
    public private(set) var childCost = CostEstimate()
    private var checkCost = CostEstimate()
    /// Children expanded (rolled out and checked) over this search's life, all searches.
    public private(set) var expanded = 0

    /// The wall-clock time to plan with for one more child of the next batch, ns: the mean plus one
    /// deviation (not the three the planner's chunks use): a batch that runs late stops between macro
    /// steps and between children, so an optimistic estimate costs at most one child's work.
    private var perChildEstimate: Double {
        childCost.mean + childCost.deviation + (checkCost.mean + checkCost.deviation) * Double(nodeCount)
    }

    /// `box`: the actions the search may take; `headings`: the macro actions of holonomic motion.
    /// `kernel`: the dense kernel of the rollouts (nil: the fastest of `precision` that passes its check).
    public init(
        model: WorldModelFile, box: ActionBox, headings: Int = 16, macroSteps: Int = 3, maxNodes: Int = 768, batch: Int = 64,
        kernel: DenseKernel? = nil, precision: DensePrecision = .fp32
    ) throws {
        guard box.count == model.actions.count else {
            throw ModelError("roadmap: the action box has \(box.count) actions, the model \(model.actions.count)")
        }
        let macro = box.macroActions(headings: headings)
        let directions = macro.count / box.count
        guard (4...64).contains(headings), (1...64).contains(directions), (1...16).contains(macroSteps), maxNodes >= 2, batch >= directions
        else {
            throw ModelError("roadmap: headings 4…64, 1…64 macro actions, macro steps 1…16, batch ≥ macro actions")
        }
        latentSize = model.latentSize
        actionSize = box.count
        self.directions = directions
        self.macroSteps = macroSteps
        self.maxNodes = maxNodes
        self.batch = batch
        predictor = try model.makeRolloutPredictor(capacity: batch, kernel: kernel, precision: precision).stack
        nodes = [Float](repeating: 0, count: maxNodes * model.latentSize)
        parent = [Int32](repeating: -1, count: maxNodes)
        move = [Int8](repeating: 0, count: maxNodes)
        goal = [Float](repeating: 0, count: model.latentSize)
        childLatents = [Float](repeating: 0, count: batch * model.latentSize)
        childParent = [Int32](repeating: 0, count: batch)
        childMove = [Int8](repeating: 0, count: batch)
        rootMoves = [Float](repeating: 0, count: batch)
        childHeld = [Bool](repeating: false, count: batch)
        route = [Int8](repeating: 0, count: maxNodes)
        directionEfforts = macro
    }

    /// The search a planner configuration asks for (`roadmap_directions`, `roadmap_macro_steps`, `roadmap_max_nodes`).
    public convenience init(model: WorldModelFile, config: PlannerConfig, kernel: DenseKernel? = nil) throws {
        try self.init(
            model: model, box: ActionBox(model: model, config: config), headings: config.roadmapDirections,
            macroSteps: config.roadmapMacroSteps,
            maxNodes: config.roadmapMaxNodes, kernel: kernel, precision: config.predictor)
    }

    /// Effort `j` of macro action `m`.
    public func effort(_ m: Int8, _ j: Int) -> Float { directionEfforts[Int(m) * actionSize + j] }

    private func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        squaredDistance(a, b).squareRoot()
    }

    private func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        squaredLatentDistance(a, b, count: latentSize)
    }

    /// Starts a search from `z0` toward `goal`; `advance` does the work.
    public func begin(from z0: UnsafeBufferPointer<Float>, goal g: UnsafeBufferPointer<Float>, mergeFactor: Float, goalFactor: Float) {
        precondition(z0.count == latentSize && g.count == latentSize)
        for j in 0..<latentSize { nodes[j] = z0[j]; goal[j] = g[j] }
        parent[0] = -1
        nodeCount = 1
        self.mergeFactor = mergeFactor
        self.goalFactor = goalFactor
        (layerStart, layerEnd, pair) = (0, 1, 0)
        status = .searching
    }

    /// Expands batches until the route is found, the search space is exhausted (or `maxNodes` is
    /// reached), or no batch of at least one child would end before `deadline` on `clock`: a batch holds
    /// as many children (up to its capacity) as the estimates say fit. Returns the status.
    @discardableResult
    public func advance(clock: RobotClock? = nil, deadline: Instant? = nil) -> Status {
        let d = latentSize, a = actionSize, width = d + a
        while status == .searching {
            if pair >= layerEnd * directions {
                // The layer is done: the next one is every node added meanwhile.
                guard nodeCount > layerEnd, nodeCount < maxNodes else { status = .exhausted; break }
                (layerStart, layerEnd) = (layerEnd, nodeCount)
                pair = layerStart * directions
            }
            var count = min(batch, layerEnd * directions - pair)
            let start = clock?.now()
            if let start, let deadline, childCost.isMeasured {
                let left = Double((deadline - start).nanoseconds)
                count = min(count, Int(left / perChildEstimate))
                // The first batch calibrates the radii from every direction out of the start.
                if count < (pair == 0 ? min(directions, layerEnd * directions) : 1) {
                    childCost.decay()
                    checkCost.decay()
                    break
                }
            }
            // Work that runs past the deadline (slower than its estimate, or preempted) stops between
            // predictor passes and between children; what was not accepted is redone next time. The
            // arrays' storage is taken once per batch: these loops run per child and latent dimension.
            let rolledOut = childLatents.withUnsafeMutableBufferPointer { cz -> Bool in
                nodes.withUnsafeBufferPointer { nz -> Bool in
                    predictor.input.withUnsafeMutableBufferPointer { xb -> Bool in
                        predictor.output.withUnsafeBufferPointer { ob -> Bool in
                            let z = cz.baseAddress!, x = xb.baseAddress!, out = ob.baseAddress!
                            for c in 0..<count {
                                let node = (pair + c) / directions
                                childParent[c] = Int32(node)
                                childMove[c] = Int8((pair + c) % directions)
                                (z + c * d).update(from: nz.baseAddress! + node * d, count: d)
                            }
                            for _ in 0..<macroSteps {
                                if let clock, let deadline, clock.now() > deadline { return false }
                                for c in 0..<count {
                                    (x + c * width).update(from: z + c * d, count: d)
                                    let m = Int(childMove[c])
                                    for j in 0..<a { x[c * width + d + j] = directionEfforts[m * a + j] }
                                    childHeld[c] = blockedMoves?.blocks(z + c * d, x[c * width + d], x[c * width + d + 1]) ?? false
                                }
                                predictor.forward(rows: count)
                                for c in 0..<count where !childHeld[c] {
                                    let zc = z + c * d, fc = out + c * d
                                    for j in 0..<d { zc[j] += fc[j] }
                                }
                            }
                            return true
                        }
                    }
                }
            }
            guard rolledOut else {
                // Slower than its bound: the time it took (a lower bound on its cost) raises the estimate.
                if let start, let clock { childCost.recordCapped(Double((clock.now() - start).nanoseconds) / Double(count)) }
                break
            }
            let rolled = clock?.now()
            if pair == 0 { calibrateRadii(children: count) }
            let nodesBefore = nodeCount
            let accepted = accept(children: count, clock: clock, deadline: deadline)
            pair += accepted
            expanded += accepted
            if let start, let rolled, let clock {
                childCost.recordCapped(Double((rolled - start).nanoseconds) / Double(count))
                checkCost.recordCapped(Double((clock.now() - rolled).nanoseconds) / Double(max(1, accepted * nodesBefore)))
            }
            if accepted < count && status == .searching { break }
        }
        return status
    }

    /// Searches to the end in one call (tests, tools).
    @discardableResult
    public func search(
        from z0: UnsafeBufferPointer<Float>, goal g: UnsafeBufferPointer<Float>,
        mergeFactor: Float, goalFactor: Float
    ) -> Bool {
        begin(from: z0, goal: g, mergeFactor: mergeFactor, goalFactor: goalFactor)
        return advance() == .found
    }

    /// The radii from how far the root's children moved; a start already at the goal is a route of length 0.
    private func calibrateRadii(children count: Int) {
        let d = latentSize
        nodes.withUnsafeBufferPointer { nb in
            childLatents.withUnsafeBufferPointer { cb in
                for c in 0..<count { rootMoves[c] = distance(cb.baseAddress! + c * d, nb.baseAddress!) }
            }
        }
        // Insertion sort in place (a slice's sort allocates in debug builds).
        for i in 1..<max(1, count) {
            let v = rootMoves[i]
            var j = i - 1
            while j >= 0 && rootMoves[j] > v { rootMoves[j + 1] = rootMoves[j]; j -= 1 }
            rootMoves[j + 1] = v
        }
        // Upper quartile: next to a wall, the blocked directions barely move.
        stepScale = rootMoves[(3 * count) / 4]
        mergeRadius = mergeFactor * stepScale
        goalRadius = goalFactor * stepScale
        let atGoal = nodes.withUnsafeBufferPointer { nb in goal.withUnsafeBufferPointer { distance(nb.baseAddress!, $0.baseAddress!) } }
        if atGoal < goalRadius { finish(at: 0) }
    }

    /// Keeps the children that are not near a known node; stops at one near the goal, or when
    /// `clock` passes `deadline`. Returns how many children were looked at.
    private func accept(children count: Int, clock: RobotClock?, deadline: Instant?) -> Int {
        let d = latentSize
        var goalNode = -1, looked = 0
        let merge2 = mergeRadius * mergeRadius, goal2 = goalRadius * goalRadius
        nodes.withUnsafeMutableBufferPointer { nb in
            childLatents.withUnsafeBufferPointer { cb in
                goal.withUnsafeBufferPointer { g in
                    for c in 0..<count where status == .searching && nodeCount < maxNodes {
                        if let clock, let deadline, clock.now() > deadline { break }
                        looked = c + 1
                        let z = cb.baseAddress! + c * d
                        if firstPoint(in: nb.baseAddress!, count: nodeCount, dimensions: d, within: merge2, of: z) != nil { continue }
                        let k = nodeCount
                        for j in 0..<d { nb[k * d + j] = z[j] }
                        parent[k] = childParent[c]
                        move[k] = childMove[c]
                        nodeCount += 1
                        if squaredDistance(z, g.baseAddress!) < goal2 { goalNode = k; break }
                    }
                }
            }
        }
        if goalNode >= 0 { finish(at: goalNode) }
        return nodeCount >= maxNodes ? count : looked
    }

    private func finish(at goalNode: Int) {
        var k = goalNode, n = 0
        while parent[k] >= 0 { n += 1; k = Int(parent[k]) }
        routeLength = n
        k = goalNode
        var i = n - 1
        while parent[k] >= 0 {
            route[i] = move[k]
            i -= 1
            k = Int(parent[k])
        }
        status = .found
    }
}
