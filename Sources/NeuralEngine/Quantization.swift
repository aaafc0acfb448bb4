import CKernels
import Foundation
import RobotCore

/// The int8 GEMM implementations. Every one gives results identical to `.portable`.
public enum Int8Kernel: String, Sendable, CaseIterable {
    case portable
    /// x86 AVX2: 16-bit multiply-add pairs (exact).
    case avx2
    /// x86 AVX-512 VNNI: VPDPBUSD, 64 multiply-accumulates per instruction.
    case avx512VNNI = "avx512-vnni"
    /// ARMv8.2 dot product (Cortex-A76 and later, Orin's A78AE): SDOT, 16 per instruction.
    case neonDot = "neon-dot"
    /// ARMv8.0 NEON (Cortex-A72, A53: no dot product): widening multiplies and pairwise adds (exact).
    case neon

    var c: ck_kernel {
        switch self {
        case .portable: CK_KERNEL_PORTABLE
        case .avx2: CK_KERNEL_AVX2
        case .avx512VNNI: CK_KERNEL_AVX512_VNNI
        case .neonDot: CK_KERNEL_NEON_DOT
        case .neon: CK_KERNEL_NEON
        }
    }

    /// The variants this CPU can run, portable first.
    public static var available: [Int8Kernel] {
        let f = ck_cpu_features()
        var out: [Int8Kernel] = [.portable]
        if f & Int32(CK_FEATURE_AVX2) != 0 { out.append(.avx2) }
        if f & Int32(CK_FEATURE_AVX512_VNNI) != 0 { out.append(.avx512VNNI) }
        if f & Int32(CK_FEATURE_NEON) != 0 { out.append(.neon) }
        if f & Int32(CK_FEATURE_NEON_DOT) != 0 { out.append(.neonDot) }
        return out
    }

    /// The fastest variant this CPU runs (picked at run time from its features).
    public static var best: Int8Kernel { available.last! }

    /// This core's peak int8 rate for the variant's instruction, operations per second (a
    /// multiply-add is 2), measured by a register-only loop over `seconds`; nil for portable.
    public func measuredPeak(seconds: Double = 0.2) -> Double? {
        measurePeak(seconds: seconds) { ck_peak_int8(c, $0) }
    }
}

/// This core's peak fp32 FMA rate (operations per second), widest vectors available.
public func measuredPeakFloat32(seconds: Double = 0.2) -> Double? {
    measurePeak(seconds: seconds) { ck_peak_f32(1, $0) }
}

private func measurePeak(seconds: Double, _ probe: (Int64) -> Double) -> Double? {
    guard probe(1000) > 0 else { return nil }
    var iterations: Int64 = 100_000
    var best = 0.0
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let ops = probe(iterations)
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        if dt < 0.005 { iterations *= 2; continue }
        best = max(best, ops / dt)
    }
    return best > 0 ? best : nil
}

/// Per-tensor activation scales at the input of every matrix-product layer, keyed by layer path:
/// an input x is stored as round(x / scale).
public typealias ActivationScales = [String: Float]

/// The deployable int8 form of a network's parameters: per matrix-product layer, int8 weights with
/// one symmetric scale per output channel, fp32 bias and the calibrated input scale; norm
/// parameters stay fp32. Saved as safetensors tensors "<path>.weight_q" (I8), "<path>.weight_scale",
/// "<path>.bias", "<path>.input_scale" (F32); norms keep "<path>.weight" and "<path>.bias".
public struct QuantizedParameters: @unchecked Sendable {
    public var tensors: [String: AnyTensor]

    public init(tensors: [String: AnyTensor]) { self.tensors = tensors }

