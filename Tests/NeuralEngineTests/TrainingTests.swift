import RobotCore
import Testing
@testable import NeuralEngine

/// Finite-difference checks of every trainable layer's hand-derived backward pass.
@Suite struct TrainingGradientTests {
    /// L = Σ output ⊙ R for a fixed random R, so dL/doutput = R.
    static func loss(_ net: TrainableNetwork, batch: Int, r: [Float]) -> Double {
        net.forward(batch: batch)
        var s = 0.0
        for i in 0..<r.count { s += Double(net.output[i]) * Double(r[i]) }
        return s
    }

    /// Compares analytic and central-difference gradients at `probes` coordinates of every parameter
    /// and of the input.
    static func check(layers: [LayerSpec], inputShape: [Int], batch: Int, seed: UInt64, probes: Int = 12) throws {
        let params = Parameters.initialized(for: layers, seed: seed)
        // Non-zero biases so the bias paths matter.
        var rng = SeededGenerator(seed: seed &+ 99)
        for k in params.keys.sorted() where k.hasSuffix("bias") {
            for i in 0..<params[k]!.count { params[k]![i] = Float(rng.normal() * 0.1) }
        }
        let net = try TrainableNetwork(layers: layers, parameters: params, inputShape: inputShape, maxBatch: batch + 1, inputGradient: true)
        let n = batch * inputShape.reduce(1, *)
        for i in 0..<n { net.input[i] = Float(rng.normal()) }
        let outCount = batch * net.outputShape.reduce(1, *)
        let r = (0..<outCount).map { _ in Float(rng.normal()) }
        net.zeroGradients()
        _ = loss(net, batch: batch, r: r)
        for i in 0..<outCount { net.outputGradient[i] = r[i] }
        net.backward(batch: batch)

        func compare(_ name: String, _ value: Tensor<Float>, _ analytic: Float, at i: Int) {
            let eps: Float = 1e-3
            let saved = value[i]
            value[i] = saved + eps
            let up = loss(net, batch: batch, r: r)
            value[i] = saved - eps
            let down = loss(net, batch: batch, r: r)
            value[i] = saved
            let numeric = (up - down) / Double(2 * eps)
            let tol = 2e-2 * max(abs(numeric), abs(Double(analytic))) + 3e-3
            #expect(abs(numeric - Double(analytic)) <= tol, "\(name)[\(i)]: analytic \(analytic), numeric \(numeric)")
        }
        for name in params.keys.sorted() {
            let p = params[name]!, g = net.gradients[name]!
            for _ in 0..<probes { let i = Int(rng.next() % UInt64(p.count)); compare(name, p, g[i], at: i) }
        }
        let dx = net.inputGradient!.scalars
        for _ in 0..<probes { let i = Int(rng.next() % UInt64(n)); compare("input", net.input, dx[i], at: i) }
    }

