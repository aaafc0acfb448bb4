import Glibc
import NeuralEngine
import RobotCore
import WorldModel

/// Σ (a[j] − b[j])² over `count` latent dimensions: the squared latent distance the planner, the route search
/// and the live view measure with. Allocation-free.
public func squaredLatentDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var s: Float = 0
    for j in 0..<count {
        let e = a[j] - b[j]
        s += e * e
    }
    return s
}

/// Sampling-based model-predictive control in the world model's latent space: MPPI or CEM over
/// action sequences, rolled out through the predictor z' = z + f([z, a]) toward the latent of a goal
/// image. The predictor runs on the project's own dense kernels (`DenseStack`), not a BLAS library.
///
/// Anytime: the work of an iteration is split into chunks of `chunk` samples, each rolled out over the
/// whole horizon in one go (one predictor pass per step for the chunk's rows). A tick does as many chunks
/// as fit its deadline and updates the plan from the samples it finished, so any budget that holds one
/// chunk improves the plan; where not even one chunk of the full horizon fits, the horizon shrinks to
/// what does (down to `minHorizon`). What fits is judged by a running estimate of one predictor row's
/// cost (`rowCost`, ns), measured at start and adjusted on every chunk; a single slow chunk (a page
/// fault, a preemption) raises it by at most a bounded step, so it cannot stop planning for long.
///
/// The plan is kept between ticks: `shift()` drops the step just executed and repeats the last,
/// so the next `plan` starts from the previous solution (warm start). Allocation-free after init.
public final class LatentPlanner {
    public let config: PlannerConfig
    public let latentSize: Int
    /// Efforts per action: the model's actions (the board's planned actuators).
    public let actionSize: Int
    /// Each action's span and the effort bound every sample is clipped to.
    public let box: ActionBox
    private let predictor: DenseStack
    /// The dense kernel the rollouts run on, and any faster one passed over because it disagreed with the
    /// portable kernel on this CPU.
    public var kernel: DenseKernel { predictor.kernel }
    public let rejectedKernels: [DenseKernel]
    /// Floating-point operations of one predictor row (one sample, one step).
    public var flopsPerRow: Int { predictor.flopsPerRow }
    /// The plan: horizon × actionSize efforts.
    public private(set) var mean: [Float]
    /// CEM's per-step standard deviation (horizon × actionSize); MPPI keeps it at `config.noise`.
    private var deviation: [Float]
    /// Sampled action sequences: samples × horizon × actionSize.
    private var actions: [Float]
    /// Generic motion: the samples as drawn, before clipping to the box (samples × horizon × actionSize). The
    /// update averages these and clips the plan after, so a span's edge (throttle [0, 1]) does not pull the plan
    /// inward the way an average of clipped samples would; empty for holonomic motion, whose update averages `actions`.
    private var drawn: [Float]
    /// Knot noise: samples × knots × actionSize.
    private var knotNoise: [Float]
    private var latents: [Float]
    private var costs: [Float]
    private var weights: [Float]
    private var order: [Int]
    /// Predicted latents of the plan's own rollout (horizon × latentSize), from the last update's sample 0.
    public private(set) var predicted: [Float]
    private var rng: SeededGenerator
    private let knots: Int
    /// The cheapest sequence of the last update (kept as a sample: elitism), shifted with the plan.
    private var best: [Float]
    private var hasBest = false
    /// Running estimate of one predictor row's wall-clock cost, ns.
    public private(set) var rowCost = CostEstimate()
    /// Samples rolled out together: the unit of work (set by `size(budgetNanoseconds:)`).
    public private(set) var chunk: Int
    /// The shortest horizon worth planning over; below it a tick does no planning work.
    public let minHorizon: Int
    /// Moves the world refused this episode: the rollouts hold such steps still (nil: none kept; holonomic
    /// motion only, as a move is a heading).
    public var blockedMoves: BlockedMoves? {
        didSet { precondition(blockedMoves == nil || box.holonomic, "refused moves are headings: holonomic motion only") }
    }

