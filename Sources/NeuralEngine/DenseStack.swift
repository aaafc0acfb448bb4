import CKernels

/// The number format a predictor stack computes in: `fp32`, or `int8` weights (one scale per output channel)
/// and activations (one scale per row, found on each pass) with exact int32 sums. `auto` takes int8 where
/// the CPU has an 8-bit dot-product instruction (x86 VNNI, ARM SDOT: 4× the multiply-adds of an fp32 FMA per
/// instruction) and fp32 elsewhere.
public enum DensePrecision: String, Sendable, CaseIterable, Codable {
    case auto, fp32, int8
}

/// Dense-layer kernel variants (`dense.c` for fp32, `kernels.c`'s int8 GEMMs for int8), chosen at run time
/// from the CPU's features. None of them goes through a BLAS library, so their speed does not depend on its
/// CPU detection.
public enum DenseKernel: String, Sendable, CaseIterable, Codable {
    case portable
    /// x86 AVX2 + FMA.
    case avx2
    /// x86 AVX-512F.
    case avx512
    /// ARMv8.0 NEON (every aarch64 core, Cortex-A53 and A72 included).
    case neon
    /// int8, portable C: the reference every int8 variant equals bit for bit.
    case int8Portable = "int8-portable"
    /// int8, x86 AVX2 (16-bit multiply-add pairs: no faster than fp32 FMA; for comparison).
    case int8Avx2 = "int8-avx2"
    /// int8, x86 AVX-512 VNNI (VPDPBUSD).
    case int8Avx512Vnni = "int8-avx512-vnni"
    /// int8, ARMv8.0 NEON without the dot product (Cortex-A72: Raspberry Pi 4; widening multiplies).
    case int8Neon = "int8-neon"
    /// int8, ARMv8.2 dot product (SDOT: Cortex-A55, A76, A78; Raspberry Pi 5, Jetson Orin, Rock 5B).
    case int8NeonDot = "int8-neon-dot"

    /// fp32 or int8 (never `auto`).
    public var precision: DensePrecision { int8 == nil ? .fp32 : .int8 }

    /// The variant this one must agree with: portable C of the same precision.
    public var reference: DenseKernel { int8 == nil ? .portable : .int8Portable }

    /// Whether this variant has an 8-bit dot-product instruction (what `auto` takes int8 for).
    public var hasDotProduct: Bool { self == .int8Avx512Vnni || self == .int8NeonDot }

    var int8: Int8Kernel? {
        switch self {
        case .portable, .avx2, .avx512, .neon: nil
        case .int8Portable: .portable
        case .int8Avx2: .avx2
        case .int8Avx512Vnni: .avx512VNNI
        case .int8Neon: .neon
        case .int8NeonDot: .neonDot
        }
    }

    var c: ck_dense_kernel {
        switch self {
        case .avx2: CK_DENSE_AVX2
        case .avx512: CK_DENSE_AVX512
        case .neon: CK_DENSE_NEON
        default: CK_DENSE_PORTABLE
        }
    }

    /// This core's peak rate for the variant's arithmetic, operations per second (a multiply-add is 2): the
    /// widest fp32 FMA for fp32 variants, the variant's own 8-bit instruction for int8 ones (nil for
    /// int8-portable, or where the probe has no variant), measured by a register-only loop over `seconds`.
    public func measuredPeak(seconds: Double = 0.2) -> Double? {
        guard let int8 else { return measuredPeakFloat32(seconds: seconds) }
        return int8 == .portable ? nil : int8.measuredPeak(seconds: seconds)
    }

    public var isAvailable: Bool { int8.map { ck_int8_available($0.c) != 0 } ?? (ck_dense_available(c) != 0) }

    /// The variants this CPU runs, each precision portable first and fastest last.
    public static var available: [DenseKernel] {
        [.portable, .neon, .avx2, .avx512, .int8Portable, .int8Avx2, .int8Neon, .int8NeonDot, .int8Avx512Vnni].filter(\.isAvailable)
    }

