import CKernels

/// fp32 dense-layer kernel variants (`dense.c`), chosen at run time from the CPU's features. None of
/// them goes through a BLAS library, so their speed does not depend on its CPU detection.
public enum DenseKernel: String, Sendable, CaseIterable, Codable {
    case portable
    /// x86 AVX2 + FMA.
    case avx2
    /// x86 AVX-512F.
    case avx512
    /// ARMv8.0 NEON (every aarch64 core, Cortex-A53 and A72 included).
    case neon

    var c: ck_dense_kernel {
        switch self {
        case .portable: CK_DENSE_PORTABLE
        case .avx2: CK_DENSE_AVX2
        case .avx512: CK_DENSE_AVX512
        case .neon: CK_DENSE_NEON
        }
    }

    /// The variants this CPU runs, portable first, fastest last.
    public static var available: [DenseKernel] {
        [.portable, .neon, .avx2, .avx512].filter { ck_dense_available($0.c) != 0 }
    }

    /// The fastest variant this CPU runs.
    public static var best: DenseKernel { available.last! }
}

/// An MLP of linear layers with ReLU or no activation between them, for a batch of up to `capacity`
/// rows, run by one `DenseKernel` with its weights packed once: the planner's predictor passes. The
/// layers are the ones a `Network` would run from the same `LayerSpec`s and parameters; `forward(rows:)`
/// computes only the rows asked for, so the batch can shrink to what a tick's budget allows.
/// Allocation-free after init.
public final class DenseStack: @unchecked Sendable {
    struct Layer {
        let inputs: Int, outputs: Int
        let packed: Tensor<Float>
        let bias: Tensor<Float>?
        let relu: Bool
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

    /// Floating-point operations per row (2 per multiply-add).
    public let flopsPerRow: Int
    /// The layers as the C kernel takes them (pointers into `layers`' tensors, which this object keeps).
    private let descriptors: [ck_dense_layer]

    /// Compiles `layers` (linear, then optionally a ReLU, repeated) with `parameters` named as a
    /// `Network` names them ("<index>.weight", "<index>.bias"). Throws for any other layer kind or a
    /// missing or misshapen tensor.
    public convenience init(
        layers specs: [LayerSpec], parameters: Parameters, inputSize: Int, capacity: Int,
        kernel: DenseKernel = .best
    ) throws {
        guard capacity >= 1 else { throw ModelError("dense stack: capacity must be ≥ 1") }
        guard ck_dense_available(kernel.c) != 0 else { throw ModelError("dense stack: this CPU has no \(kernel.rawValue) kernel") }
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
            let packed = Tensor<Float>(shape: [Int(ck_dense_packed_count(Int32(outputs), Int32(inputs)))])
            ck_pack_f32(Int32(outputs), Int32(inputs), w.pointer, packed.pointer)
            built.append(Layer(inputs: inputs, outputs: outputs, packed: packed, bias: bias?.copy(), relu: relu))
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

    /// Runs the first `rows` rows of `input` through every layer into `output` (one C call: no Swift work
    /// per layer, nothing allocated).
    public func forward(rows: Int) {
        precondition(rows >= 0 && rows <= capacity, "dense stack: rows outside 0...capacity")
        guard rows > 0 else { return }
        _ = descriptors.withUnsafeBufferPointer { d in
            ck_dense_stack_f32(
                kernel.c, Int32(rows), input.pointer, Int32(inputSize), d.baseAddress!, Int32(d.count),
                hidden[0].pointer, hidden[1].pointer, Int32(hidden[0].shape[1]), output.pointer, Int32(outputSize))
        }
    }

    /// The largest difference between this stack's outputs and the portable kernel's on the same
    /// `rows` rows of `input`, relative to the largest output magnitude: a variant that computes
    /// wrongly on this CPU shows here (the planner checks its kernel this way before using it).
    public func disagreement(rows: Int) throws -> Float {
        guard kernel != .portable else { return 0 }
        let reference = DenseStack(packed: layers, inputSize: inputSize, capacity: capacity, kernel: .portable)
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
        descriptors = Self.describe(layers)
        input = Tensor(shape: [capacity, inputSize])
        output = Tensor(shape: [capacity, outputSize])
        let widest = layers.dropLast().map(\.outputs).max() ?? 1
        hidden = [Tensor(shape: [capacity, widest]), Tensor(shape: [capacity, widest])]
    }

    private static func describe(_ layers: [Layer]) -> [ck_dense_layer] {
        layers.map {
            ck_dense_layer(
                inputs: Int32($0.inputs), outputs: Int32($0.outputs), packed: $0.packed.pointer,
                bias: $0.bias.map { UnsafePointer($0.pointer) }, relu: $0.relu ? 1 : 0)
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
