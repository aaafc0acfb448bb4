import Foundation
import NeuralEngine

/// The terms of the JEPA training objective over latents, each returning its value and adding
/// `weight × dterm/dinput` into a gradient buffer. Values are summed in Double; latents are rows of
/// `dim` floats. The hand-derived gradients are checked against finite differences in the tests.
///
/// Conventions follow PLDM / EB-JEPA, so their published weights apply: every squared error is a
/// mean over its elements; the variance term is a mean over dimensions; the covariance term sums the
/// squared off-diagonal covariances and divides by the dimension.
public enum Objective {
    /// Added to the variance before the square root (keeps the hinge's gradient finite).
    public static let varianceEpsilon = 1e-4

    /// Mean squared error between `a` and `b` over `count` elements; gradient into `ga` (and the
    /// opposite into `gb`, when given).
    public static func meanSquaredError(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, weight: Double,
        gradientA ga: UnsafeMutablePointer<Float>?, gradientB gb: UnsafeMutablePointer<Float>?
    ) -> Double {
        var sum = 0.0
        let scale = 2 * weight / Double(count)
        for i in 0..<count {
            let d = Double(a[i]) - Double(b[i])
            sum += d * d
            if let ga { ga[i] += Float(scale * d) }
            if let gb { gb[i] -= Float(scale * d) }
        }
        return sum / Double(count)
    }

    /// Per-dimension means over `rows` rows.
    static func means(_ z: UnsafePointer<Float>, rows n: Int, dim d: Int) -> [Double] {
        var mu = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mu[j] += Double(z[i * d + j]) } }
        for j in 0..<d { mu[j] /= Double(n) }
        return mu
    }

    /// Covariance matrix (d × d, unbiased) of `rows` rows.
    static func covarianceMatrix(_ z: UnsafePointer<Float>, rows n: Int, dim d: Int, means mu: [Double]) -> [Double] {
        var c = [Double](repeating: 0, count: d * d)
        var centred = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { centred[j] = Double(z[i * d + j]) - mu[j] }
            for j in 0..<d {
                let cj = centred[j]
                for k in j..<d { c[j * d + k] += cj * centred[k] }
            }
        }
        let inv = 1 / Double(max(n - 1, 1))
        for j in 0..<d { for k in j..<d { c[j * d + k] *= inv; c[k * d + j] = c[j * d + k] } }
        return c
    }

    /// VICReg variance hinge: mean over the dimensions of max(0, 1 − √(var_j + ε)).
    /// d/dz_ij = −[std_j < 1] · (z_ij − μ_j) / ((n − 1) · std_j · d).
    public static func variance(
        _ z: UnsafePointer<Float>, rows n: Int, dim d: Int, weight: Double,
        gradient g: UnsafeMutablePointer<Float>?
    ) -> Double {
        let cols = 0..<d
        let mu = means(z, rows: n, dim: d)
        var v = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in cols { let c = Double(z[i * d + j]) - mu[j]; v[j] += c * c } }
        var loss = 0.0
        var coef = [Double](repeating: 0, count: d)
        for j in cols {
            let std = (v[j] / Double(n - 1) + varianceEpsilon).squareRoot()
            if std < 1 {
                loss += 1 - std
                coef[j] = -weight / (Double(n - 1) * std * Double(cols.count))
            }
        }
        if let g {
            for i in 0..<n { for j in cols where coef[j] != 0 { g[i * d + j] += Float(coef[j] * (Double(z[i * d + j]) - mu[j])) } }
        }
        return loss / Double(cols.count)
    }

    /// VICReg covariance: Σ_{j≠k} C_jk² / d. d/dz_ij = 4 / (d (n − 1)) · Σ_{k≠j} C_jk (z_ik − μ_k).
    public static func covariance(
        _ z: UnsafePointer<Float>, rows n: Int, dim d: Int, weight: Double,
        gradient g: UnsafeMutablePointer<Float>?
    ) -> Double {
        let mu = means(z, rows: n, dim: d)
        var c = covarianceMatrix(z, rows: n, dim: d, means: mu)
        var loss = 0.0
        for j in 0..<d { for k in 0..<d where j != k { loss += c[j * d + k] * c[j * d + k] } }
        if let g {
            let scale = 4 * weight / (Double(d) * Double(n - 1))
            for j in 0..<d { c[j * d + j] = 0 }
            var centred = [Double](repeating: 0, count: d)
            for i in 0..<n {
                for k in 0..<d { centred[k] = Double(z[i * d + k]) - mu[k] }
                for j in 0..<d {
                    var s = 0.0
                    for k in 0..<d { s += c[j * d + k] * centred[k] }
                    g[i * d + j] += Float(scale * s)
                }
            }
        }
        return loss / Double(d)
    }

    /// Temporal smoothness over `sequences` runs of `length` consecutive latents:
    /// mean of (z_{t+1} − z_t)² over every element of every consecutive pair.
    public static func smoothness(
        _ z: UnsafePointer<Float>, sequences b: Int, length: Int, dim d: Int, weight: Double,
        gradient g: UnsafeMutablePointer<Float>?
    ) -> Double {
        let count = b * (length - 1) * d
        var sum = 0.0
        let scale = 2 * weight / Double(count)
        for s in 0..<b {
            for t in 0..<(length - 1) {
                let r0 = (s * length + t) * d, r1 = r0 + d
                for j in 0..<d {
                    let diff = Double(z[r1 + j]) - Double(z[r0 + j])
                    sum += diff * diff
                    if let g {
                        g[r1 + j] += Float(scale * diff)
                        g[r0 + j] -= Float(scale * diff)
                    }
                }
            }
        }
        return sum / Double(count)
    }
}