    /// The fastest fp32 variant this CPU runs.
    public static var best: DenseKernel { available.last { $0.precision == .fp32 }! }

    /// The variants to try for `precision`, fastest first (the first that passes its check is used): fp32's,
    /// int8's, or for `auto` the int8 ones with a dot-product instruction and then fp32's.
    public static func candidates(_ precision: DensePrecision) -> [DenseKernel] {
        let fastestFirst = Array(available.reversed())
        switch precision {
        case .fp32: return fastestFirst.filter { $0.precision == .fp32 }
        case .int8: return fastestFirst.filter { $0.precision == .int8 }
        case .auto: return fastestFirst.filter(\.hasDotProduct) + fastestFirst.filter { $0.precision == .fp32 }
        }
    }
}

/// An MLP of linear layers with ReLU or no activation between them, for a batch of up to `capacity`
/// rows, run by one `DenseKernel` with its weights packed once: the planner's predictor passes. The
/// layers are the ones a `Network` would run from the same `LayerSpec`s and parameters (int8 kernels
/// quantize them here, one scale per output channel); `forward(rows:)` computes only the rows asked for,
/// so the batch can shrink to what a tick's budget allows. Allocation-free after init.
public final class DenseStack: @unchecked Sendable {
    struct Layer {
        let inputs: Int, outputs: Int
        let bias: Tensor<Float>?
        let relu: Bool
        /// fp32 kernels: the weights in 16-column panels (`ck_pack_f32`).
        let packed: Tensor<Float>?
        /// int8 kernels: round(W / scale) in the int8 GEMM's layout, its +128 compensation, and the
        /// scale of each output channel (max |W[n][·]| / 127).
        let packedInt8: Tensor<Int8>?, compensation: Tensor<Int32>?, weightScale: Tensor<Float>?
    }

    public let kernel: DenseKernel
    public let capacity: Int
    public let inputSize: Int
    public let outputSize: Int
    let layers: [Layer]
    /// Rows × inputSize: write the inputs here.
    public let input: Tensor<Float>
    /// Rows × outputSize: the last layer's outputs.
    public let output: Tensor<Float>
    /// Two ping-pong buffers for the hidden layers (rows × widest layer).
    private let hidden: [Tensor<Float>]
    /// int8 kernels: one layer's quantized inputs (rows × `quantizedStride` bytes) and their row scales.
    private let quantized: Tensor<Int8>, rowScale: Tensor<Float>
    private let quantizedStride: Int

    /// Arithmetic operations per row (2 per multiply-add): FLOP for fp32, integer operations for int8.
    public let flopsPerRow: Int
    /// The layers as the C kernels take them (pointers into `layers`' tensors, which this object keeps).
    private let descriptors: [ck_dense_layer]
    private let descriptorsInt8: [ck_dense_s8_layer]

    /// Compiles `layers` (linear, then optionally a ReLU, repeated) with `parameters` named as a
    /// `Network` names them ("<index>.weight", "<index>.bias"). Throws for any other layer kind or a
    /// missing or misshapen tensor.
    public convenience init(
        layers specs: [LayerSpec], parameters: Parameters, inputSize: Int, capacity: Int,
        kernel: DenseKernel = .best
    ) throws {
        guard capacity >= 1 else { throw ModelError("dense stack: capacity must be ≥ 1") }
        guard kernel.isAvailable else { throw ModelError("dense stack: this CPU has no \(kernel.rawValue) kernel") }
        var built: [Layer] = []
        var width = inputSize
        var i = 0
        while i < specs.count {
            guard case let .linear(inputs, outputs) = specs[i] else {
                throw ModelError(
                    "dense stack: layer \(i) (\(specs[i].name)) is not linear; only linear layers with ReLU between them run here")
            }
            guard inputs == width else { throw ModelError("dense stack: layer \(i) takes \(inputs) inputs, gets \(width)") }
            guard let w = parameters["\(i).weight"], w.shape == [outputs, inputs] else {
                throw ModelError("dense stack: layer \(i) needs weight [\(outputs), \(inputs)]")
            }
            let bias = parameters["\(i).bias"]
            if let bias, bias.shape != [outputs] {
                throw ModelError("dense stack: layer \(i) bias is \(bias.shape), expected [\(outputs)]")
            }
            var relu = false
            if i + 1 < specs.count, case let .activation(a) = specs[i + 1] {
                guard a == .relu else { throw ModelError("dense stack: layer \(i + 1) is \(a.rawValue); only ReLU runs here") }
                relu = true
                i += 1
            }
            built.append(Self.pack(w, bias: bias?.copy(), relu: relu, precision: kernel.precision))
            width = outputs
            i += 1
        }
        guard !built.isEmpty else { throw ModelError("dense stack: no layers") }
        self.init(packed: built, inputSize: inputSize, capacity: capacity, kernel: kernel)
    }