    /// Quantizes `parameters`: weights per output channel (scale = max |w| / 127), inputs with
    /// `scales` (from `calibrate`).
    public static func quantize(layers: [LayerSpec], parameters: Parameters, scales: ActivationScales) throws -> QuantizedParameters {
        var out: [String: AnyTensor] = [:]
        func visit(_ layers: [LayerSpec], _ prefix: String) throws {
            for (i, spec) in layers.enumerated() {
                let path = prefix + String(i)
                if let nested = spec.nestedLayers(at: path) {
                    for (sub, layers) in nested { try visit(layers, sub) }
                    continue
                }
                if spec.isMatrixProduct {
                    guard let w = parameters["\(path).weight"], let b = parameters["\(path).bias"] else {
                        throw ModelError("missing parameters of layer \(path)")
                    }
                    guard let s = scales[path], s > 0, s.isFinite else { throw ModelError("no calibrated input scale for layer \(path)") }
                    let n = w.shape[0], k = w.count / n
                    let q = Tensor<Int8>(shape: w.shape), ws = Tensor<Float>(shape: [n])
                    for o in 0..<n {
                        var m: Float = 0
                        for j in 0..<k { m = max(m, abs(w[o * k + j])) }
                        let scale = m > 0 ? m / 127 : 1
                        ws[o] = scale
                        for j in 0..<k { q[o * k + j] = Int8(min(max((w[o * k + j] / scale).rounded(.toNearestOrEven), -127), 127)) }
                    }
                    out["\(path).weight_q"] = .i8(q)
                    out["\(path).weight_scale"] = .f32(ws)
                    out["\(path).bias"] = .f32(b.copy())
                    out["\(path).input_scale"] = .f32(Tensor(shape: [1], scalars: [s]))
                } else {
                    for (suffix, _) in spec.parameterShapes {
                        guard let t = parameters["\(path).\(suffix)"] else { throw ModelError("missing parameter \(path).\(suffix)") }
                        out["\(path).\(suffix)"] = .f32(t.copy())
                    }
                }
            }
        }
        try visit(layers, "")
        return QuantizedParameters(tensors: out)
    }

    /// Input scales from running the fp32 `network` over calibration samples (each shaped like
    /// `network.input`): the largest |x| seen at each matrix-product input, over 127.
    public static func calibrate(network: Network, samples: [Tensor<Float>]) -> ActivationScales {
        var maxAbs: [String: Float] = [:]
        let products = network.matrixProducts
        for sample in samples {
            network.forward(sample)
            for op in products {
                var m: Float = maxAbs[op.path] ?? 0
                op.input.withUnsafeBufferPointer { for x in $0 { m = max(m, abs(x)) } }
                maxAbs[op.path] = m
            }
        }
        return maxAbs.mapValues { $0 > 0 ? $0 / 127 : 1 }
    }

    func f32(_ name: String, _ shape: [Int]) throws -> Tensor<Float> {
        guard let t = tensors[name]?.as(Float.self) else { throw ModelError("missing F32 tensor \"\(name)\"") }
        guard t.shape == shape else { throw ModelError("tensor \"\(name)\" has shape \(t.shape), expected \(shape)") }
        return t
    }

    func i8(_ name: String, _ shape: [Int]) throws -> Tensor<Int8> {
        guard let t = tensors[name]?.as(Int8.self) else { throw ModelError("missing I8 tensor \"\(name)\"") }
        guard t.shape == shape else { throw ModelError("tensor \"\(name)\" has shape \(t.shape), expected \(shape)") }
        return t
    }
}

/// Which int8 GEMM every layer of one network calls (shared, so it can be switched after compiling).
final class KernelSetting: @unchecked Sendable {
    var kernel: ck_kernel
    init(_ kernel: Int8Kernel) { self.kernel = kernel.c }
}

/// A sequential network compiled for int8 inference: matrix products run as int8 × int8 → int32
/// GEMMs with bias, ReLU and requantization fused; a product feeding another product hands it
/// int8 directly, anything else gets fp32. Other layers run in fp32. Allocates nothing in `forward`.
public final class QuantizedNetwork: CompiledNetwork, @unchecked Sendable {
    let setting: KernelSetting
    /// Bytes of the parameters the network keeps resident (packed int8 weights, scales, biases).
    public let parameterBytes: Int

    public var kernel: Int8Kernel {
        get { Int8Kernel.allCases.first { $0.c == setting.kernel }! }
        set {
            precondition(Int8Kernel.available.contains(newValue), "\(newValue.rawValue) is not available on this CPU")
            setting.kernel = newValue.c
        }
    }

