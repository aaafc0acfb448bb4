import Glibc
import NeuralEngine
import RobotCore
import WorldModel

/// Sampling-based model-predictive control in the world model's latent space: MPPI or CEM over
/// action sequences, rolled out through the predictor z' = z + f([z, a]) for all samples at once
/// (each horizon step is one batched pass, a GEMM per layer), toward the latent of a goal image.
///
/// The plan is kept between ticks: `shift()` drops the step just executed and repeats the last,
/// so the next `plan` starts from the previous solution (warm start). Allocation-free after init.
public final class LatentPlanner {
    public let config: PlannerConfig
    public let latentSize: Int
    public static let actionSize = WorldModelArchitecture.actionSize
    private let predictor: Network
    /// The plan: horizon × actionSize efforts.
    public private(set) var mean: [Float]
    /// CEM's per-step standard deviation (horizon × actionSize); MPPI keeps it at `config.noise`.
    private var deviation: [Float]
    /// Sampled action sequences: samples × horizon × actionSize.
    private var actions: [Float]
    /// Knot noise: samples × knots × actionSize.
    private var knotNoise: [Float]
    private var latents: [Float]
    private var costs: [Float]
    private var weights: [Float]
    private var order: [Int]
    /// Predicted latents of the plan's own rollout (horizon × latentSize), from the last iteration's sample 0.
    public private(set) var predicted: [Float]
    private var rng: SeededGenerator
    private let knots: Int
    /// The cheapest sequence of the last iteration (kept as a sample: elitism), shifted with the plan.
    private var best: [Float]
    private var hasBest = false
    /// Running estimate of one iteration's wall-clock time, ns.
    public private(set) var iterationCost = CostEstimate()
    /// Moves the world refused this episode: the rollouts hold such steps still (nil: none kept).
    public var blockedMoves: BlockedMoves?

    public init(model: WorldModelFile, config: PlannerConfig, seed: UInt64 = 1) throws {
        try config.validate()
        self.config = config
        latentSize = model.latentSize
        predictor = try model.makePredictor(batch: config.samples)
        let h = config.horizon, a = Self.actionSize, n = config.samples
        knots = (h - 1) / config.knotSpacing + 2
        mean = [Float](repeating: 0, count: h * a)
        best = mean
        deviation = [Float](repeating: Float(config.noise), count: h * a)
        actions = [Float](repeating: 0, count: n * h * a)
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
        let a = Self.actionSize, h = config.horizon
        for t in 0..<(h - 1) {
            for j in 0..<a {
                mean[t * a + j] = mean[(t + 1) * a + j]
                deviation[t * a + j] = deviation[(t + 1) * a + j]
                best[t * a + j] = best[(t + 1) * a + j]
            }
        }
        for j in 0..<a { deviation[(h - 1) * a + j] = Float(config.noise) }
    }

    /// The first action of the plan.
    public var firstAction: (Float, Float) { (mean[0], mean[1]) }

    /// Improves the plan from latent `z0` toward `goal` for up to `config.iterations` iterations,
    /// stopping early when `clock` passes `deadline` (the plan keeps what was finished).
    /// Returns the number of iterations done (0 when the deadline had already passed).
    @discardableResult
    public func plan(from z0: UnsafeBufferPointer<Float>, goal: UnsafeBufferPointer<Float>,
                     clock: RobotClock? = nil, deadline: Instant? = nil) -> PlanStep {
        precondition(z0.count == latentSize && goal.count == latentSize)
        var done = 0
        var best = Float.infinity
        for _ in 0..<config.iterations {
            // An iteration starts only if it is expected to end before the deadline.
            let start = clock?.now()
            if let start, let deadline, start + .nanoseconds(Int64(iterationCost.bound)) > deadline {
                iterationCost.decay()
                break
            }
            sample()
            // A rollout that would run past the deadline (a slow step, a preemption) is abandoned
            // between horizon steps; the plan stays as it was.
            guard let cost = rollout(from: z0, goal: goal, clock: clock, deadline: deadline) else {
                // It ran slower than its bound: the time it took (a lower bound on its cost) raises
                // the estimate. Not extrapolated to the whole horizon: a preemption early in the
                // rollout would then stop planning for many ticks.
                if let start, let clock { iterationCost.record(Double((clock.now() - start).nanoseconds)) }
                return PlanStep(iterations: done, bestCost: Double(best), abandoned: true)
            }
            best = cost
            update()
            done += 1
            if let start, let clock {
                iterationCost.record(Double((clock.now() - start).nanoseconds))
            }
        }
        return PlanStep(iterations: done, bestCost: Double(best))
    }

