import CKernels
import COpenBLAS

/// A sequential fp32 network that also runs backward: the training form of `Network`, for the layers
/// the world model trains (conv2d, linear, ReLU, flatten, spatial soft-argmax). Batched NHWC like `Network`; the batch may be
/// anything up to `maxBatch` on each call. Gradients are hand-derived per layer:
///
/// - conv2d as im2col + GEMM: Y = P·Wᵀ + b, so dW += dYᵀ·P, db += Σ_rows dY, dP = dY·W and dX = col2im(dP);
/// - linear: the same with P = X;
/// - ReLU from its output: dX = dY ⊙ [Y > 0];
/// - flatten: a view, its gradient the same view;
/// - spatial soft-argmax (p = softmax over pixels, U = Σ p·u): dX = p ⊙ (dU·(u − U) + dV·(v − V));
/// - concat: each branch gets its block of dY; dX is the sum of the branches' input gradients.
///
/// `backward` accumulates into `gradients` (zero them per step), so several replicas that share
/// gradients (the steps of a recurrent rollout) add up. Buffers are allocated once, at init.
public final class TrainableNetwork: @unchecked Sendable {
    public let layers: [LayerSpec]
    /// Per-sample input and output shapes.
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let maxBatch: Int
    /// The weights (shared with replicas).
    public let parameters: Parameters
    /// dLoss/dparameter, accumulated by `backward`.
    public let gradients: Parameters
    /// Write the batch here before `forward` ([maxBatch] + inputShape).
    public let input: Tensor<Float>
    /// The last `forward`'s result ([maxBatch] + outputShape).
    public let output: Tensor<Float>
    /// Write dLoss/doutput here before `backward`.
    public let outputGradient: Tensor<Float>
    /// dLoss/dinput after `backward`, when the network was made with `inputGradient: true`.
    public let inputGradient: Tensor<Float>?
    private let steps: [TrainingStep]

    /// Builds the network over `parameters` (checked for presence and shape, like `Network`).
    public convenience init(
        layers: [LayerSpec], parameters: Parameters, inputShape: [Int], maxBatch: Int,
        inputGradient: Bool = false
    ) throws {
        try self.init(
            layers: layers, parameters: parameters, gradients: nil, inputShape: inputShape,
            maxBatch: maxBatch, inputGradient: inputGradient)
    }