    public init(model: WorldModelFile, config: PlannerConfig, seed: UInt64 = 1, kernel: DenseKernel? = nil) throws {
        try config.validate()
        self.config = config
        latentSize = model.latentSize
        box = try ActionBox(model: model, config: config)
        actionSize = box.count
        (predictor, rejectedKernels) = try model.makeRolloutPredictor(
            capacity: config.samples, kernel: kernel, precision: config.predictor)
        let h = config.horizon, a = actionSize, n = config.samples
        knots = (h - 1) / config.knotSpacing + 2
        chunk = min(8, n)
        minHorizon = min(h, 4)
        mean = [Float](repeating: 0, count: h * a)
        best = mean
        deviation = [Float](repeating: Float(config.noise), count: h * a)
        actions = [Float](repeating: 0, count: n * h * a)
        drawn = box.holonomic ? [] : actions
        knotNoise = [Float](repeating: 0, count: n * knots * a)
        latents = [Float](repeating: 0, count: n * latentSize)
        costs = [Float](repeating: 0, count: n)
        weights = [Float](repeating: 0, count: n)
        order = Array(0..<n)
        predicted = [Float](repeating: 0, count: h * latentSize)
        rng = SeededGenerator(seed: seed)
    }

    /// Replaces the plan with `sequence` (efforts, step-major; shorter sequences are padded with zeros):
    /// a route from a search becomes the warm start, and is kept as the elite sample.
    public func seed(plan sequence: UnsafeBufferPointer<Float>) {
        for i in mean.indices {
            mean[i] = i < sequence.count ? sequence[i] : 0
            best[i] = mean[i]
        }
        hasBest = true
    }

    /// Forgets the plan (a new goal or episode).
    public func reset() {
        for i in mean.indices { mean[i] = 0 }
        for i in deviation.indices { deviation[i] = Float(config.noise) }
        hasBest = false
    }

    /// Warm start: the plan moves one step earlier; its last step is repeated.
    public func shift() {
        let a = actionSize, h = config.horizon
        for t in 0..<(h - 1) {
            for j in 0..<a {
                mean[t * a + j] = mean[(t + 1) * a + j]
                deviation[t * a + j] = deviation[(t + 1) * a + j]
                best[t * a + j] = best[(t + 1) * a + j]
            }
        }
        for j in 0..<a { deviation[(h - 1) * a + j] = Float(config.noise) }
    }

    /// Effort `j` of the plan's first action.
    public func firstAction(_ j: Int) -> Float { mean[j] }

    /// The plan's first planar velocity (holonomic motion: its first two actions).
    public var firstHeading: (x: Float, y: Float) { (mean[0], mean[1]) }

    /// The wall-clock estimate of a whole configured tick of work (every iteration, every sample, the
    /// full horizon), ns; 0 before the first measurement.
    public var fullWorkEstimate: Double {
        rowCost.bound * Double(config.iterations * config.samples * config.horizon)
    }

    /// The estimate of the smallest unit of work (one chunk over the shortest horizon), ns.
    public var smallestUnitEstimate: Double { rowCost.bound * Double(min(chunk, config.samples) * minHorizon) }

    /// Sizes the chunk from the measured row cost so that one chunk over the full horizon takes at most a
    /// quarter of `budgetNanoseconds` (a multiple of 4 samples, 4 at least, all samples at most): on a fast
    /// core a tick does few large chunks, on a slow one many small ones.
    public func size(budgetNanoseconds budget: Double) {
        guard rowCost.isMeasured else { return }
        let fit = Int(budget / 4 / (rowCost.mean * Double(config.horizon)))
        chunk = max(min(4, config.samples), min(config.samples, fit / 4 * 4))
    }

