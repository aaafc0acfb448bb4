import Dispatch
import Foundation
import NeuralEngine
import RobotCore

/// Weights of the objective's terms (PLDM / EB-JEPA conventions, see `Objective`).
public struct LossWeights: Sendable, Codable, Equatable {
    public var prediction = 1.0
    public var variance = 16.0
    public var covariance = 8.0
    public var smoothness = 12.0
    public var inverseDynamics = 1.0
    public init() {}
}

/// Everything that decides a training run. Saved in checkpoints and model files.
public struct TrainingConfig: Sendable, Codable, Equatable {
    /// Prediction steps per window (the window holds horizon + 1 frames).
    public var horizon = 8
    /// Windows per step.
    public var batch = 64
    public var epochs = 4
    public var learningRate = 2e-3
    public var warmupSteps = 200
    /// The cosine schedule ends at this fraction of the peak rate.
    public var learningRateFloor = 0.05
    public var weightDecay = 1e-4
    /// Global gradient-norm limit.
    public var gradientClip = 1.0
    public var encoder = WorldModelArchitecture.EncoderKind.hybrid
    public var latentSize = WorldModelArchitecture.latentSize
    public var predictorHidden = 128
    public var inverseDynamicsHidden = 64
    public var weights = LossWeights()
    public var seed: UInt64 = 1
    /// Encoder shards run in parallel (one per core).
    public var threads = 2
    public var validationFraction = 0.1
    /// Validation uses at most this many non-overlapping windows.
    public var maxValidationWindows = 1024
    public init() {}
}

/// The objective's terms for one step (unweighted values) and the gradient norm before clipping.
public struct StepLosses: Sendable, Codable, Equatable {
    public var total = 0.0
    public var prediction = 0.0
    public var variance = 0.0
    public var covariance = 0.0
    public var smoothness = 0.0
    public var inverseDynamics = 0.0
    public var gradientNorm = 0.0
    public var learningRate = 0.0
    public init() {}
}

/// What validation measured on held-out episodes.
public struct ValidationReport: Sendable, Codable {
    public var step: Int
    public var windows: Int
    /// Mean squared latent error of the k-step rollout, k = 1 … horizon.
    public var predictionError: [Double]
    /// The same divided by the latents' mean variance (0 is perfect, 1 is as bad as predicting the mean).
    public var relativePredictionError: [Double]
    /// Inverse-dynamics mean squared action error.
    public var inverseDynamicsError: Double
    public var spread: LatentSpread
    /// One-step errors (squared, per window) at the 50th and 99th percentiles: the scale of "surprise".
    public var oneStepErrorP50: Double
    public var oneStepErrorP99: Double
}

/// Trains the JEPA world model (encoder, residual action-conditioned predictor, inverse-dynamics
/// head) on a dataset of episodes. One step:
///
/// 1. encode the B × (T + 1) frames of B windows (the frames split over `threads` encoder shards,
///    run in parallel, each with its own gradients);
/// 2. roll the predictor out T steps from the first latent: ẑ_{k+1} = ẑ_k + f([ẑ_k, a_k]);
/// 3. loss = w_p·MSE(ẑ_k, z_k) + w_v·variance(z) + w_c·covariance(z) + w_s·smoothness(z) + w_i·MSE(g(z_t, z_{t+1}), a_t),
/// 4. back-propagate by hand (through time for the rollout), sum the shards' gradients, clip the
///    global norm, and take an AdamW step on a warm-up + cosine schedule.
///
/// Deterministic for a seed and thread count: the batch order is a seeded permutation per epoch, the
/// shards' gradients are summed in a fixed order.
public final class JEPATrainer: @unchecked Sendable {
    public let config: TrainingConfig
    public let dataset: Dataset
    public let encoderLayers: [LayerSpec]
    public let predictorLayers: [LayerSpec]
    public let inverseDynamicsLayers: [LayerSpec]
    public let latentSize: Int
    /// Efforts per action (the dataset's actions).
    public let actionSize: Int
    /// All trainable tensors by prefixed name ("encoder.0.weight", "predictor.…", "idm.…").
    public let parameters: Parameters
    public let optimizer: AdamW
    public private(set) var step = 0
    public let stepsPerEpoch: Int
    public var totalSteps: Int { stepsPerEpoch * config.epochs }
    public let trainingWindows: [Window]
    public let validationWindows: [Window]
    public let schedule: LearningRateSchedule