    /// The predictor network's layers, compiled for this kernel (its layer list and parameters).
    public convenience init(_ network: Network, capacity: Int, kernel: DenseKernel = .best) throws {
        guard network.inputShape.count == 1 else {
            throw ModelError("dense stack: the network's input is \(network.inputShape), not a vector")
        }
        try self.init(
            layers: network.layers, parameters: network.parameters, inputSize: network.inputShape[0],
            capacity: capacity, kernel: kernel)
    }

    /// One linear layer's weights [outputs][inputs] packed for a kernel of `precision`.
    private static func pack(_ w: Tensor<Float>, bias: Tensor<Float>?, relu: Bool, precision: DensePrecision) -> Layer {
        let outputs = w.shape[0], inputs = w.shape[1]
        guard precision == .int8 else {
            let packed = Tensor<Float>(shape: [Int(ck_dense_packed_count(Int32(outputs), Int32(inputs)))])
            ck_pack_f32(Int32(outputs), Int32(inputs), w.pointer, packed.pointer)
            return Layer(
                inputs: inputs, outputs: outputs, bias: bias, relu: relu, packed: packed, packedInt8: nil, compensation: nil,
                weightScale: nil)
        }
        let scale = Tensor<Float>(shape: [outputs]), q = Tensor<Int8>(shape: [outputs * inputs])
        for o in 0..<outputs {
            var largest: Float = 0
            for k in 0..<inputs { largest = max(largest, abs(w.pointer[o * inputs + k])) }
            let s: Float = largest > 0 ? largest / 127 : 1
            scale[o] = s
            for k in 0..<inputs {
                q[o * inputs + k] = Int8(max(-127, min(127, (w.pointer[o * inputs + k] / s).rounded(.toNearestOrEven))))
            }
        }
        let np = (outputs + 15) / 16 * 16, kp = (inputs + 3) / 4 * 4
        let packed = Tensor<Int8>(shape: [kp * np]), compensation = Tensor<Int32>(shape: [np])
        ck_pack_s8(Int32(outputs), Int32(inputs), q.pointer, packed.pointer, compensation.pointer)
        return Layer(
            inputs: inputs, outputs: outputs, bias: bias, relu: relu, packed: nil, packedInt8: packed, compensation: compensation,
            weightScale: scale)
    }

    /// Runs the first `rows` rows of `input` through every layer into `output` (one C call: no Swift work
    /// per layer, nothing allocated).
    public func forward(rows: Int) {
        precondition(rows >= 0 && rows <= capacity, "dense stack: rows outside 0...capacity")
        guard rows > 0 else { return }
        if let int8 = kernel.int8 {
            _ = descriptorsInt8.withUnsafeBufferPointer { d in
                ck_dense_stack_s8(
                    int8.c, Int32(rows), input.pointer, Int32(inputSize), d.baseAddress!, Int32(d.count), quantized.pointer,
                    Int32(quantizedStride), rowScale.pointer, hidden[0].pointer, hidden[1].pointer, Int32(hidden[0].shape[1]),
                    output.pointer, Int32(outputSize))
            }
        } else {
            _ = descriptors.withUnsafeBufferPointer { d in
                ck_dense_stack_f32(
                    kernel.c, Int32(rows), input.pointer, Int32(inputSize), d.baseAddress!, Int32(d.count),
                    hidden[0].pointer, hidden[1].pointer, Int32(hidden[0].shape[1]), output.pointer, Int32(outputSize))
            }
        }
    }