    /// Improves the plan from latent `z0` toward `goal` for up to `config.iterations` iterations, doing
    /// only the work that fits before `deadline` on `clock` (all of it without a clock). Samples finished
    /// when the deadline comes update the plan; a chunk that would run past it is not started, and one
    /// that runs slower than estimated is abandoned between steps (the plan keeps what was finished).
    @discardableResult
    public func plan(
        from z0: UnsafeBufferPointer<Float>, goal: UnsafeBufferPointer<Float>,
        clock: RobotClock? = nil, deadline: Instant? = nil
    ) -> PlanStep {
        precondition(z0.count == latentSize && goal.count == latentSize)
        let n = config.samples, fullHorizon = config.horizon
        var step = PlanStep(iterations: 0, bestCost: .infinity)
        iterations: for _ in 0..<config.iterations {
            var h = fullHorizon
            if let clock, let deadline, rowCost.isMeasured {
                // The longest horizon over which one chunk fits the time left, less two steps: the rollout
                // checks before each step that the step, too, will end in time, and the chunk has a fixed
                // cost of its own (sampling, clock readings).
                let left = Double((deadline - clock.now()).nanoseconds)
                h = min(fullHorizon, Int(left / (Double(min(chunk, n)) * rowCost.bound)) - 2)
                if h < minHorizon {
                    if step.updates == 0 { rowCost.decay() }
                    break
                }
            }
            var done = 0
            while done < n {
                let c = min(chunk, n - done)
                let start = clock?.now()
                if let start, let deadline, done > 0,
                    start + .nanoseconds(Int64(rowCost.bound * Double(c * h))) > deadline
                {
                    break
                }
                sample(first: done, count: c)
                let finished = rollout(first: done, count: c, horizon: h, from: z0, goal: goal, clock: clock, deadline: deadline)
                if let start, let clock {
                    rowCost.recordCapped(Double((clock.now() - start).nanoseconds) / Double(c * max(1, finished)))
                }
                guard finished == h else {
                    step.abandoned = true
                    break
                }
                done += c
            }
            guard done > 0 else { break }
            step.bestCost = Double(choose(samples: done, horizon: h))
            update(samples: done, horizon: h)
            step.updates += 1
            step.samples += done
            step.rows += done * h
            step.horizon = max(step.horizon, h)
            if done == n && h == fullHorizon { step.iterations += 1 } else { break iterations }
        }
        return step
    }

    /// Draws `samples` action sequences around the plan: knot noise every `knotSpacing` steps,
    /// linearly interpolated between knots, scaled per step, clipped to the action box (`ActionBox.clip`).
    /// Sample 0 is the plan itself, sample 1 the last best sequence; the two-leg primitives are spread
    /// evenly over the rest, the first of them at sample 2, so every chunk (every prefix of the samples)
    /// holds its share of them, and even a chunk of 4 holds one.
    /// Draws samples `first ..< first + count` only: a chunk is sampled when it is rolled out, so a tick
    /// that does one chunk pays for one chunk's sampling.
    private func sample(first: Int, count: Int) {
        let h = config.horizon, a = actionSize, n = config.samples, ks = config.knotSpacing
        for i in (first * knots * a)..<((first + count) * knots * a) { knotNoise[i] = Float(rng.normal()) }
        let primitives = min(n - 2, Int((Double(n) * config.primitiveFraction).rounded()))
        let share = n > 2 ? Double(primitives) / Double(n - 2) : 0
        let keepDrawn = !drawn.isEmpty
        actions.withUnsafeMutableBufferPointer { ab in
            drawn.withUnsafeMutableBufferPointer { db in
                let act = ab.baseAddress!
                for k in first..<(first + count) {
                    if k == 1 && hasBest {
                        for i in 0..<(h * a) { act[(k * h) * a + i] = best[i] }
                    } else if k >= 2 && (Double(k - 1) * share).rounded(.up) > (Double(k - 2) * share).rounded(.up) {
                        samplePrimitive(into: act + k * h * a)
                    } else {
                        for t in 0..<h {
                            let k0 = t / ks, frac = Float(t % ks) / Float(ks), step = act + (k * h + t) * a
                            for j in 0..<a {
                                let e =
                                    k == 0
                                    ? 0 : (1 - frac) * knotNoise[(k * knots + k0) * a + j] + frac * knotNoise[(k * knots + k0 + 1) * a + j]
                                step[j] = mean[t * a + j] + deviation[t * a + j] * e
                            }
                            if keepDrawn { for j in 0..<a { db[(k * h + t) * a + j] = step[j] } }
                            box.clip(step)
                        }
                        continue
                    }
                    // The elite and the primitives are drawn inside the box.
                    if keepDrawn { for i in 0..<(h * a) { db[k * h * a + i] = act[k * h * a + i] } }
                }
            }
        }
    }