    public init(
        layers: [LayerSpec], parameters: QuantizedParameters, inputShape: [Int], batch: Int = 1,
        kernel: Int8Kernel = .best
    ) throws {
        guard Int8Kernel.available.contains(kernel) else { throw ModelError("int8 kernel \(kernel.rawValue) is not available on this CPU") }
        BLAS.applyDefault()
        setting = KernelSetting(kernel)
        let input = Tensor<Float>(shape: [batch] + inputShape)
        var compiler = QuantizedCompiler(parameters: parameters, batch: batch, setting: setting)
        let (ops, out) = try compiler.compile(layers, prefix: "", input: .float(input), shape: inputShape)
        guard case let .float(result) = out else { throw ModelError("internal: network output is not fp32") }
        parameterBytes = compiler.residentBytes
        super.init(layers: layers, inputShape: inputShape, batch: batch, input: input, output: result, operations: ops)
    }
}

/// A value flowing between compiled int8 operations.
enum QuantizedValue {
    case float(Tensor<Float>)
    case int8(Tensor<Int8>, scale: Float)
}

/// Readable slack after every int8 activation: the GEMM reads whole 4-byte groups past K.
let int8Slack = 64

struct QuantizedCompiler {
    let parameters: QuantizedParameters
    let batch: Int
    let setting: KernelSetting
    var residentBytes = 0

    mutating func compile(_ layers: [LayerSpec], prefix: String, input: QuantizedValue, shape: [Int]) throws
        -> ([Operation], QuantizedValue)
    {
        var ops: [Operation] = []
        var current = input
        var currentShape = shape
        var i = 0
        while i < layers.count {
            let spec = layers[i]
            let path = prefix + String(i)
            let outShape = try spec.outputShape(for: currentShape, at: path)
            switch spec {
            case .conv2d, .linear:
                let inputScale = try parameters.f32("\(path).input_scale", [1])[0]
                let q: Tensor<Int8>
                switch current {
                case let .int8(t, scale) where scale == inputScale:
                    q = t
                default:
                    let f = try float(current, path: path)
                    q = Tensor<Int8>(shape: f.shape, slack: int8Slack)
                    ops.append(QuantizeOperation(path: path, spec: spec, input: f, output: q, inverseScale: 1 / inputScale))
                }
                var relu = false
                var next = i + 1
                if next < layers.count, layers[next] == .activation(.relu) { relu = true; next += 1 }
                var consumer = next
                while consumer < layers.count, layers[consumer] == .flatten { consumer += 1 }
                var outScale: Float? = nil
                if consumer < layers.count, layers[consumer].isMatrixProduct {
                    outScale = try parameters.f32("\(prefix)\(consumer).input_scale", [1])[0]
                }
                let op = try QuantizedProductOperation(
                    path: path, spec: spec, input: q, inShape: currentShape,
                    outShape: outShape, batch: batch, parameters: parameters,
                    inputScale: inputScale, relu: relu, outputScale: outScale, setting: setting)
                residentBytes += op.residentBytes
                ops.append(op)
                if let outScale { current = .int8(op.outputInt8!, scale: outScale) } else { current = .float(op.output) }
                currentShape = outShape
                i = next
                continue
            case .flatten:
                switch current {
                case let .float(t): current = .float(t.reshaped([batch] + outShape))
                case let .int8(t, s): current = .int8(t.reshaped([batch] + outShape), scale: s)
                }
            case let .residual(body):
                let x = try float(current, path: path)
                let (bodyOps, bodyOut) = try compile(body, prefix: path + ".", input: .float(x), shape: currentShape)
                let y = try float(bodyOut, path: path)
                let op = ResidualOperation(path: path, spec: spec, input: x, output: Tensor(shape: x.shape), body: bodyOps, bodyOutput: y)
                ops.append(op)
                current = .float(op.output)
            case .concat:
                let x = try float(current, path: path)
                var bodies: [[Operation]] = [], outputs: [Tensor<Float>] = []
                // Branches that open with a product at the same input scale (calibrated on this one
                // input, so they all do) share one int8 copy of it, quantized once.
                var quantized: [Float: Tensor<Int8>] = [:]
                for (prefix, branch) in spec.nestedLayers(at: path)! {
                    var input = QuantizedValue.float(x)
                    if let first = branch.first, first.isMatrixProduct {
                        let scale = try parameters.f32("\(prefix)0.input_scale", [1])[0]
                        if quantized[scale] == nil {
                            let q = Tensor<Int8>(shape: x.shape, slack: int8Slack)
                            ops.append(QuantizeOperation(path: path, spec: spec, input: x, output: q, inverseScale: 1 / scale))
                            quantized[scale] = q
                        }
                        input = .int8(quantized[scale]!, scale: scale)
                    }
                    let (branchOps, branchOut) = try compile(branch, prefix: prefix, input: input, shape: currentShape)
                    bodies.append(branchOps)
                    outputs.append(try float(branchOut, path: prefix))
                }
                let op = ConcatOperation(
                    path: path, spec: spec, input: x, output: Tensor(shape: [batch] + outShape),
                    branches: bodies, branchOutputs: outputs, batch: batch)
                ops.append(op)
                current = .float(op.output)
            default:
                let x = try float(current, path: path)
                var fp = Parameters()
                for (suffix, pshape) in spec.parameterShapes {
                    let t = try parameters.f32("\(path).\(suffix)", pshape)
                    fp["\(path).\(suffix)"] = t
                    residentBytes += t.byteCount
                }
                var builder = Builder(parameters: fp, batch: batch)
                let op = try builder.make(spec, path: path, input: x, inShape: currentShape, outShape: outShape)
                ops.append(op)
                current = .float(op.output)
            }
            currentShape = outShape
            i += 1
        }
        return (ops, current)
    }