    /// `input`: read this tensor instead of owning one (a concat branch reads its layer's input);
    /// `inputGradientBuffer`: write dLoss/dinput there instead of into a buffer of its own.
    private init(
        layers: [LayerSpec], parameters: Parameters, gradients shared: Parameters?, inputShape: [Int],
        maxBatch: Int, inputGradient wantInputGradient: Bool, input external: Tensor<Float>? = nil,
        inputGradientBuffer: Tensor<Float>? = nil
    ) throws {
        guard maxBatch >= 1 else { throw ModelError("batch must be ≥ 1") }
        BLAS.applyDefault()
        self.layers = layers
        self.inputShape = inputShape
        self.maxBatch = maxBatch
        self.parameters = parameters
        var grads: Parameters = shared ?? [:]
        var used = Set<String>()
        func parameter(_ path: String, _ suffix: String, _ shape: [Int]) throws -> (Tensor<Float>, Tensor<Float>) {
            let name = "\(path).\(suffix)"
            guard let t = parameters[name] else { throw ModelError("missing parameter \"\(name)\"") }
            guard t.shape == shape else { throw ModelError("parameter \"\(name)\" has shape \(t.shape), the layer needs \(shape)") }
            used.insert(name)
            if grads[name] == nil { grads[name] = Tensor<Float>(shape: shape) }
            return (t, grads[name]!)
        }

        let input = external ?? Tensor<Float>(shape: [maxBatch] + inputShape)
        var activation = input
        var activationGradient: Tensor<Float>? = wantInputGradient ? inputGradientBuffer ?? Tensor<Float>(shape: input.shape) : nil
        let firstGradient = activationGradient
        var shape = inputShape
        var steps: [TrainingStep] = []
        for (i, spec) in layers.enumerated() {
            let path = String(i)
            let outShape = try spec.outputShape(for: shape, at: "layer \(i)")
            let out: Tensor<Float>
            let outGrad: Tensor<Float>
            switch spec {
            case let .conv2d(cin, cout, k, s, p):
                let g = WindowGeometry(height: shape[0], width: shape[1], channels: cin, kernel: k, stride: s, padding: p)
                let (w, dw) = try parameter(path, "weight", [cout, k, k, cin])
                let (b, db) = try parameter(path, "bias", [cout])
                out = Tensor(shape: [maxBatch] + outShape)
                outGrad = Tensor(shape: out.shape)
                steps.append(
                    .conv(
                        geometry: g, outChannels: cout, weight: w, bias: b, weightGradient: dw, biasGradient: db,
                        patches: Tensor(shape: [maxBatch * g.outHeight * g.outWidth, g.patchSize]),
                        input: activation, output: out, inputGradient: activationGradient, outputGradient: outGrad))
            case let .linear(fin, fout):
                let (w, dw) = try parameter(path, "weight", [fout, fin])
                let (b, db) = try parameter(path, "bias", [fout])
                out = Tensor(shape: [maxBatch, fout])
                outGrad = Tensor(shape: out.shape)
                steps.append(
                    .linear(
                        inFeatures: fin, outFeatures: fout, weight: w, bias: b, weightGradient: dw, biasGradient: db,
                        input: activation, output: out, inputGradient: activationGradient, outputGradient: outGrad))
            case .activation(.relu):
                out = Tensor(shape: [maxBatch] + outShape)
                outGrad = Tensor(shape: out.shape)
                steps.append(.relu(output: out, input: activation, inputGradient: activationGradient, outputGradient: outGrad))
            case .spatialSoftArgmax:
                out = Tensor(shape: [maxBatch] + outShape)
                outGrad = Tensor(shape: out.shape)
                steps.append(
                    .spatialSoftArgmax(
                        height: shape[0], width: shape[1], channels: shape[2],
                        probabilities: Tensor(shape: activation.shape), input: activation, output: out,
                        inputGradient: activationGradient, outputGradient: outGrad))
            case .flatten:
                out = activation.reshaped([maxBatch] + outShape)
                if activationGradient == nil { activationGradient = Tensor(shape: activation.shape) }
                outGrad = activationGradient!.reshaped(out.shape)
            case .concat:
                // Each branch is a network of its own over this layer's input, with its parameters
                // renamed from "<i>.<b>.<rest>" to "<rest>" (the same tensors, so updates are shared).
                var branches: [TrainableNetwork] = []
                for (b, (prefix, branch)) in spec.nestedLayers(at: path)!.enumerated() {
                    var branchParameters = Parameters(), branchGradients = Parameters()
                    for (name, t) in parameters where name.hasPrefix(prefix) {
                        let local = String(name.dropFirst(prefix.count))
                        used.insert(name)
                        if grads[name] == nil { grads[name] = Tensor<Float>(shape: t.shape) }
                        branchParameters[local] = t
                        branchGradients[local] = grads[name]!
                    }
                    branches.append(
                        try TrainableNetwork(
                            layers: branch, parameters: branchParameters, gradients: branchGradients,
                            inputShape: shape, maxBatch: maxBatch,
                            inputGradient: activationGradient != nil, input: activation,
                            inputGradientBuffer: b == 0 ? activationGradient : nil))
                }
                out = Tensor(shape: [maxBatch] + outShape)
                outGrad = Tensor(shape: out.shape)
                steps.append(
                    .concat(
                        branches: branches, branchOutputs: branches.map(\.output),
                        branchOutputGradients: branches.map(\.outputGradient), output: out,
                        inputGradient: activationGradient, outputGradient: outGrad))
            default:
                throw ModelError(
                    "layer \(i) (\(spec.name)) cannot be trained: training supports conv2d, linear, relu, flatten, spatial soft-argmax "
                        + "and concat"
                )
            }
            activation = out
            activationGradient = outGrad
            shape = outShape
        }
        if let extra = Set(parameters.keys).subtracting(used).sorted().first {
            throw ModelError("parameter \"\(extra)\" belongs to no layer")
        }
        self.input = input
        self.output = activation
        self.outputShape = shape
        self.outputGradient = activationGradient ?? Tensor(shape: activation.shape)
        self.inputGradient = firstGradient
        self.gradients = grads
        self.steps = steps
    }