    /// A two-leg primitive (horizon × actionSize efforts at `out`): one constant action, then another from a random
    /// step on. Holonomic: full effort along one heading, then another (the other actions at rest). Generic: each
    /// leg's effort per action is its span's lower end, upper end, rest or a uniform draw, a quarter each (full
    /// throttle then stop, a full turn then straight).
    private func samplePrimitive(into out: UnsafeMutablePointer<Float>) {
        let h = config.horizon, a = actionSize
        if box.holonomic {
            let bound = box.bound
            let th1 = Float(rng.uniform(0, 2 * .pi)), th2 = Float(rng.uniform(0, 2 * .pi))
            let turn = Int(rng.next() % UInt64(h + 1))
            for t in 0..<h {
                let th = t < turn ? th1 : th2, step = out + t * a
                step[0] = bound * cosf(th)
                step[1] = bound * sinf(th)
                for j in 2..<max(2, a) { step[j] = box.clamp(0, j) }
            }
            return
        }
        var legs = InlineArray<32, Float>(repeating: 0)
        for i in 0..<(2 * a) {
            let j = i % a, pick = rng.next() % 4
            legs[i] =
                pick == 0
                ? box.lower[j]
                : pick == 1 ? box.upper[j] : pick == 2 ? box.clamp(0, j) : Float(rng.uniform(Double(box.lower[j]), Double(box.upper[j])))
        }
        let turn = Int(rng.next() % UInt64(h + 1))
        for t in 0..<h {
            let leg = t < turn ? 0 : a
            for j in 0..<a { out[t * a + j] = legs[leg + j] }
        }
    }

    /// Rolls samples `first ..< first + count` through the predictor over the first `horizon` steps and
    /// scores them (running cost averaged over `horizon`, terminal cost at its last step). Before each
    /// step it checks that the step's rows are expected to end before `deadline`; returns the number of
    /// steps finished (`horizon` unless the deadline stopped it).
    private func rollout(
        first: Int, count: Int, horizon h: Int, from z0: UnsafeBufferPointer<Float>,
        goal: UnsafeBufferPointer<Float>, clock: RobotClock?, deadline: Instant?
    ) -> Int {
        let fullHorizon = config.horizon, a = actionSize, d = latentSize
        let wRun = Float(config.runningWeight) / Float(h), wEnd = Float(config.terminalWeight)
        let wAct = Float(config.actionWeight), wSmooth = Float(config.smoothnessWeight)
        let width = d + a
        let stepTime = Duration.nanoseconds(Int64(rowCost.mean * Double(count)))
        let x = predictor.input, f = predictor.output
        // The arrays' storage is taken once for the whole rollout: the loops below run per predictor row
        // and must not pay bounds and exclusivity checks per element.
        return latents.withUnsafeMutableBufferPointer { zb -> Int in
            costs.withUnsafeMutableBufferPointer { cb -> Int in
                actions.withUnsafeBufferPointer { ab -> Int in
                    predicted.withUnsafeMutableBufferPointer { pb -> Int in
                        x.withUnsafeMutableBufferPointer { xb -> Int in
                            f.withUnsafeBufferPointer { out -> Int in
                                let z = zb.baseAddress!, act = ab.baseAddress!, xin = xb.baseAddress!, o = out.baseAddress!
                                for k in first..<(first + count) {
                                    for j in 0..<d { z[k * d + j] = z0[j] }
                                    cb[k] = 0
                                }
                                for t in 0..<h {
                                    if let clock, let deadline, clock.now() + stepTime > deadline { return t }
                                    for r in 0..<count {
                                        let k = first + r, row = xin + r * width, zk = z + k * d
                                        for j in 0..<d { row[j] = zk[j] }
                                        for j in 0..<a { row[d + j] = act[(k * fullHorizon + t) * a + j] }
                                    }
                                    predictor.forward(rows: count)
                                    let w = t == h - 1 ? wRun + wEnd : wRun
                                    for r in 0..<count {
                                        let k = first + r, zk = z + k * d, fk = o + r * d
                                        let u = act + (k * fullHorizon + t) * a
                                        let held = blockedMoves?.blocks(zk, u[0], u[1]) ?? false
                                        var s: Float = 0
                                        if held {
                                            for j in 0..<d { let e = zk[j] - goal[j]; s += e * e }
                                        } else {
                                            for j in 0..<d {
                                                let v = zk[j] + fk[j]
                                                zk[j] = v
                                                let e = v - goal[j]
                                                s += e * e
                                            }
                                        }
                                        var effort: Float = 0
                                        for j in 0..<a { effort += u[j] * u[j] }
                                        var c = w * s.squareRoot() + wAct * effort
                                        if t > 0 {
                                            var change: Float = 0
                                            for j in 0..<a { let e = u[j] - u[j - a]; change += e * e }
                                            c += wSmooth * change
                                        }
                                        cb[k] += c
                                        if k == 0 { for j in 0..<d { pb[t * d + j] = zk[j] } }
                                    }
                                }
                                return h
                            }
                        }
                    }
                }
            }
        }
    }

