import CAllocationCounter
import CKernels
import Foundation
import RobotCore
import Simulation
import Testing
import WorldModel
@testable import NeuralEngine

/// A random int8 GEMM problem packed for `ck_gemm_s8`.
final class GemmProblem {
    let m, n, k, lda, ldo: Int
    let a: Tensor<Int8>, w: Tensor<Int8>, packed: Tensor<Int8>, comp: Tensor<Int32>
    let scale: Tensor<Float>, bias: Tensor<Float>

    init(m: Int, n: Int, k: Int, extraStride: Int, rng: inout SeededGenerator) {
        self.m = m; self.n = n; self.k = k
        let kp = (k + 3) / 4 * 4, np = (n + 15) / 16 * 16
        lda = kp + extraStride * 4
        ldo = n + extraStride
        a = Tensor(shape: [m * lda], slack: 64)
        w = Tensor(shape: [n * k])
        for i in 0..<a.count { a[i] = Int8(Int(rng.next() % 255) - 127) }
        for i in 0..<w.count { w[i] = Int8(Int(rng.next() % 255) - 127) }
        packed = Tensor(shape: [kp * np])
        comp = Tensor(shape: [np])
        ck_pack_s8(Int32(n), Int32(k), w.pointer, packed.pointer, comp.pointer)
        scale = Tensor(shape: [n])
        bias = Tensor(shape: [n])
        for i in 0..<n {
            scale[i] = Float(1e-4 * (0.5 + rng.unit()))
            bias[i] = Float(rng.unit() - 0.5)
        }
    }

    /// Runs `kernel`; returns the float output (floatOut) or the int8 output as floats.
    func run(
        _ kernel: Int8Kernel, bias useBias: Bool, relu: Bool, floatOut: Bool, unitScale: Bool = false,
        outScale: Float = 0.05
    ) -> [Float] {
        let of = Tensor<Float>(shape: [m * ldo]), os = Tensor<Int8>(shape: [m * ldo])
        let ones = Tensor<Float>(shape: [n])
        ones.fill(1)
        var pw = ck_packed_s8(
            n: Int32(n), k: Int32(k), np: Int32((n + 15) / 16 * 16), kp: Int32((k + 3) / 4 * 4),
            weights: packed.pointer, comp: comp.pointer)
        var e = ck_epilogue(
            scale: (unitScale ? ones : scale).pointer, bias: useBias ? bias.pointer : nil, relu: relu ? 1 : 0,
            out_inv_scale: 1 / outScale, row_scale: nil)
        let status = ck_gemm_s8(
            kernel.c, Int32(m), a.pointer, Int32(lda), &pw, &e, floatOut ? of.pointer : nil,
            floatOut ? nil : os.pointer, Int32(ldo))
        #expect(status == 0)
        var out: [Float] = []
        for i in 0..<m { for j in 0..<n { out.append(floatOut ? of[i * ldo + j] : Float(os[i * ldo + j])) } }
        return out
    }
}

