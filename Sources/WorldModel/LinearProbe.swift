import NeuralEngine

/// A linear probe: ridge regression from features (plus a constant) to targets, fitted by
/// solving the normal equations (XᵀX + λI)W = XᵀY by Cholesky (LAPACK), in Double.
/// Used to show what a latent keeps: e.g. the agent's position, linearly, on held-out frames.
public struct LinearProbe: Sendable {
    public let features: Int
    public let outputs: Int
    /// (features + 1) × outputs, the last row the constant.
    public let weights: [Double]

    /// Fits on `rows` rows of `x` (rows × features) and `y` (rows × outputs).
    public init(x: [Float], y: [Float], features d: Int, outputs k: Int, ridge: Double = 1e-3) throws {
        let n = x.count / d
        guard n > d, y.count == n * k else { throw DatasetError("probe: \(n) rows for \(d) features (need more rows than features)") }
        let m = d + 1
        var a = [Double](repeating: 0, count: m * m), b = [Double](repeating: 0, count: m * k)
        var row = [Double](repeating: 1, count: m)
        for i in 0..<n {
            for j in 0..<d { row[j] = Double(x[i * d + j]) }
            for p in 0..<m {
                for q in p..<m { a[p * m + q] += row[p] * row[q] }
                for o in 0..<k { b[p * k + o] += row[p] * Double(y[i * k + o]) }
            }
        }
        for p in 0..<m { for q in 0..<p { a[p * m + q] = a[q * m + p] } }
        for p in 0..<d { a[p * m + p] += ridge * Double(n) }
        let w: [Double]
        do { w = try LinearAlgebra.solvePositiveDefinite(a, b, n: m, k: k) } catch {
            throw DatasetError("probe: the features are degenerate (matrix not positive definite)")
        }
        features = d
        outputs = k
        weights = w
    }

    public func predict(_ x: [Float]) -> [Double] {
        let n = x.count / features
        var out = [Double](repeating: 0, count: n * outputs)
        for i in 0..<n {
            for o in 0..<outputs {
                var s = weights[features * outputs + o]
                for j in 0..<features { s += Double(x[i * features + j]) * weights[j * outputs + o] }
                out[i * outputs + o] = s
            }
        }
        return out
    }

    /// R² per output and over all outputs together (1 − SSE / SST, SST about each output's mean).
    public func rSquared(x: [Float], y: [Float]) -> (perOutput: [Double], overall: Double) {
        let p = predict(x)
        let n = y.count / outputs
        var sse = [Double](repeating: 0, count: outputs), sst = sse, mean = sse
        for i in 0..<n { for o in 0..<outputs { mean[o] += Double(y[i * outputs + o]) / Double(n) } }
        for i in 0..<n {
            for o in 0..<outputs {
                let t = Double(y[i * outputs + o])
                sse[o] += (p[i * outputs + o] - t) * (p[i * outputs + o] - t)
                sst[o] += (t - mean[o]) * (t - mean[o])
            }
        }
        return ((0..<outputs).map { 1 - sse[$0] / max(sst[$0], 1e-300) }, 1 - sse.reduce(0, +) / max(sst.reduce(0, +), 1e-300))
    }
}
