import Foundation
import NeuralEngine
import RobotCore
import Testing
@testable import WorldModel

/// Finite-difference checks of the objective's terms, and of the whole model's backward pass.
@Suite struct ObjectiveGradientTests {
    /// A term's weighted value (the functions return it unweighted, their gradients weighted).
    typealias Term = (UnsafePointer<Float>, UnsafeMutablePointer<Float>?) -> Double

    static func check(_ name: String, count: Int, seed: UInt64, scale: Double = 1, _ term: Term) {
        var rng = SeededGenerator(seed: seed)
        var z = (0..<count).map { _ in Float(rng.normal() * scale) }
        var g = [Float](repeating: 0, count: count)
        _ = z.withUnsafeBufferPointer { zp in g.withUnsafeMutableBufferPointer { gp in term(zp.baseAddress!, gp.baseAddress!) } }
        for _ in 0..<20 {
            let i = Int(rng.next() % UInt64(count))
            let eps: Float = 1e-3
            let saved = z[i]
            z[i] = saved + eps
            let up = z.withUnsafeBufferPointer { term($0.baseAddress!, nil) }
            z[i] = saved - eps
            let down = z.withUnsafeBufferPointer { term($0.baseAddress!, nil) }
            z[i] = saved
            let numeric = (up - down) / Double(2 * eps)
            #expect(
                abs(numeric - Double(g[i])) <= 1e-2 * max(abs(numeric), abs(Double(g[i]))) + 1e-5,
                "\(name)[\(i)]: analytic \(g[i]), numeric \(numeric)")
        }
    }

    @Test func varianceHinge() {
        // Scale 0.5: most dimensions below std 1, so the hinge is active.
        Self.check("variance", count: 24 * 6, seed: 1, scale: 0.5) { z, g in
            3 * Objective.variance(z, rows: 24, dim: 6, weight: 3, gradient: g)
        }
    }

    @Test func covariance() {
        Self.check("covariance", count: 20 * 5, seed: 2) { z, g in 2 * Objective.covariance(z, rows: 20, dim: 5, weight: 2, gradient: g) }
    }

    @Test func smoothness() {
        Self.check("smoothness", count: 3 * 4 * 5, seed: 3) { z, g in
            1.5 * Objective.smoothness(z, sequences: 3, length: 4, dim: 5, weight: 1.5, gradient: g)
        }
    }

    @Test func meanSquaredError() {
        var rng = SeededGenerator(seed: 4)
        let b = (0..<30).map { _ in Float(rng.normal()) }
        Self.check("mse", count: 30, seed: 5) { z, g in
            b.withUnsafeBufferPointer {
                2 * Objective.meanSquaredError(z, $0.baseAddress!, count: 30, weight: 2, gradientA: g, gradientB: nil)
            }
        }
    }

    @Test func varianceIsZeroWhenSpreadAndPositiveWhenCollapsed() {
        var rng = SeededGenerator(seed: 6)
        let wide = (0..<(100 * 4)).map { _ in Float(rng.normal() * 3) }
        let flat = [Float](repeating: 0.5, count: 100 * 4)
        #expect(wide.withUnsafeBufferPointer { Objective.variance($0.baseAddress!, rows: 100, dim: 4, weight: 1, gradient: nil) } == 0)
        #expect(
            abs(flat.withUnsafeBufferPointer { Objective.variance($0.baseAddress!, rows: 100, dim: 4, weight: 1, gradient: nil) } - 0.99)
                < 1e-6)
    }

    /// The whole objective through encoder shards (2 threads), the rollout (through time) and the
    /// inverse-dynamics head, against central differences on parameters of every part.
    /// Every encoder; the keypoint and hybrid ones (spatial soft-argmax, concat) with a smaller latent.
    @Test(arguments: [
        (WorldModelArchitecture.EncoderKind.convolutional, 32, ["encoder.0.weight", "encoder.4.bias", "encoder.9.weight"]),
        (.keypoints, 16, ["encoder.0.weight", "encoder.4.bias", "encoder.6.weight"]),
        (
            .hybrid, 16,
            [
                "encoder.0.weight", "encoder.2.bias", "encoder.4.0.2.weight", "encoder.4.0.5.bias",
                "encoder.4.1.0.weight", "encoder.4.1.2.weight",
            ]
        ),
    ])
    func wholeModelGradient(encoder: WorldModelArchitecture.EncoderKind, latent: Int, encoderParameters: [String]) throws {
        var config = TrainingConfig()
        config.encoder = encoder
        config.latentSize = latent
        config.batch = 3
        config.horizon = 3
        config.threads = 2
        config.predictorHidden = 16
        config.inverseDynamicsHidden = 8
        config.validationFraction = 0
        let data = try Dataset(
            episodes: try syntheticEpisodes(count: 2, steps: 10, seed: 7), actionNames: ["vx", "vy"], validationFraction: 0, seed: 1)
        let trainer = try JEPATrainer(config: config, dataset: data)
        let windows = [Window(episode: 0, start: 0), Window(episode: 1, start: 3), Window(episode: 0, start: 6)]
        // Biases start at zero and the dark floor gives exactly-zero pre-activations: ReLU kinks, where
        // a central difference averages the two one-sided slopes. Small random biases move off them.
        var rng = SeededGenerator(seed: 8)
        for k in trainer.parameters.keys.sorted() where k.hasSuffix("bias") {
            let t = trainer.parameters[k]!
            for i in 0..<t.count { t[i] = Float(rng.normal() * 0.05) }
        }
        #expect(trainer.latentSize == latent && trainer.encoderLayers == WorldModelArchitecture.encoder(encoder, latent: latent))
        _ = trainer.lossAndGradients(windows: windows)
        for name in encoderParameters + ["predictor.0.weight", "predictor.4.weight", "predictor.2.bias", "idm.0.weight", "idm.2.bias"] {
            let p = trainer.parameters[name]!
            let g = trainer.gradient(of: name)!.scalars
            for _ in 0..<4 {
                let i = Int(rng.next() % UInt64(p.count))
                let eps: Float = 1e-3
                let saved = p[i]
                p[i] = saved + eps
                let up = trainer.lossAndGradients(windows: windows).total
                p[i] = saved - eps
                let down = trainer.lossAndGradients(windows: windows).total
                p[i] = saved
                let numeric = (up - down) / Double(2 * eps)
                #expect(
                    abs(numeric - Double(g[i])) <= 5e-2 * max(abs(numeric), abs(Double(g[i]))) + 3e-3,
                    "\(name)[\(i)]: analytic \(g[i]), numeric \(numeric)")
            }
        }
    }

    /// Two encoder shards give the same gradients as one (up to summation order).
    @Test func shardsAgreeWithOneThread() throws {
        let data = try Dataset(
            episodes: try syntheticEpisodes(count: 2, steps: 12, seed: 9), actionNames: ["vx", "vy"], validationFraction: 0, seed: 1)
        var config = TrainingConfig()
        config.batch = 4
        config.horizon = 2
        var grads: [[Float]] = []
        for threads in [1, 2] {
            config.threads = threads
            let t = try JEPATrainer(config: config, dataset: data)
            _ = t.lossAndGradients(windows: (0..<4).map { Window(episode: $0 % 2, start: $0 * 2) })
            grads.append(t.gradient(of: "encoder.2.weight")!.scalars + t.gradient(of: "predictor.0.weight")!.scalars)
        }
        for i in grads[0].indices { #expect(abs(grads[0][i] - grads[1][i]) <= 1e-4 * max(1, abs(grads[0][i]))) }
    }
}