    private func float(_ v: QuantizedValue, path: String) throws -> Tensor<Float> {
        guard case let .float(t) = v else { throw ModelError("internal: layer \(path) received int8 input") }
        return t
    }
}

/// x (fp32) → round(x / scale) (int8).
final class QuantizeOperation: Operation {
    let quantized: Tensor<Int8>
    let inverseScale: Float

    init(path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Int8>, inverseScale: Float) {
        quantized = output
        self.inverseScale = inverseScale
        super.init(path: path + ".quantize", spec: spec, input: input, output: input)
    }

    override func run() {
        Kernels.quantize(input.pointer, count: input.count, inverseScale: inverseScale, out: quantized.pointer)
    }
}

/// An int8 convolution (im2col into an int8 patch matrix) or linear layer through `ck_gemm_s8`.
final class QuantizedProductOperation: Operation {
    let int8Input: Tensor<Int8>
    /// Set when the output goes to another product as int8; else `output` (fp32) is written.
    let outputInt8: Tensor<Int8>?
    let geometry: WindowGeometry?
    let patches: Tensor<Int8>?
    let packedWeights: Tensor<Int8>
    let compensation: Tensor<Int32>
    let scale: Tensor<Float>
    let bias: Tensor<Float>
    let packed: ck_packed_s8
    let epilogue: ck_epilogue
    let rows: Int, lda: Int, outChannels: Int
    let setting: KernelSetting
    let residentBytes: Int

    init(
        path: String, spec: LayerSpec, input: Tensor<Int8>, inShape: [Int], outShape: [Int], batch: Int,
        parameters: QuantizedParameters, inputScale: Float, relu: Bool, outputScale: Float?, setting: KernelSetting
    ) throws {
        let n: Int, k: Int
        switch spec {
        case let .conv2d(i, o, kk, s, p):
            let g = WindowGeometry(height: inShape[0], width: inShape[1], channels: i, kernel: kk, stride: s, padding: p)
            geometry = g
            n = o
            k = g.patchSize
            rows = batch * g.outHeight * g.outWidth
            lda = (k + 3) / 4 * 4
            patches = Tensor(shape: [rows, lda], slack: int8Slack)
        case let .linear(i, o):
            geometry = nil
            n = o
            k = i
            rows = batch
            lda = i
            patches = nil
        default:
            throw ModelError("internal: \(spec.name) is not a matrix product")
        }
        outChannels = n
        let weightShape = spec.parameterShapes[0].shape
        let wq = try parameters.i8("\(path).weight_q", weightShape)
        let ws = try parameters.f32("\(path).weight_scale", [n])
        bias = try parameters.f32("\(path).bias", [n])
        let np = (n + 15) / 16 * 16, kp = (k + 3) / 4 * 4
        packedWeights = Tensor(shape: [kp / 4, np, 4])
        compensation = Tensor(shape: [np])
        ck_pack_s8(Int32(n), Int32(k), wq.pointer, packedWeights.pointer, compensation.pointer)
        scale = Tensor(shape: [n])
        for o in 0..<n { scale[o] = inputScale * ws[o] }
        packed = ck_packed_s8(
            n: Int32(n), k: Int32(k), np: Int32(np), kp: Int32(kp),
            weights: UnsafePointer(packedWeights.pointer), comp: UnsafePointer(compensation.pointer))
        epilogue = ck_epilogue(
            scale: UnsafePointer(scale.pointer), bias: UnsafePointer(bias.pointer), relu: relu ? 1 : 0,
            out_inv_scale: outputScale.map { 1 / $0 } ?? 1, row_scale: nil)
        int8Input = input
        if outputScale != nil {
            outputInt8 = Tensor(shape: [batch] + outShape, slack: int8Slack)
        } else {
            outputInt8 = nil
        }
        self.setting = setting
        residentBytes = packedWeights.byteCount + compensation.byteCount + scale.byteCount + bias.byteCount
        let macs = spec.multiplyAccumulates(for: inShape) * batch
        super.init(
            path: path, spec: spec, input: Tensor(shape: [0]), output: Tensor(shape: outputScale == nil ? [batch] + outShape : [0]),
            multiplyAccumulates: macs)
    }