    @Test func convolutionStridedPaddedWithReLUFlattenLinear() throws {
        try Self.check(
            layers: [
                .conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1), .activation(.relu),
                .conv2d(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 0), .activation(.relu),
                .flatten, .linear(inFeatures: 4 * 2 * 2, outFeatures: 5),
            ],
            inputShape: [8, 8, 2], batch: 3, seed: 1)
    }

    @Test func convolutionWithoutPadding() throws {
        try Self.check(
            layers: [.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 2, padding: 0), .flatten],
            inputShape: [7, 7, 1], batch: 2, seed: 2)
    }

    @Test func spatialSoftArgmaxBetweenConvolutionAndLinear() throws {
        try Self.check(
            layers: [
                .conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1), .spatialSoftArgmax,
                .linear(inFeatures: 6, outFeatures: 4),
            ],
            inputShape: [5, 6, 2], batch: 3, seed: 4)
    }

    /// A stem feeding two branches (a flattened convolution and keypoints), concatenated: the input
    /// gradient sums over both branches.
    static let twoBranches: [LayerSpec] = [
        .conv2d(inChannels: 1, outChannels: 3, kernel: 3, stride: 1, padding: 1), .activation(.relu),
        .concat([
            [
                .conv2d(inChannels: 3, outChannels: 2, kernel: 3, stride: 2, padding: 1), .activation(.relu), .flatten,
                .linear(inFeatures: 3 * 3 * 2, outFeatures: 4),
            ],
            [.conv2d(inChannels: 3, outChannels: 2, kernel: 3, stride: 1, padding: 1), .spatialSoftArgmax],
        ]),
        .linear(inFeatures: 8, outFeatures: 3),
    ]

    @Test func concatOfAConvolutionBranchAndAKeypointBranch() throws {
        try Self.check(layers: Self.twoBranches, inputShape: [6, 5, 1], batch: 3, seed: 7)
    }

    /// A sharp peak gives its pixel centre; a flat map gives the middle of the image.
    @Test func spatialSoftArgmaxFindsThePeak() throws {
        let net = try Network(layers: [.spatialSoftArgmax], parameters: [:], inputShape: [4, 8, 2], batch: 1)
        net.input.fill(0)
        net.input[(1 * 8 + 6) * 2 + 0] = 40  // channel 0 peaks at row 1, column 6
        let out = net.forward().scalars
        #expect(abs(out[0] - (13.0 / 8 - 1)) < 1e-5 && abs(out[1] - (3.0 / 4 - 1)) < 1e-5, "\(out)")
        #expect(abs(out[2]) < 1e-6 && abs(out[3]) < 1e-6, "\(out)")
    }

    @Test func multilayerPerceptron() throws {
        try Self.check(
            layers: [.linear(inFeatures: 6, outFeatures: 9), .activation(.relu), .linear(inFeatures: 9, outFeatures: 4)],
            inputShape: [6], batch: 5, seed: 3)
    }

    /// The training network computes what the inference network computes.
    @Test func forwardMatchesInferenceNetwork() throws {
        let conv: [LayerSpec] = [
            .conv2d(inChannels: 1, outChannels: 4, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .flatten, .linear(inFeatures: 4 * 4 * 4, outFeatures: 3),
        ]
        let keypoints: [LayerSpec] = [
            .conv2d(inChannels: 1, outChannels: 4, kernel: 3, stride: 2, padding: 1), .spatialSoftArgmax,
            .linear(inFeatures: 8, outFeatures: 3),
        ]
        for (layers, shape) in [(conv, [8, 8, 1]), (keypoints, [8, 8, 1]), (Self.twoBranches, [6, 5, 1])] {
            let params = Parameters.initialized(for: layers, seed: 5)
            let train = try TrainableNetwork(layers: layers, parameters: params, inputShape: shape, maxBatch: 3)
            let infer = try Network(layers: layers, parameters: params, inputShape: shape, batch: 2)
            var rng = SeededGenerator(seed: 6)
            for i in 0..<infer.input.count { let v = Float(rng.normal()); train.input[i] = v; infer.input[i] = v }
            train.forward(batch: 2)
            let b = infer.forward().scalars, a = Array(train.output.scalars.prefix(b.count))
            for i in a.indices { #expect(abs(a[i] - b[i]) <= 1e-5 * max(1, abs(b[i]))) }
        }
    }

    /// Replicas that share gradients add into them; independent replicas keep their own.
    @Test func replicasShareOrKeepGradients() throws {
        let layers: [LayerSpec] = [.linear(inFeatures: 3, outFeatures: 2)]
        let net = try TrainableNetwork(
            layers: layers, parameters: Parameters.initialized(for: layers, seed: 1), inputShape: [3], maxBatch: 1)
        let shared = try net.replica(sharingGradients: true), own = try net.replica(sharingGradients: false)
        for n in [net, shared, own] {
            n.input[0] = 1; n.input[1] = 2; n.input[2] = 3
            n.forward(batch: 1)
            n.outputGradient[0] = 1; n.outputGradient[1] = 0
        }
        net.zeroGradients(); own.zeroGradients()
        net.backward(batch: 1); shared.backward(batch: 1); own.backward(batch: 1)
        #expect(net.gradients["0.weight"]!.scalars == [2, 4, 6, 0, 0, 0])
        #expect(own.gradients["0.weight"]!.scalars == [1, 2, 3, 0, 0, 0])
        #expect(net.parameters["0.weight"] === own.parameters["0.weight"])
    }

    @Test func untrainableLayersAreRejectedWithTheirName() {
        #expect(throws: ModelError.self) {
            _ = try TrainableNetwork(
                layers: [.activation(.gelu)], parameters: Parameters.initialized(for: [.activation(.gelu)], seed: 1),
                inputShape: [4], maxBatch: 1)
        }
    }
}