@Suite struct OptimizerTests {
    /// One AdamW step by hand: m = (1−β1)g, v = (1−β2)g², bias-corrected update = g/|g| (+ε), decay on matrices only.
    @Test func adamWFirstStep() {
        let w = Tensor<Float>(shape: [1, 2], scalars: [1, -2]), b = Tensor<Float>(shape: [2], scalars: [0.5, 0.5])
        let opt = AdamW(parameters: ["w": w, "b": b], weightDecay: 0.1)
        let gw = Tensor<Float>(shape: [1, 2], scalars: [0.3, -4]), gb = Tensor<Float>(shape: [2], scalars: [2, 0])
        opt.update(gradients: ["w": gw, "b": gb], learningRate: 0.01)
        #expect(abs(w[0] - (1 - 0.01 * (1 + 0.1 * 1))) < 1e-6)
        #expect(abs(w[1] - (-2 - 0.01 * (-1 + 0.1 * -2))) < 1e-6)
        #expect(abs(b[0] - (0.5 - 0.01)) < 1e-6)
        #expect(b[1] == 0.5)
    }

    @Test func scheduleWarmsUpThenDecaysToTheFloor() {
        let s = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, floor: 0.1)
        #expect(abs(s.rate(at: 0) - 1e-4) < 1e-12)
        #expect(abs(s.rate(at: 9) - 1e-3) < 1e-12)
        #expect(abs(s.rate(at: 60) - 1e-3 * (0.1 + 0.9 * 0.5)) < 1e-12)
        #expect(abs(s.rate(at: 110) - 1e-4) < 1e-12)
        #expect(s.rate(at: 30) > s.rate(at: 40))
    }

    @Test func clippingScalesTheGlobalNorm() {
        let a = Tensor<Float>(shape: [2], scalars: [3, 0]), b = Tensor<Float>(shape: [1], scalars: [4])
        let before = clipGlobalNorm([["a": a, "b": b]], maxNorm: 1)
        #expect(before == 5)
        #expect(abs(globalNorm([["a": a, "b": b]]) - 1) < 1e-6)
        #expect(abs(a[0] - 0.6) < 1e-6 && abs(b[0] - 0.8) < 1e-6)
    }
}

@Suite struct TrainingRunTests {
    static func config() -> TrainingConfig {
        var c = TrainingConfig()
        c.batch = 8
        c.horizon = 3
        c.epochs = 2
        c.warmupSteps = 2
        c.predictorHidden = 16
        c.inverseDynamicsHidden = 8
        c.validationFraction = 0.25
        return c
    }