    private let shards: [TrainableNetwork]
    private let rollout: [TrainableNetwork]
    private let inverseDynamics: TrainableNetwork
    private let gradients: Parameters
    private let framesPerBatch: Int
    private let shardFrames: Int
    private var z: [Float], dz: [Float]
    private var zhat: [Float], dzhat: [Float], target: [Float], dtarget: [Float]
    private var actions: [Float]
    private var epochOrder: [Int] = []
    private var epochOrderFor = -1

    /// A fresh model (seeded initialization), or the state of `checkpoint` to resume from.
    public init(config: TrainingConfig, dataset: Dataset, checkpoint: SafetensorsFile? = nil, checkpointPath: String = "") throws {
        guard config.horizon >= 1, config.batch >= 2, config.threads >= 1, config.epochs >= 1 else {
            throw ModelError("training needs horizon ≥ 1, batch ≥ 2, threads ≥ 1, epochs ≥ 1")
        }
        self.config = config
        self.dataset = dataset
        let d = config.latentSize
        guard d >= 2 else { throw ModelError("the latent needs at least 2 dimensions") }
        latentSize = d
        encoderLayers = WorldModelArchitecture.encoder(config.encoder, latent: d)
        actionSize = dataset.actionSize
        predictorLayers = WorldModelArchitecture.predictor(latent: d, actions: actionSize, hidden: config.predictorHidden)
        inverseDynamicsLayers = WorldModelArchitecture.inverseDynamics(latent: d, actions: actionSize, hidden: config.inverseDynamicsHidden)
        let first = dataset.episodes[0]
        guard [first.height, first.width, 1] == WorldModelArchitecture.frameShape else {
            throw ModelError(
                "the encoder takes \(WorldModelArchitecture.frameShape[0])×\(WorldModelArchitecture.frameShape[1]) frames, the dataset "
                    + "has \(first.width)×\(first.height)"
            )
        }
        trainingWindows = dataset.windows(horizon: config.horizon, in: dataset.trainingEpisodes)
        guard trainingWindows.count >= config.batch else {
            throw ModelError("only \(trainingWindows.count) training windows of \(config.horizon) steps; the batch needs \(config.batch)")
        }
        validationWindows = dataset.windows(horizon: config.horizon, in: dataset.validationEpisodes)
            .filter { $0.start % (config.horizon + 1) == 0 }
        stepsPerEpoch = trainingWindows.count / config.batch
        schedule = LearningRateSchedule(
            peak: config.learningRate, warmupSteps: config.warmupSteps,
            totalSteps: stepsPerEpoch * config.epochs, floor: config.learningRateFloor)

        // Parameters: seeded, or from the checkpoint.
        func initialParameters(_ layers: [LayerSpec], _ prefix: String, seed: UInt64) throws -> Parameters {
            let p = Parameters.initialized(for: layers, seed: seed)
            if let checkpoint {
                for (k, t) in p {
                    let saved = try checkpoint.tensor("\(prefix).\(k)", Float.self, shape: t.shape, path: checkpointPath)
                    t.assign(from: saved)
                }
            }
            return p
        }
        let enc = try initialParameters(encoderLayers, "encoder", seed: config.seed)
        let pred = try initialParameters(predictorLayers, "predictor", seed: config.seed &+ 1)
        let idm = try initialParameters(inverseDynamicsLayers, "idm", seed: config.seed &+ 2)
        // The predictor's last layer starts small: the rollout begins near the identity.
        if checkpoint == nil, let last = pred["4.weight"] {
            last.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 0.1 } }
        }

        framesPerBatch = config.batch * (config.horizon + 1)
        shardFrames = (framesPerBatch + config.threads - 1) / config.threads
        let shard0 = try TrainableNetwork(
            layers: encoderLayers, parameters: enc, inputShape: WorldModelArchitecture.frameShape,
            maxBatch: shardFrames)
        shards = [shard0] + (try (1..<config.threads).map { _ in try shard0.replica(sharingGradients: false) })
        let step0 = try TrainableNetwork(
            layers: predictorLayers, parameters: pred, inputShape: [d + actionSize],
            maxBatch: config.batch, inputGradient: true)
        rollout = [step0] + (try (1..<config.horizon).map { _ in try step0.replica(sharingGradients: true) })
        inverseDynamics = try TrainableNetwork(
            layers: inverseDynamicsLayers, parameters: idm, inputShape: [2 * d],
            maxBatch: config.batch * config.horizon, inputGradient: true)

        var all: Parameters = [:], grads: Parameters = [:]
        for (k, t) in enc { all["encoder.\(k)"] = t; grads["encoder.\(k)"] = shard0.gradients[k] }
        for (k, t) in pred { all["predictor.\(k)"] = t; grads["predictor.\(k)"] = step0.gradients[k] }
        for (k, t) in idm { all["idm.\(k)"] = t; grads["idm.\(k)"] = inverseDynamics.gradients[k] }
        parameters = all
        gradients = grads
        optimizer = AdamW(parameters: all, weightDecay: Float(config.weightDecay))
        if let checkpoint {
            var m: Parameters = [:], v: Parameters = [:]
            for (k, t) in all {
                m[k] = try checkpoint.tensor("adam.m.\(k)", Float.self, shape: t.shape, path: checkpointPath)
                v[k] = try checkpoint.tensor("adam.v.\(k)", Float.self, shape: t.shape, path: checkpointPath)
            }
            guard let s = checkpoint.metadata["step"].flatMap({ Int($0) }) else {
                throw ModelError("\(checkpointPath): checkpoint metadata has no step")
            }
            try optimizer.restore(step: s, first: m, second: v)
            step = s
        }

        let b = config.batch, t = config.horizon
        z = [Float](repeating: 0, count: framesPerBatch * d)
        dz = z
        zhat = [Float](repeating: 0, count: (t + 1) * b * d)
        dzhat = zhat
        target = [Float](repeating: 0, count: t * b * d)
        dtarget = target
        actions = [Float](repeating: 0, count: b * t * actionSize)
    }

    public var epoch: Int { step / stepsPerEpoch }

    /// The windows of training step `s`: the epoch's seeded permutation, sliced.
    func batchWindows(step s: Int) -> ArraySlice<Int> {
        let e = s / stepsPerEpoch
        if epochOrderFor != e {
            var rng = SeededGenerator(seed: config.seed &* 0x9E37_79B9 &+ UInt64(e) &+ 17)
            epochOrder = Array(trainingWindows.indices)
            epochOrder.shuffle(using: &rng)
            epochOrderFor = e
        }
        let i = (s % stepsPerEpoch) * config.batch
        return epochOrder[i..<(i + config.batch)]
    }

    /// Loads the frames of `windows` into the shards' inputs (pixels / 255) and their actions.
    private func load(_ windows: [Window]) {
        let t1 = config.horizon + 1, a = actionSize
        let frameBytes = dataset.episodes[0].frameBytes
        let n = windows.count * t1
        DispatchQueue.concurrentPerform(iterations: shards.count) { j in
            let lo = j * shardFrames, hi = min(n, lo + shardFrames)
            guard lo < hi else { return }
            shards[j].input.withUnsafeMutableBufferPointer { dst in
                for f in lo..<hi {
                    let w = windows[f / t1]
                    let e = dataset.episodes[w.episode]
                    e.frames.withUnsafeBufferPointer { src in
                        let from = (w.start + f % t1) * frameBytes, to = (f - lo) * frameBytes
                        for p in 0..<frameBytes { dst[to + p] = Float(src[from + p]) * (1 / 255) }
                    }
                }
            }
        }
        for (b, w) in windows.enumerated() {
            let e = dataset.episodes[w.episode]
            for k in 0..<config.horizon {
                for c in 0..<a { actions[(b * config.horizon + k) * a + c] = e.actions[(w.start + k) * a + c] }
            }
        }
    }

    /// Encodes the loaded frames into `z` (rows in window-major order).
    private func encode(frames n: Int) {
        let d = latentSize
        DispatchQueue.concurrentPerform(iterations: shards.count) { j in
            let lo = j * shardFrames, hi = min(n, lo + shardFrames)
            if lo < hi { shards[j].forward(batch: hi - lo) }
        }
        for j in shards.indices {
            let lo = j * shardFrames, hi = min(n, lo + shardFrames)
            guard lo < hi else { continue }
            shards[j].output.withUnsafeBufferPointer { out in
                for i in 0..<((hi - lo) * d) { z[lo * d + i] = out[i] }
            }
        }
    }

    /// Rolls the predictor out from each window's first latent; fills `zhat` and `target`.
    private func rollOut(windows b: Int) {
        let d = latentSize, t1 = config.horizon + 1, a = actionSize
        for w in 0..<b { for j in 0..<d { zhat[w * d + j] = z[(w * t1) * d + j] } }
        for k in 0..<config.horizon {
            let net = rollout[k]
            net.input.withUnsafeMutableBufferPointer { x in
                for w in 0..<b {
                    for j in 0..<d { x[w * (d + a) + j] = zhat[(k * b + w) * d + j] }
                    for c in 0..<a { x[w * (d + a) + d + c] = actions[(w * config.horizon + k) * a + c] }
                }
            }
            net.forward(batch: b)
            net.output.withUnsafeBufferPointer { f in
                for i in 0..<(b * d) { zhat[(k + 1) * b * d + i] = zhat[k * b * d + i] + f[i] }
            }
            for w in 0..<b { for j in 0..<d { target[(k * b + w) * d + j] = z[(w * t1 + k + 1) * d + j] } }
        }
    }

    /// Fills the inverse-dynamics input with [z_t, z_{t+1}] pairs and runs it.
    private func inverseDynamicsForward(windows b: Int) {
        let d = latentSize, t1 = config.horizon + 1
        inverseDynamics.input.withUnsafeMutableBufferPointer { x in
            for w in 0..<b {
                for k in 0..<config.horizon {
                    let row = (w * config.horizon + k) * 2 * d
                    for j in 0..<d {
                        x[row + j] = z[(w * t1 + k) * d + j]
                        x[row + d + j] = z[(w * t1 + k + 1) * d + j]
                    }
                }
            }
        }
        inverseDynamics.forward(batch: b * config.horizon)
    }

    /// The objective and its gradients for the loaded batch (encoder gradients stay in `dz`).
    /// Public for the whole-model gradient check in the tests.
    public func lossAndGradients(windows: [Window]) -> StepLosses {
        let b = windows.count, t = config.horizon, d = latentSize, n = b * (t + 1), a = actionSize
        let wts = config.weights
        for s in shards { s.zeroGradients() }
        rollout[0].zeroGradients()
        inverseDynamics.zeroGradients()
        load(windows)
        encode(frames: n)
        rollOut(windows: b)
        inverseDynamicsForward(windows: b)

        for i in dz.indices { dz[i] = 0 }
        for i in dzhat.indices { dzhat[i] = 0 }
        for i in dtarget.indices { dtarget[i] = 0 }
        var losses = StepLosses()
        z.withUnsafeBufferPointer { zp in
            dz.withUnsafeMutableBufferPointer { g in
                let zb = zp.baseAddress!, gb = g.baseAddress!
                losses.variance = Objective.variance(zb, rows: n, dim: d, weight: wts.variance, gradient: gb)
                losses.covariance = Objective.covariance(zb, rows: n, dim: d, weight: wts.covariance, gradient: gb)
                losses.smoothness = Objective.smoothness(zb, sequences: b, length: t + 1, dim: d, weight: wts.smoothness, gradient: gb)
            }
        }
        zhat.withUnsafeBufferPointer { zh in
            target.withUnsafeBufferPointer { tg in
                dzhat.withUnsafeMutableBufferPointer { gzh in
                    dtarget.withUnsafeMutableBufferPointer { gtg in
                        losses.prediction = Objective.meanSquaredError(
                            zh.baseAddress! + b * d, tg.baseAddress!, count: t * b * d,
                            weight: wts.prediction, gradientA: gzh.baseAddress! + b * d,
                            gradientB: gtg.baseAddress!)
                    }
                }
            }
        }
        let idmCount = b * t * a
        inverseDynamics.output.withUnsafeBufferPointer { out in
            actions.withUnsafeBufferPointer { act in
                inverseDynamics.outputGradient.withUnsafeMutableBufferPointer { g in
                    for i in 0..<idmCount { g[i] = 0 }
                    losses.inverseDynamics = Objective.meanSquaredError(
                        out.baseAddress!, act.baseAddress!, count: idmCount,
                        weight: wts.inverseDynamics, gradientA: g.baseAddress!, gradientB: nil)
                }
            }
        }
        losses.total =
            wts.prediction * losses.prediction + wts.variance * losses.variance + wts.covariance * losses.covariance
            + wts.smoothness * losses.smoothness + wts.inverseDynamics * losses.inverseDynamics

        // Back through the rollout: dẑ_k = dẑ_{k+1} (residual) + the predictor's input gradient.
        for k in stride(from: t - 1, through: 0, by: -1) {
            let net = rollout[k]
            net.outputGradient.withUnsafeMutableBufferPointer { g in
                for i in 0..<(b * d) { g[i] = dzhat[(k + 1) * b * d + i] }
            }
            net.backward(batch: b)
            net.inputGradient!.withUnsafeBufferPointer { gx in
                for w in 0..<b {
                    for j in 0..<d { dzhat[(k * b + w) * d + j] += dzhat[((k + 1) * b + w) * d + j] + gx[w * (d + a) + j] }
                }
            }
        }
        let t1 = t + 1
        for w in 0..<b {
            for j in 0..<d { dz[(w * t1) * d + j] += dzhat[w * d + j] }
            for k in 0..<t { for j in 0..<d { dz[(w * t1 + k + 1) * d + j] += dtarget[(k * b + w) * d + j] } }
        }
        inverseDynamics.backward(batch: b * t)
        inverseDynamics.inputGradient!.withUnsafeBufferPointer { gx in
            for w in 0..<b {
                for k in 0..<t {
                    let row = (w * t + k) * 2 * d
                    for j in 0..<d {
                        dz[(w * t1 + k) * d + j] += gx[row + j]
                        dz[(w * t1 + k + 1) * d + j] += gx[row + d + j]
                    }
                }
            }
        }

        // Back through the encoder shards, in parallel, then sum their gradients into shard 0's.
        DispatchQueue.concurrentPerform(iterations: shards.count) { j in
            let lo = j * shardFrames, hi = min(n, lo + shardFrames)
            guard lo < hi else { return }
            shards[j].outputGradient.withUnsafeMutableBufferPointer { g in
                for i in 0..<((hi - lo) * d) { g[i] = dz[lo * d + i] }
            }
            shards[j].backward(batch: hi - lo)
        }
        for j in 1..<shards.count {
            for (k, g) in shards[0].gradients {
                let other = shards[j].gradients[k]!
                g.withUnsafeMutableBufferPointer { dst in other.withUnsafeBufferPointer { src in for i in dst.indices { dst[i] += src[i] } }
                }
            }
        }
        return losses
    }

    /// The gradient of the whole objective for `name` (tests).
    public func gradient(of name: String) -> Tensor<Float>? { gradients[name] }

    /// The windows of training step `s`.
    func trainingBatch(step s: Int) -> [Window] { batchWindows(step: s).map { trainingWindows[$0] } }

    /// One optimizer step on the next batch.
    @discardableResult
    public func trainStep() -> StepLosses {
        let windows = trainingBatch(step: step)
        var losses = lossAndGradients(windows: windows)
        losses.gradientNorm = clipGlobalNorm([gradients], maxNorm: config.gradientClip)
        losses.learningRate = schedule.rate(at: step)
        optimizer.update(gradients: gradients, learningRate: Float(losses.learningRate))
        step += 1
        return losses
    }

    /// Prediction error over the horizon, inverse-dynamics error, and the spread of the latents on
    /// the validation episodes' non-overlapping windows.
    public func validate() -> ValidationReport {
        let t = config.horizon, d = latentSize, a = actionSize
        let stride = max(1, validationWindows.count / config.maxValidationWindows)
        let chosen = Swift.stride(from: 0, to: validationWindows.count, by: stride).map { validationWindows[$0] }
            .prefix(config.maxValidationWindows)
        var se = [Double](repeating: 0, count: t)
        var idmSE = 0.0
        var latents: [Float] = []
        var oneStep: [Double] = []
        var done = 0
        let all = Array(chosen)
        while done < all.count {
            let batch = Array(all[done..<min(all.count, done + config.batch)])
            let b = batch.count
            load(batch)
            encode(frames: b * (t + 1))
            rollOut(windows: b)
            inverseDynamicsForward(windows: b)
            latents.append(contentsOf: z[0..<(b * (t + 1) * d)])
            for k in 0..<t {
                for w in 0..<b {
                    var s = 0.0
                    for j in 0..<d {
                        let e = Double(zhat[((k + 1) * b + w) * d + j]) - Double(target[(k * b + w) * d + j])
                        s += e * e
                    }
                    se[k] += s / Double(d)
                    if k == 0 { oneStep.append(s / Double(d)) }
                }
            }
            inverseDynamics.output.withUnsafeBufferPointer { out in
                for i in 0..<(b * t * a) { let e = Double(out[i]) - Double(actions[i]); idmSE += e * e }
            }
            done += b
        }
        let count = Double(max(all.count, 1))
        let spread = LatentSpread(latents: latents, dim: d)
        let pe = se.map { $0 / count }
        oneStep.sort()
        func pct(_ q: Double) -> Double { oneStep.isEmpty ? 0 : quantile(sorted: oneStep, q) }
        return ValidationReport(
            step: step, windows: all.count, predictionError: pe,
            relativePredictionError: spread.relativeToVariance(pe),
            inverseDynamicsError: idmSE / (count * Double(t * a)), spread: spread,
            oneStepErrorP50: pct(0.5), oneStepErrorP99: pct(0.99))
    }

    /// The whole training state: weights, optimizer moments, step and config.
    public func checkpoint() throws -> SafetensorsFile {
        var tensors: [String: AnyTensor] = [:]
        for (k, t) in parameters {
            tensors[k] = AnyTensor(t.copy())
            tensors["adam.m.\(k)"] = AnyTensor(optimizer.firstMoments[k]!.copy())
            tensors["adam.v.\(k)"] = AnyTensor(optimizer.secondMoments[k]!.copy())
        }
        let cfg = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        return SafetensorsFile(tensors: tensors, metadata: ["kind": "cerebellum-checkpoint", "step": String(step), "config": cfg])
    }

    /// The trained parameters of one part ("encoder", "predictor", "idm"), without the prefix.
    public func parameters(of part: String) -> Parameters {
        var out: Parameters = [:]
        for (k, t) in parameters where k.hasPrefix(part + ".") { out[String(k.dropFirst(part.count + 1))] = t }
        return out
    }

    /// The training config a checkpoint was made with.
    public static func config(of checkpoint: SafetensorsFile, path: String) throws -> TrainingConfig {
        guard checkpoint.metadata["kind"] == "cerebellum-checkpoint", let json = checkpoint.metadata["config"] else {
            throw ModelError("\(path): not a cerebellum training checkpoint (metadata kind/config missing)")
        }
        do { return try JSONDecoder().decode(TrainingConfig.self, from: Data(json.utf8)) } catch {
            throw ModelError("\(path): checkpoint config: \(error)")
        }
    }
}