@Suite("int8 kernels and quantization")
struct Int8Tests {
    @Test func portableSumsAreExact() {
        var rng = SeededGenerator(seed: 1)
        for (m, n, k) in [(1, 1, 1), (3, 17, 9), (5, 32, 144), (2, 5, 1023)] {
            let p = GemmProblem(m: m, n: n, k: k, extraStride: 1, rng: &rng)
            let got = p.run(.portable, bias: false, relu: false, floatOut: true, unitScale: true)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0
                    for t in 0..<k { s += Int(p.a[i * p.lda + t]) * Int(p.w[j * k + t]) }
                    #expect(got[i * n + j] == Float(s), "m \(m) n \(n) k \(k) at \(i),\(j)")
                }
            }
        }
    }

    /// With CEREBELLUM_EXPECT_KERNELS set (comma-separated int8 kernel names, e.g. "portable,neon,neon-dot" for
    /// `qemu-aarch64 -cpu max`), the CPU must offer exactly those: a run meant to check a path does check it.
    @Test func theExpectedKernelsAreTheOnesChecked() {
        guard let expected = ProcessInfo.processInfo.environment["CEREBELLUM_EXPECT_KERNELS"] else { return }
        #expect(Int8Kernel.available.map(\.rawValue) == expected.split(separator: ",").map(String.init))
    }

    @Test func everyVariantMatchesPortable() {
        #expect(Int8Kernel.available.first == .portable)
        var rng = SeededGenerator(seed: 2)
        var cases = 0
        for _ in 0..<60 {
            let p = GemmProblem(
                m: 1 + Int(rng.next() % 40), n: 1 + Int(rng.next() % 70), k: 1 + Int(rng.next() % 300),
                extraStride: Int(rng.next() % 3), rng: &rng)
            for mode in 0..<8 {
                let b = mode & 1 != 0, r = mode & 2 != 0, f = mode & 4 != 0
                let reference = p.run(.portable, bias: b, relu: r, floatOut: f)
                for kernel in Int8Kernel.available.dropFirst() {
                    let got = p.run(kernel, bias: b, relu: r, floatOut: f)
                    let firstDifference = got.indices.first { got[$0] != reference[$0] }
                    #expect(
                        firstDifference == nil,
                        "\(kernel) m \(p.m) n \(p.n) k \(p.k) mode \(mode): first difference at \(firstDifference ?? -1)")
                    cases += 1
                }
            }
        }
        #if arch(x86_64)
            // This machine's CI runs x86; say so when a variant silently went missing.
            #expect(cases > 0 || Int8Kernel.available.count == 1)
        #endif
    }

    @Test func requantizationRoundsHalfToEvenAndSaturates() {
        var rng = SeededGenerator(seed: 3)
        let p = GemmProblem(m: 7, n: 19, k: 40, extraStride: 0, rng: &rng)
        for outScale: Float in [0.05, 0.002] {
            let y = p.run(.portable, bias: true, relu: false, floatOut: true)
            let q = p.run(.portable, bias: true, relu: false, floatOut: false, outScale: outScale)
            for i in 0..<y.count {
                let expected = min(max(y[i] * (1 / outScale), -127), 127).rounded(.toNearestOrEven)
                #expect(q[i] == expected)
            }
        }
    }

    @Test func quantizationErrorIsBounded() throws {
        // Weights: per output channel, |w - q·s| ≤ s/2 and the largest |w| maps to ±127.
        let layers = [LayerSpec.linear(inFeatures: 50, outFeatures: 6)]
        let params = Parameters.initialized(for: layers, seed: 5)
        let qp = try QuantizedParameters.quantize(layers: layers, parameters: params, scales: ["0": 0.01])
        let q = try qp.i8("0.weight_q", [6, 50]), s = try qp.f32("0.weight_scale", [6])
        let w = params["0.weight"]!
        for o in 0..<6 {
            var peak: Int8 = 0
            for j in 0..<50 {
                #expect(abs(w[o * 50 + j] - Float(q[o * 50 + j]) * s[o]) <= s[o] / 2 * 1.0001)
                peak = max(peak, Swift.abs(q[o * 50 + j]))
            }
            #expect(peak == 127)
        }
        // Activations: within range the error is at most half a step; outside, they saturate.
        let scale: Float = 0.02
        let x = (0..<400).map { Float($0 - 200) * 0.013 }
        var out = [Int8](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer {
                Kernels.quantize(xs.baseAddress!, count: x.count, inverseScale: 1 / scale, out: $0.baseAddress!)
            }
        }
        for i in 0..<x.count {
            if abs(x[i]) <= 127 * scale {
                #expect(abs(x[i] - Float(out[i]) * scale) <= scale / 2 * 1.0001)
            } else {
                #expect(Swift.abs(out[i]) == 127)
            }
        }
    }

    @Test func quantizedNetworkTracksFP32ThroughEveryLayerKind() throws {
        let c = try FixtureCase("network")
        let net = try c.network()
        let scales = QuantizedParameters.calibrate(network: net, samples: [c.x])
        #expect(Set(scales.keys) == ["0", "2.0", "3", "5"])
        let qp = try QuantizedParameters.quantize(layers: c.layers, parameters: c.parameters, scales: scales)
        let q = try QuantizedNetwork(layers: c.layers, parameters: qp, inputShape: c.inputShape, batch: c.x.shape[0])
        let want = net.forward(c.x).scalars, got = q.forward(c.x).scalars
        #expect(cosineSimilarity(got, want) > 0.99, "cosine \(cosineSimilarity(got, want))")
    }

    /// The deployed encoder on rendered two-rooms frames: calibrated on one set, checked on another.
    @Test(arguments: WorldModelArchitecture.EncoderKind.allCases)
    func encoderInt8StaysWithinCosineOfFP32OnHeldOutFrames(kind: WorldModelArchitecture.EncoderKind) throws {
        let layers = WorldModelArchitecture.encoder(kind)
        let params = Parameters.initialized(for: layers, seed: 11)
        let net = try Network(layers: layers, parameters: params, inputShape: WorldModelArchitecture.frameShape)
        let calibration = renderedFrames(count: 48, seed: 100), heldOut = renderedFrames(count: 48, seed: 200)
        let qp = try QuantizedParameters.quantize(
            layers: layers, parameters: params,
            scales: QuantizedParameters.calibrate(network: net, samples: calibration))
        var reference: [Float]? = nil
        for kernel in Int8Kernel.available {
            let q = try QuantizedNetwork(layers: layers, parameters: qp, inputShape: WorldModelArchitecture.frameShape, kernel: kernel)
            var all: [Float] = []
            var worst = 1.0
            for x in heldOut {
                let want = net.forward(x).scalars, got = q.forward(x).scalars
                worst = min(worst, cosineSimilarity(got, want))
                all += got
            }
            #expect(worst >= 0.99, "\(kind) \(kernel): worst held-out cosine \(worst)")
            if let reference { #expect(all == reference, "\(kernel) differs from portable") } else { reference = all }
            #expect(Double(q.parameterBytes) <= 0.30 * Double(net.parameterBytes), "\(q.parameterBytes) vs \(net.parameterBytes)")
        }
    }

    @Test func quantizedParametersSurviveSafetensors() throws {
        let layers = WorldModelArchitecture.encoder(.keypoints)
        let params = Parameters.initialized(for: layers, seed: 12)
        let net = try Network(layers: layers, parameters: params, inputShape: WorldModelArchitecture.frameShape)
        let frames = renderedFrames(count: 8, seed: 300)
        let qp = try QuantizedParameters.quantize(
            layers: layers, parameters: params,
            scales: QuantizedParameters.calibrate(network: net, samples: frames))
        let path = Repo.temporaryPath("encoder-int8.safetensors")
        try SafetensorsFile(tensors: qp.tensors, metadata: ["architecture": LayerSpec.json(layers)]).write(path: path)
        let file = try SafetensorsFile.read(path: path)
        let loaded = try QuantizedNetwork(
            layers: try LayerSpec.parse(json: file.metadata["architecture"]!),
            parameters: QuantizedParameters(tensors: file.tensors), inputShape: WorldModelArchitecture.frameShape)
        let original = try QuantizedNetwork(layers: layers, parameters: qp, inputShape: WorldModelArchitecture.frameShape)
        #expect(loaded.forward(frames[0]).scalars == original.forward(frames[0]).scalars)
        var broken = qp.tensors
        broken["2.weight_scale"] = nil
        #expect(throws: ModelError("missing F32 tensor \"2.weight_scale\"")) {
            try QuantizedNetwork(
                layers: layers, parameters: QuantizedParameters(tensors: broken), inputShape: WorldModelArchitecture.frameShape)
        }
    }

    @Test(arguments: WorldModelArchitecture.EncoderKind.allCases)
    func inferenceDoesNotAllocateAfterWarmUp(kind: WorldModelArchitecture.EncoderKind) throws {
        BLAS.setThreads(1)  // as in the control loop
        let c = try FixtureCase("network")
        let layers = WorldModelArchitecture.encoder(kind)
        let params = Parameters.initialized(for: layers, seed: 13)
        let frames = renderedFrames(count: 2, seed: 400)
        let fp32 = try Network(layers: layers, parameters: params, inputShape: WorldModelArchitecture.frameShape)
        let mixed = try c.network()
        let qp = try QuantizedParameters.quantize(
            layers: layers, parameters: params,
            scales: QuantizedParameters.calibrate(network: fp32, samples: frames))
        let int8 = try QuantizedNetwork(layers: layers, parameters: qp, inputShape: WorldModelArchitecture.frameShape)
        fp32.input.assign(from: frames[0]); int8.input.assign(from: frames[0]); mixed.input.assign(from: c.x)
        fp32.forward(); int8.forward(); mixed.forward()
        for (name, run) in [
            ("fp32 encoder", { fp32.forward() }), ("int8 encoder", { int8.forward() }),
            ("fp32 mixed layers", { mixed.forward() }),
        ] as [(String, () -> Tensor<Float>)] {
            allocation_counter_start()
            _ = run()
            let allocations = allocation_counter_stop()
            #expect(allocations == 0, "\(name) allocated \(allocations) times")
        }
    }
}

/// Frames of the two-rooms world with the agent at random places, as encoder inputs.
func renderedFrames(count: Int, seed: UInt64) -> [Tensor<Float>] {
    TwoRoomsWorld.sampleFrames(count: count, seed: seed).map { Tensor<Float>(gray8: $0) }
}