    /// The largest difference between this stack's outputs and its reference kernel's (portable C of the
    /// same precision) on the same `rows` rows of `input`, relative to the largest output magnitude: a
    /// variant that computes wrongly on this CPU shows here (the planner checks its kernel this way before
    /// using it). int8 variants must give exactly 0; fp32 ones differ by float rounding.
    public func disagreement(rows: Int) throws -> Float {
        guard kernel != kernel.reference else { return 0 }
        let reference = DenseStack(packed: layers, inputSize: inputSize, capacity: capacity, kernel: kernel.reference)
        reference.input.pointer.update(from: input.pointer, count: rows * inputSize)
        reference.forward(rows: rows)
        forward(rows: rows)
        var diff: Float = 0, scale: Float = 1e-12
        for i in 0..<(rows * outputSize) {
            let a = output.pointer[i], b = reference.output.pointer[i]
            guard a.isFinite else { return .infinity }
            diff = max(diff, abs(a - b))
            scale = max(scale, abs(b))
        }
        return diff / scale
    }

    /// A stack of already packed layers (several stacks may share them) with buffers of its own.
    private init(packed layers: [Layer], inputSize: Int, capacity: Int, kernel: DenseKernel) {
        self.kernel = kernel
        self.capacity = capacity
        self.inputSize = inputSize
        self.layers = layers
        outputSize = layers.last!.outputs
        flopsPerRow = layers.reduce(0) { $0 + 2 * $1.inputs * $1.outputs }
        input = Tensor(shape: [capacity, inputSize])
        output = Tensor(shape: [capacity, outputSize])
        let widest = layers.dropLast().map(\.outputs).max() ?? 1
        hidden = [Tensor(shape: [capacity, widest]), Tensor(shape: [capacity, widest])]
        let stride = kernel.precision == .int8 ? layers.map { ($0.inputs + 3) / 4 * 4 }.max()! : 0
        quantizedStride = stride
        quantized = Tensor(shape: [capacity * stride], slack: kernel.precision == .int8 ? int8Slack : 0)
        rowScale = Tensor(shape: [kernel.precision == .int8 ? capacity : 0])
        descriptors = layers.compactMap { l in
            l.packed.map {
                ck_dense_layer(
                    inputs: Int32(l.inputs), outputs: Int32(l.outputs), packed: $0.pointer,
                    bias: l.bias.map { UnsafePointer($0.pointer) }, relu: l.relu ? 1 : 0)
            }
        }
        descriptorsInt8 = layers.compactMap { l in
            guard let packed = l.packedInt8, let compensation = l.compensation, let scale = l.weightScale else { return nil }
            let weights = ck_packed_s8(
                n: Int32(l.outputs), k: Int32(l.inputs), np: Int32((l.outputs + 15) / 16 * 16), kp: Int32((l.inputs + 3) / 4 * 4),
                weights: UnsafePointer(packed.pointer), comp: UnsafePointer(compensation.pointer))
            return ck_dense_s8_layer(
                weights: weights, weight_scale: UnsafePointer(scale.pointer), bias: l.bias.map { UnsafePointer($0.pointer) },
                relu: l.relu ? 1 : 0)
        }
    }
}

/// The index of the first of `count` points (rows of `dimensions` floats) within squared distance `r2` of
/// `z`, or nil: a vectorized scan (the route search's check of a child against the nodes it knows).
public func firstPoint(
    in points: UnsafePointer<Float>, count: Int, dimensions: Int, within r2: Float,
    of z: UnsafePointer<Float>
) -> Int? {
    let i = ck_first_within_f32(points, Int32(count), Int32(dimensions), z, r2)
    return i < 0 ? nil : Int(i)
}