    /// Another network over the same weights with its own buffers: with its own gradients (a data-
    /// parallel shard, summed afterwards) or adding into this one's (a step of a recurrent rollout).
    public func replica(maxBatch: Int? = nil, sharingGradients: Bool, inputGradient: Bool? = nil) throws -> TrainableNetwork {
        try TrainableNetwork(
            layers: layers, parameters: parameters, gradients: sharingGradients ? gradients : nil,
            inputShape: inputShape, maxBatch: maxBatch ?? self.maxBatch,
            inputGradient: inputGradient ?? (self.inputGradient != nil))
    }

    /// Runs the first `batch` samples of `input` forward into `output`, keeping what backward needs.
    public func forward(batch n: Int) {
        precondition(n >= 1 && n <= maxBatch, "batch \(n) outside 1...\(maxBatch)")
        for s in steps { s.forward(batch: n) }
    }

    /// Back-propagates `outputGradient` (first `batch` samples) through the last `forward`, adding
    /// parameter gradients into `gradients` and writing `inputGradient` if there is one.
    public func backward(batch n: Int) {
        precondition(n >= 1 && n <= maxBatch, "batch \(n) outside 1...\(maxBatch)")
        for s in steps.reversed() { s.backward(batch: n) }
    }

    public func zeroGradients() {
        for g in gradients.values { g.fill(0) }
    }
}

/// One layer's forward and backward over preallocated buffers.
private enum TrainingStep {
    case conv(
        geometry: WindowGeometry, outChannels: Int, weight: Tensor<Float>, bias: Tensor<Float>,
        weightGradient: Tensor<Float>, biasGradient: Tensor<Float>, patches: Tensor<Float>,
        input: Tensor<Float>, output: Tensor<Float>, inputGradient: Tensor<Float>?, outputGradient: Tensor<Float>)
    case linear(
        inFeatures: Int, outFeatures: Int, weight: Tensor<Float>, bias: Tensor<Float>,
        weightGradient: Tensor<Float>, biasGradient: Tensor<Float>,
        input: Tensor<Float>, output: Tensor<Float>, inputGradient: Tensor<Float>?, outputGradient: Tensor<Float>)
    case relu(output: Tensor<Float>, input: Tensor<Float>, inputGradient: Tensor<Float>?, outputGradient: Tensor<Float>)
    case spatialSoftArgmax(
        height: Int, width: Int, channels: Int, probabilities: Tensor<Float>, input: Tensor<Float>,
        output: Tensor<Float>, inputGradient: Tensor<Float>?, outputGradient: Tensor<Float>)
    case concat(
        branches: [TrainableNetwork], branchOutputs: [Tensor<Float>], branchOutputGradients: [Tensor<Float>],
        output: Tensor<Float>, inputGradient: Tensor<Float>?, outputGradient: Tensor<Float>)

    func forward(batch n: Int) {
        switch self {
        case let .conv(g, o, w, b, _, _, patches, input, output, _, _):
            let rows = n * g.outHeight * g.outWidth, k = g.patchSize
            Kernels.im2col(input.pointer, batch: n, geometry: g, into: patches.pointer, rowStride: k)
            Dense.affine(rows: rows, inFeatures: k, outFeatures: o, x: patches.pointer, w: w.pointer, b: b.pointer, y: output.pointer)
        case let .linear(i, o, w, b, _, _, input, output, _, _):
            Dense.affine(rows: n, inFeatures: i, outFeatures: o, x: input.pointer, w: w.pointer, b: b.pointer, y: output.pointer)
        case let .relu(output, input, _, _):
            let count = n * (input.count / input.shape[0])
            let x = input.pointer, y = output.pointer
            for j in 0..<count { y[j] = x[j] > 0 ? x[j] : 0 }
        case let .spatialSoftArgmax(h, w, c, prob, input, output, _, _):
            ck_spatial_softargmax_f32(input.pointer, Int64(n), Int32(h), Int32(w), Int32(c), prob.pointer, output.pointer)
        case let .concat(branches, outputs, _, output, _, _):
            for branch in branches { branch.forward(batch: n) }
            Kernels.concatenateRows(outputs, rows: n, into: output)
        }
    }