/// Facts about a set of latents: how spread each dimension is and how many dimensions carry it.
public struct LatentSpread: Sendable, Codable, Equatable {
    /// Standard deviation per dimension.
    public var std: [Double]
    /// exp(entropy) of the covariance's normalized eigenvalues (Roy & Vetterli): 1 when everything
    /// lies on one line, `dim` when all dimensions carry equal variance.
    public var effectiveRank: Double

    public var minStd: Double { std.min() ?? 0 }
    /// Mean variance per dimension: the squared error of always predicting the mean.
    public var meanVariance: Double { std.isEmpty ? 0 : std.reduce(0) { $0 + $1 * $1 } / Double(std.count) }

    /// Mean squared latent errors as fractions of `meanVariance` (0 perfect, 1 as bad as the mean).
    public func relativeToVariance(_ errors: [Double]) -> [Double] { errors.map { $0 / max(meanVariance, 1e-12) } }
    public var meanStd: Double { std.isEmpty ? 0 : std.reduce(0, +) / Double(std.count) }
    /// Collapse: most dimensions constant, or everything on (nearly) one line.
    public var collapsed: Bool {
        let dead = std.filter { $0 < 0.05 }.count
        return dead * 2 > std.count || effectiveRank < 1.5
    }

    public init(std: [Double], effectiveRank: Double) {
        self.std = std
        self.effectiveRank = effectiveRank
    }

    public init(latents z: [Float], dim d: Int) {
        let n = z.count / d
        let (c, _) = z.withUnsafeBufferPointer { p -> ([Double], [Double]) in
            let mu = Objective.means(p.baseAddress!, rows: n, dim: d)
            return (Objective.covarianceMatrix(p.baseAddress!, rows: n, dim: d, means: mu), mu)
        }
        std = (0..<d).map { c[$0 * d + $0].squareRoot() }
        let eigen = LinearAlgebra.symmetricEigenvalues(c, n: d).map { max($0, 0) }
        let total = eigen.reduce(0, +)
        if total <= 0 { effectiveRank = 0; return }
        var entropy = 0.0
        for l in eigen where l > 0 { let p = l / total; entropy -= p * log(p) }
        effectiveRank = exp(entropy)
    }
}