    /// Draws `samples` action sequences around the plan: knot noise every `knotSpacing` steps,
    /// linearly interpolated between knots, scaled per step, clipped to the effort bound (norm).
    /// Sample 0 is the plan itself.
    private func sample() {
        let h = config.horizon, a = Self.actionSize, n = config.samples, ks = config.knotSpacing
        let bound = Float(config.maxEffort)
        for i in 0..<(n * knots * a) { knotNoise[i] = Float(rng.normal()) }
        let primitives = min(n - 2, Int((Double(n) * config.primitiveFraction).rounded()))
        for k in 0..<n {
            if k == 1 && hasBest {
                for i in 0..<(h * a) { actions[(k * h) * a + i] = best[i] }
                continue
            }
            if k >= 2 && k < 2 + primitives {
                // Two-leg primitive: full effort in one direction, then in another from a random step on.
                let th1 = Float(rng.uniform(0, 2 * .pi)), th2 = Float(rng.uniform(0, 2 * .pi))
                let turn = Int(rng.next() % UInt64(h + 1))
                for t in 0..<h {
                    let th = t < turn ? th1 : th2
                    actions[(k * h + t) * a] = bound * cosf(th)
                    actions[(k * h + t) * a + 1] = bound * sinf(th)
                }
                continue
            }
            for t in 0..<h {
                let k0 = t / ks, frac = Float(t % ks) / Float(ks)
                var ax: Float = 0, ay: Float = 0
                for j in 0..<a {
                    let e = k == 0 ? 0 : (1 - frac) * knotNoise[(k * knots + k0) * a + j] + frac * knotNoise[(k * knots + k0 + 1) * a + j]
                    let v = mean[t * a + j] + deviation[t * a + j] * e
                    if j == 0 { ax = v } else { ay = v }
                }
                let norm = (ax * ax + ay * ay).squareRoot()
                if norm > bound { ax *= bound / norm; ay *= bound / norm }
                actions[(k * h + t) * a] = ax
                actions[(k * h + t) * a + 1] = ay
            }
        }
    }