    /// The cheapest of the first `m` samples becomes the elite kept for the next update; returns its cost.
    private func choose(samples m: Int, horizon h: Int) -> Float {
        let a = actionSize, fullHorizon = config.horizon
        var lowest = Float.infinity, arg = 0
        for k in 0..<m where costs[k] < lowest { lowest = costs[k]; arg = k }
        for i in 0..<(fullHorizon * a) { best[i] = actions[arg * fullHorizon * a + i] }
        hasBest = true
        return lowest
    }

    /// Updates the first `horizon` steps of the plan from the first `m` samples. MPPI: exponentially
    /// weighted mean (costs normalized to [0, 1], temperature λ). CEM: mean and deviation of the `elites`
    /// cheapest samples (fewer when fewer were rolled out), smoothed with the previous ones.
    private func update(samples m: Int, horizon h: Int) {
        let a = actionSize, fullHorizon = config.horizon
        // Generic motion averages the samples as drawn and clips the plan after (see `drawn`).
        let source = drawn.isEmpty ? actions : drawn
        source.withUnsafeBufferPointer { sb in
            let samples = sb.baseAddress!
            switch config.method {
            case .mppi:
                var lo = Float.infinity, hi = -Float.infinity
                for k in 0..<m { lo = min(lo, costs[k]); hi = max(hi, costs[k]) }
                let range = max(hi - lo, 1e-12)
                let invT = 1 / Float(config.temperature)
                var total: Float = 0
                for k in 0..<m {
                    let w = expf(-(costs[k] - lo) / range * invT)
                    weights[k] = w
                    total += w
                }
                for i in 0..<(h * a) {
                    var s: Float = 0
                    for k in 0..<m { s += weights[k] * samples[k * fullHorizon * a + i] }
                    mean[i] = s / total
                }
            case .cem:
                for k in 0..<m { order[k] = k }
                // Partial selection sort: m is a few hundred at most and elites a few dozen.
                let e = min(config.elites, m)
                for i in 0..<e {
                    var sel = i
                    for j in (i + 1)..<m where costs[order[j]] < costs[order[sel]] { sel = j }
                    order.swapAt(i, sel)
                }
                let alpha = Float(config.smoothing)
                for i in 0..<(h * a) {
                    var s: Float = 0
                    for r in 0..<e { s += samples[order[r] * fullHorizon * a + i] }
                    let mu = s / Float(e)
                    var v: Float = 0
                    for r in 0..<e { let dv = samples[order[r] * fullHorizon * a + i] - mu; v += dv * dv }
                    let sd = (v / Float(e)).squareRoot()
                    mean[i] = alpha * mean[i] + (1 - alpha) * mu
                    deviation[i] = max(Float(config.minNoise), alpha * deviation[i] + (1 - alpha) * sd)
                }
            }
        }
        if !drawn.isEmpty { mean.withUnsafeMutableBufferPointer { p in for t in 0..<h { box.clip(p.baseAddress! + t * a) } } }
    }
}

/// What one `plan` call did.
public struct PlanStep: Sendable, Equatable {
    /// Whole iterations done (every sample over the full horizon).
    public var iterations: Int
    /// The cheapest sample's cost in the last update.
    public var bestCost: Double
    /// A chunk was started but abandoned at the deadline (it ran slower than its estimate).
    public var abandoned = false
    /// Plan updates made (each from the samples finished in one iteration; 0: no planning work).
    public var updates = 0
    /// Samples rolled out, over all updates, and the longest horizon used.
    public var samples = 0
    public var horizon = 0
    /// Predictor rows computed (samples × horizon steps, summed).
    public var rows = 0

    public init(iterations: Int, bestCost: Double, abandoned: Bool = false) {
        self.iterations = iterations
        self.bestCost = bestCost
        self.abandoned = abandoned
    }

    /// The plan was improved this tick.
    public var isFresh: Bool { updates > 0 }
}