    /// Training lowers the objective on a fixed batch, and is deterministic for a seed.
    @Test func lossFallsAndRunsAreDeterministic() throws {
        let data = try Dataset(
            episodes: try syntheticEpisodes(count: 8, steps: 20, seed: 11), actionNames: ["vx", "vy"], validationFraction: 0.25, seed: 3)
        let a = try JEPATrainer(config: Self.config(), dataset: data), b = try JEPATrainer(config: Self.config(), dataset: data)
        let probe = Array(data.windows(horizon: 3, in: data.trainingEpisodes).prefix(8))
        let before = a.lossAndGradients(windows: probe).total
        for _ in 0..<15 { a.trainStep(); b.trainStep() }
        let after = a.lossAndGradients(windows: probe).total
        #expect(after < before, "objective \(before) → \(after)")
        #expect(a.parameters["encoder.0.weight"]!.scalars == b.parameters["encoder.0.weight"]!.scalars)
        let v = a.validate()
        #expect(v.predictionError.count == 3 && v.windows > 0)
        #expect(v.spread.std.count == WorldModelArchitecture.latentSize)
    }

    /// Resuming from a checkpoint continues exactly where the run left off.
    @Test func resumeFromCheckpointIsExact() throws {
        let data = try Dataset(
            episodes: try syntheticEpisodes(count: 6, steps: 16, seed: 12), actionNames: ["vx", "vy"], validationFraction: 0.2, seed: 4)
        let straight = try JEPATrainer(config: Self.config(), dataset: data)
        for _ in 0..<6 { straight.trainStep() }
        let first = try JEPATrainer(config: Self.config(), dataset: data)
        for _ in 0..<3 { first.trainStep() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(getpid()).safetensors").path
        try first.checkpoint().write(path: path)
        let file = try SafetensorsFile.read(path: path)
        #expect(try JEPATrainer.config(of: file, path: path) == Self.config())
        let resumed = try JEPATrainer(config: Self.config(), dataset: data, checkpoint: file, checkpointPath: path)
        #expect(resumed.step == 3)
        for _ in 0..<3 { resumed.trainStep() }
        for name in ["encoder.0.weight", "predictor.4.bias", "idm.0.weight"] {
            #expect(resumed.parameters[name]!.scalars == straight.parameters[name]!.scalars, "\(name) differs after resume")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test func checkpointWithoutOptimizerStateIsRejected() throws {
        let data = try Dataset(
            episodes: try syntheticEpisodes(count: 4, steps: 12, seed: 13), actionNames: ["vx", "vy"], validationFraction: 0.25, seed: 4)
        let t = try JEPATrainer(config: Self.config(), dataset: data)
        var file = try t.checkpoint()
        file.tensors = file.tensors.filter { !$0.key.hasPrefix("adam.v.") }
        #expect(throws: (any Error).self) {
            _ = try JEPATrainer(config: Self.config(), dataset: data, checkpoint: file, checkpointPath: "x")
        }
    }
}

@Suite struct DatasetAndProbeTests {
    @Test func splitIsByEpisodeAndDeterministic() throws {
        let eps = try syntheticEpisodes(count: 10, steps: 6, seed: 1)
        let a = try Dataset(episodes: eps, actionNames: ["vx", "vy"], validationFraction: 0.2, seed: 5),
            b = try Dataset(episodes: eps, actionNames: ["vx", "vy"], validationFraction: 0.2, seed: 5)
        #expect(a.validationEpisodes == b.validationEpisodes && a.validationEpisodes.count == 2)
        #expect(Set(a.validationEpisodes).isDisjoint(with: a.trainingEpisodes))
        #expect(a.windows(horizon: 4, in: [0]).count == 3)
    }

    @Test func badEpisodesAreRejectedWithTheirSource() {
        #expect(throws: DatasetError.self) {
            _ = try Episode(
                width: 64, height: 64, frames: [UInt8](repeating: 0, count: 64 * 64 * 3), actions: [0, 0], actionSize: 2, positions: nil,
                source: "f.mcap#2")
        }
    }

    @Test func probeRecoversALinearMap() throws {
        var rng = SeededGenerator(seed: 2)
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<200 {
            let f = (0..<4).map { _ in Float(rng.normal()) }
            x += f
            y += [2 * f[0] - f[3] + 1, 0.5 * f[1]]
        }
        let p = try LinearProbe(x: x, y: y, features: 4, outputs: 2, ridge: 0)
        let r = p.rSquared(x: x, y: y)
        #expect(r.overall > 0.999999)
        #expect(abs(p.weights[4 * 2] - 1) < 1e-6)
    }

    @Test func spreadSeesCollapse() {
        var rng = SeededGenerator(seed: 3)
        let healthy = (0..<(500 * 8)).map { _ in Float(rng.normal()) }
        let line = (0..<500).flatMap { _ -> [Float] in
            let t = Float(rng.normal()); return (0..<8).map { Float($0) * t }
        }
        #expect(!LatentSpread(latents: healthy, dim: 8).collapsed)
        #expect(LatentSpread(latents: healthy, dim: 8).effectiveRank > 7)
        #expect(LatentSpread(latents: line, dim: 8).collapsed)
    }
}