    func backward(batch n: Int) {
        switch self {
        case let .conv(g, o, w, _, dw, db, patches, _, _, dx, dy):
            let rows = n * g.outHeight * g.outWidth, k = g.patchSize
            Dense.parameterGradients(
                rows: rows, inFeatures: k, outFeatures: o, x: patches.pointer, dy: dy.pointer,
                dw: dw.pointer, db: db.pointer)
            if let dx {
                // The patch matrix is no longer needed: it becomes dP, then col2im folds it onto dX.
                Dense.inputGradient(rows: rows, inFeatures: k, outFeatures: o, dy: dy.pointer, w: w.pointer, dx: patches.pointer)
                ck_col2im_f32(
                    patches.pointer, Int32(n), Int32(g.height), Int32(g.width), Int32(g.channels), Int32(g.kernel),
                    Int32(g.stride), Int32(g.padding), Int32(k), dx.pointer)
            }
        case let .linear(i, o, w, _, dw, db, input, _, dx, dy):
            Dense.parameterGradients(
                rows: n, inFeatures: i, outFeatures: o, x: input.pointer, dy: dy.pointer,
                dw: dw.pointer, db: db.pointer)
            if let dx { Dense.inputGradient(rows: n, inFeatures: i, outFeatures: o, dy: dy.pointer, w: w.pointer, dx: dx.pointer) }
        case let .relu(output, _, dx, dy):
            guard let dx else { return }
            let count = n * (output.count / output.shape[0])
            if dx !== dy { dx.pointer.update(from: dy.pointer, count: count) }
            ck_relu_backward_f32(output.pointer, dx.pointer, Int64(count))
        case let .spatialSoftArgmax(h, w, c, prob, _, output, dx, dy):
            guard let dx else { return }
            ck_spatial_softargmax_backward_f32(prob.pointer, output.pointer, dy.pointer, Int64(n), Int32(h), Int32(w), Int32(c), dx.pointer)
        case let .concat(branches, _, outputGradients, _, dx, dy):
            // The input feeds every branch, so its gradient is the sum of the branches' input gradients
            // (the first branch writes its own straight into dX).
            Kernels.splitRows(dy, rows: n, into: outputGradients)
            for branch in branches { branch.backward(batch: n) }
            guard let dx else { return }
            let count = n * (dx.count / dx.shape[0])
            for branch in branches.dropFirst() {
                if let g = branch.inputGradient { Kernels.add(dx.pointer, g.pointer, count: count, out: dx.pointer) }
            }
        }
    }
}

/// The three GEMMs of an affine layer Y = X·Wᵀ + b (X [rows, in], W [out, in], Y [rows, out]).
enum Dense {
    static func affine(
        rows: Int, inFeatures i: Int, outFeatures o: Int, x: UnsafePointer<Float>,
        w: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(o), Int32(i), 1, x, Int32(i), w, Int32(i), 0, y, Int32(o))
        ck_bias_relu_f32(y, Int64(rows), Int32(o), b, 0)
    }

    /// dW += dYᵀ·X, db += Σ_rows dY.
    static func parameterGradients(
        rows: Int, inFeatures i: Int, outFeatures o: Int, x: UnsafePointer<Float>,
        dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(o), Int32(i), Int32(rows), 1, dy, Int32(o), x, Int32(i), 1, dw, Int32(i))
        ck_column_sums_f32(dy, Int64(rows), Int32(o), db)
    }

    /// dX = dY·W.
    static func inputGradient(
        rows: Int, inFeatures i: Int, outFeatures o: Int, dy: UnsafePointer<Float>,
        w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(i), Int32(o), 1, dy, Int32(o), w, Int32(i), 0, dx, Int32(i))
    }
}
