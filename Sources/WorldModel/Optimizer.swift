import Foundation
import NeuralEngine

/// AdamW (Loshchilov & Hutter): Adam moments with bias correction, and weight decay applied to the
/// weights directly (decoupled), only to matrices and kernels (never to biases).
public final class AdamW {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float
    /// Updates taken (the bias-correction exponent).
    public private(set) var step = 0
    public let parameters: Parameters
    /// First and second moments, by parameter name.
    public let firstMoments: Parameters
    public let secondMoments: Parameters
    private let names: [String]

    public init(parameters: Parameters, weightDecay: Float) {
        self.parameters = parameters
        self.weightDecay = weightDecay
        names = parameters.keys.sorted()
        var m: Parameters = [:], v: Parameters = [:]
        for (k, t) in parameters { m[k] = Tensor(shape: t.shape); v[k] = Tensor(shape: t.shape) }
        firstMoments = m
        secondMoments = v
    }

    /// Restores the moments and step from a checkpoint.
    public func restore(step: Int, first: Parameters, second: Parameters) throws {
        for k in names {
            guard let m = first[k], let v = second[k], m.shape == parameters[k]!.shape, v.shape == m.shape else {
                throw ModelError("checkpoint lacks optimizer moments for \"\(k)\" (or their shape differs)")
            }
            firstMoments[k]!.assign(from: m)
            secondMoments[k]!.assign(from: v)
        }
        self.step = step
    }

    /// One update with `gradients` (same names as the parameters) at learning rate `lr`.
    public func update(gradients: Parameters, learningRate lr: Float) {
        step += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(step))), c2 = 1 - Float(pow(Double(beta2), Double(step)))
        for k in names {
            let p = parameters[k]!, g = gradients[k]!, m = firstMoments[k]!, v = secondMoments[k]!
            let decay = p.shape.count > 1 ? weightDecay : 0
            let (b1, b2, eps) = (beta1, beta2, epsilon)
            p.withUnsafeMutableBufferPointer { pp in
                g.withUnsafeBufferPointer { gg in
                    m.withUnsafeMutableBufferPointer { mm in
                        v.withUnsafeMutableBufferPointer { vv in
                            for i in 0..<pp.count {
                                let gi = gg[i]
                                mm[i] = b1 * mm[i] + (1 - b1) * gi
                                vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                                let update = (mm[i] / c1) / ((vv[i] / c2).squareRoot() + eps)
                                pp[i] -= lr * (update + decay * pp[i])
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Linear warm-up to the peak rate, then cosine decay to `floor` × peak at `total` steps.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var floor: Double

    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let t = min(1, Double(step - warmupSteps) / Double(max(totalSteps - warmupSteps, 1)))
        return peak * (floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * t)))
    }
}

/// The global L2 norm of all gradients (summed in name order, so runs are bit-reproducible).
public func globalNorm(_ gradients: [Parameters]) -> Double {
    var s = 0.0
    for set in gradients {
        for k in set.keys.sorted() { set[k]!.withUnsafeBufferPointer { p in for x in p { s += Double(x) * Double(x) } } }
    }
    return s.squareRoot()
}

/// Scales every gradient so that the global norm is at most `maxNorm`; returns the norm before.
@discardableResult
public func clipGlobalNorm(_ gradients: [Parameters], maxNorm: Double) -> Double {
    let n = globalNorm(gradients)
    if n > maxNorm && n.isFinite {
        let s = Float(maxNorm / n)
        for set in gradients {
            for t in set.values { t.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= s } } }
        }
    }
    return n
}