    /// Rolls every sample through the predictor and scores it. Returns the lowest cost, or nil when
    /// `clock` passed `deadline` before the last horizon step (checked before each step's pass).
    private func rollout(from z0: UnsafeBufferPointer<Float>, goal: UnsafeBufferPointer<Float>,
                         clock: RobotClock?, deadline: Instant?) -> Float? {
        let h = config.horizon, a = Self.actionSize, n = config.samples, d = latentSize
        let wRun = Float(config.runningWeight) / Float(h), wEnd = Float(config.terminalWeight)
        let wAct = Float(config.actionWeight), wSmooth = Float(config.smoothnessWeight)
        let width = d + a
        for k in 0..<n {
            for j in 0..<d { latents[k * d + j] = z0[j] }
            costs[k] = 0
        }
        // One horizon step's expected time, so the last step started also ends before the deadline.
        let stepTime = Duration.nanoseconds(Int64(iterationCost.mean / Double(h)))
        let finished = predictor.input.withUnsafeMutableBufferPointer { x -> Bool in
            let f = predictor.output
            for t in 0..<h {
                if let clock, let deadline, clock.now() + stepTime > deadline { return false }
                for k in 0..<n {
                    for j in 0..<d { x[k * width + j] = latents[k * d + j] }
                    x[k * width + d] = actions[(k * h + t) * a]
                    x[k * width + d + 1] = actions[(k * h + t) * a + 1]
                }
                predictor.forward()
                f.withUnsafeBufferPointer { out in
                    let w = t == h - 1 ? wRun + wEnd : wRun
                    for k in 0..<n {
                        var s: Float = 0
                        let held = blockedMoves.map { memory in
                            latents.withUnsafeBufferPointer { memory.blocks($0.baseAddress! + k * d, actions[(k * h + t) * a], actions[(k * h + t) * a + 1]) }
                        } ?? false
                        let move: Float = held ? 0 : 1
                        for j in 0..<d {
                            let z = latents[k * d + j] + move * out[k * d + j]
                            latents[k * d + j] = z
                            let e = z - goal[j]
                            s += e * e
                        }
                        let ax = actions[(k * h + t) * a], ay = actions[(k * h + t) * a + 1]
                        var c = w * s.squareRoot() + wAct * (ax * ax + ay * ay)
                        if t > 0 {
                            let dx = ax - actions[(k * h + t - 1) * a], dy = ay - actions[(k * h + t - 1) * a + 1]
                            c += wSmooth * (dx * dx + dy * dy)
                        }
                        costs[k] += c
                        if k == 0 { for j in 0..<d { predicted[t * d + j] = latents[j] } }
                    }
                }
            }
            return true
        }
        guard finished else { return nil }
        var best = Float.infinity, arg = 0
        for k in 0..<n where costs[k] < best { best = costs[k]; arg = k }
        for i in 0..<(h * a) { self.best[i] = actions[arg * h * a + i] }
        hasBest = true
        return best
    }

    /// MPPI: exponentially weighted mean (costs normalized to [0, 1], temperature λ). CEM: mean and
    /// deviation of the `elites` cheapest samples, smoothed with the previous ones.
    private func update() {
        let h = config.horizon, a = Self.actionSize, n = config.samples
        switch config.method {
        case .mppi:
            var lo = Float.infinity, hi = -Float.infinity
            for k in 0..<n { lo = min(lo, costs[k]); hi = max(hi, costs[k]) }
            let range = max(hi - lo, 1e-12)
            let invT = 1 / Float(config.temperature)
            var total: Float = 0
            for k in 0..<n {
                let w = expf(-(costs[k] - lo) / range * invT)
                weights[k] = w
                total += w
            }
            for i in 0..<(h * a) {
                var s: Float = 0
                for k in 0..<n { s += weights[k] * actions[k * h * a + i] }
                mean[i] = s / total
            }
        case .cem:
            for k in 0..<n { order[k] = k }
            // Partial selection sort: n is a few hundred at most and elites a few dozen.
            let e = min(config.elites, n)
            for i in 0..<e {
                var m = i
                for j in (i + 1)..<n where costs[order[j]] < costs[order[m]] { m = j }
                order.swapAt(i, m)
            }
            let alpha = Float(config.smoothing)
            for i in 0..<(h * a) {
                var s: Float = 0
                for r in 0..<e { s += actions[order[r] * h * a + i] }
                let mu = s / Float(e)
                var v: Float = 0
                for r in 0..<e { let dv = actions[order[r] * h * a + i] - mu; v += dv * dv }
                let sd = (v / Float(e)).squareRoot()
                mean[i] = alpha * mean[i] + (1 - alpha) * mu
                deviation[i] = max(Float(config.minNoise), alpha * deviation[i] + (1 - alpha) * sd)
            }
        }
    }
}

/// What one `plan` call did.
public struct PlanStep: Sendable, Equatable {
    public var iterations: Int
    /// The cheapest sample's cost in the last iteration.
    public var bestCost: Double
    /// An iteration was started but abandoned at the deadline (it ran slower than its estimate).
    public var abandoned = false

    public init(iterations: Int, bestCost: Double, abandoned: Bool = false) {
        self.iterations = iterations
        self.bestCost = bestCost
        self.abandoned = abandoned
    }
}
