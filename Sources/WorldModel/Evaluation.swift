import NeuralEngine
import RobotCore

/// What `eval-model` measures on held-out episodes: the k-step prediction error, the latent's spread and the
/// int8 encoder's agreement on any recording; the position probe only where the episodes have true positions.
public struct ModelEvaluation: Sendable, Codable {
    public var episodes: Int
    public var frames: Int
    /// Mean squared latent error of the k-step rollout with the recorded actions, k = 1 … horizon.
    public var predictionError: [Double]
    /// The same over the latents' mean variance.
    public var relativePredictionError: [Double]
    /// The same rollouts through the int8 predictor the planner runs with `predictor: int8` (relative to the latent
    /// variance, k = 1 … horizon).
    public var relativePredictionErrorInt8: [Double]
    public var rollouts: Int
    /// Linear probe of the agent's (x, y) from the fp32 latent: fitted on half the episodes, R² on the other half
    /// (nil, like the other probe figures, without true positions or with fewer than two episodes).
    public var probeR2: [Double]?
    public var probeR2Overall: Double?
    /// The same probe on the int8 encoder's latents.
    public var probeR2Int8: [Double]?
    public var probeR2Int8Overall: Double?
    /// Probe error in px (RMS over both coordinates) on the test half.
    public var probeRMSErrorPx: Double?
    public var minCosineInt8: Double
    public var medianCosineInt8: Double
    public var spread: LatentSpread

    /// Encodes every frame (fp32 and int8), fits and tests the probe, rolls the predictor out.
    public static func run(model: WorldModelFile, episodes: [Episode], horizon: Int = 16, rolloutStride: Int = 4) throws -> ModelEvaluation
    {
        guard !episodes.isEmpty else { throw DatasetError("evaluation needs at least one episode") }
        if let bad = episodes.first(where: { $0.actionSize != model.actions.count }) {
            throw DatasetError("\(bad.source): \(bad.actionSize) efforts per action, the model takes \(model.actions.count)")
        }
        let probed = episodes.count >= 2 && episodes.allSatisfy { $0.positions != nil }
        let d = model.latentSize
        let enc = try model.makeEncoder(), q = try model.makeQuantizedEncoder(), pred = try model.makePredictor()
        var latents: [[Float]] = [], latentsInt8: [[Float]] = [], cos: [Double] = []
        for e in episodes {
            var z = [Float](), zq = [Float]()
            z.reserveCapacity(e.frameCount * d)
            for f in 0..<e.frameCount {
                let pixels = Array(e.frames[(f * e.frameBytes)..<((f + 1) * e.frameBytes)])
                enc.input.assignGray8(pixels)
                q.input.assignGray8(pixels)
                let a = enc.forward().scalars, b = q.forward().scalars
                z += a
                zq += b
                cos.append(cosineSimilarity(a, b))
            }
            latents.append(z)
            latentsInt8.append(zq)
        }
        let half = episodes.count / 2
        func probe(_ zs: [[Float]]) throws -> ([Double], Double, Double) {
            let fitX = zs[..<half].flatMap { $0 }, fitY = episodes[..<half].flatMap { $0.positions! }
            let testX = zs[half...].flatMap { $0 }, testY = episodes[half...].flatMap { $0.positions! }
            let p = try LinearProbe(x: fitX, y: fitY, features: d, outputs: 2)
            let r = p.rSquared(x: testX, y: testY)
            let yhat = p.predict(testX)
            var se = 0.0
            for i in testY.indices { se += (yhat[i] - Double(testY[i])) * (yhat[i] - Double(testY[i])) }
            return (r.perOutput, r.overall, (se / Double(testY.count)).squareRoot())
        }
        let (r2, r2all, rms) = probed ? try probe(latents) : (nil, nil, nil)
        let (r2q, r2qall, _) = probed ? try probe(latentsInt8) : (nil, nil, nil)

        // k-step rollouts from every `rolloutStride`-th frame with the recorded actions; `output` runs the predictor on
        // `input` ([z, a]) and gives its residual f.
        let a = model.actions.count
        var rollouts = 0
        func rolloutErrors(input: Tensor<Float>, output: () -> Tensor<Float>) -> [Double] {
            var se = [Double](repeating: 0, count: horizon), counts = [Int](repeating: 0, count: horizon)
            rollouts = 0
            for (ei, e) in episodes.enumerated() {
                let z = latents[ei]
                for s in stride(from: 0, to: e.frameCount - 1, by: rolloutStride) {
                    var zhat = Array(z[(s * d)..<((s + 1) * d)])
                    rollouts += 1
                    for k in 0..<min(horizon, e.frameCount - 1 - s) {
                        input.withUnsafeMutableBufferPointer { x in
                            for j in 0..<d { x[j] = zhat[j] }
                            for c in 0..<a { x[d + c] = e.actions[(s + k) * a + c] }
                        }
                        var err = 0.0
                        output().withUnsafeBufferPointer { f in
                            for j in 0..<d {
                                zhat[j] += f[j]
                                let t = Double(z[(s + k + 1) * d + j])
                                err += (Double(zhat[j]) - t) * (Double(zhat[j]) - t)
                            }
                        }
                        se[k] += err / Double(d)
                        counts[k] += 1
                    }
                }
            }
            return (0..<horizon).map { counts[$0] > 0 ? se[$0] / Double(counts[$0]) : .nan }
        }
        let int8 = try model.makeRolloutPredictor(capacity: 1, precision: .int8).stack
        let peInt8 = rolloutErrors(input: int8.input) {
            int8.forward(rows: 1)
            return int8.output
        }
        let pe = rolloutErrors(input: pred.input) { pred.forward() }
        let spread = LatentSpread(latents: latents.flatMap { $0 }, dim: d)
        cos.sort()
        return ModelEvaluation(
            episodes: episodes.count, frames: cos.count, predictionError: pe,
            relativePredictionError: spread.relativeToVariance(pe), relativePredictionErrorInt8: spread.relativeToVariance(peInt8),
            rollouts: rollouts,
            probeR2: r2, probeR2Overall: r2all, probeR2Int8: r2q, probeR2Int8Overall: r2qall, probeRMSErrorPx: rms,
            minCosineInt8: cos.first ?? .nan, medianCosineInt8: quantile(sorted: cos, 0.5), spread: spread)
    }
}