    override func run() {
        let a: UnsafePointer<Int8>
        if let geometry, let patches {
            Kernels.im2col(
                UnsafePointer(int8Input.pointer), batch: rows / (geometry.outHeight * geometry.outWidth),
                geometry: geometry, into: patches.pointer, rowStride: lda)
            a = UnsafePointer(patches.pointer)
        } else {
            a = UnsafePointer(int8Input.pointer)
        }
        withUnsafePointer(to: packed) { w in
            withUnsafePointer(to: epilogue) { e in
                _ = ck_gemm_s8(
                    setting.kernel, Int32(rows), a, Int32(lda), w, e,
                    outputInt8 == nil ? output.pointer : nil, outputInt8?.pointer, Int32(outChannels))
            }
        }
    }
}

/// Times bare matrix products at a layer's shape (no im2col, no quantize step), for reporting
/// achieved throughput against this core's peak.
public enum GemmTiming {
    /// Seconds for `iterations` int8 GEMMs out[m][n] = requantize(A[m][k] · W[n][k]) with int8 output.
    public static func int8(m: Int, n: Int, k: Int, kernel: Int8Kernel, iterations: Int) -> Double {
        var rng = SeededGenerator(seed: 1)
        let kp = (k + 3) / 4 * 4, np = (n + 15) / 16 * 16
        let a = Tensor<Int8>(shape: [m * kp], slack: int8Slack), w = Tensor<Int8>(shape: [n * k])
        for i in 0..<a.count { a[i] = Int8(truncatingIfNeeded: rng.next() % 255) }
        for i in 0..<w.count { w[i] = Int8(truncatingIfNeeded: rng.next() % 255) }
        let packed = Tensor<Int8>(shape: [kp * np]), comp = Tensor<Int32>(shape: [np])
        ck_pack_s8(Int32(n), Int32(k), w.pointer, packed.pointer, comp.pointer)
        let scale = Tensor<Float>(shape: [n]), bias = Tensor<Float>(shape: [n]), out = Tensor<Int8>(shape: [m * n])
        scale.fill(1e-3)
        var pw = ck_packed_s8(n: Int32(n), k: Int32(k), np: Int32(np), kp: Int32(kp), weights: packed.pointer, comp: comp.pointer)
        var e = ck_epilogue(scale: scale.pointer, bias: bias.pointer, relu: 1, out_inv_scale: 10, row_scale: nil)
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations {
            _ = ck_gemm_s8(kernel.c, Int32(m), a.pointer, Int32(kp), &pw, &e, nil, out.pointer, Int32(n))
        }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// Seconds for `iterations` OpenBLAS products out[m][n] = A[m][k] · W[n][k]ᵀ.
    public static func float32(m: Int, n: Int, k: Int, iterations: Int) -> Double {
        let a = Tensor<Float>(shape: [m, k]), w = Tensor<Float>(shape: [n, k]), out = Tensor<Float>(shape: [m, n])
        a.fill(0.5)
        w.fill(0.25)
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations {
            Kernels.gemmABt(m: m, n: n, k: k, a: a.pointer, lda: k, w: w.pointer, out: out.pointer)
        }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }
}
