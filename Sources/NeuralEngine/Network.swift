import CKernels
import Foundation
import RobotCore

/// Named parameter tensors of a network: "<layer path>.weight", "<layer path>.bias". Layer paths
/// are indices; a residual body's layers are "<i>.<j>".
public typealias Parameters = [String: Tensor<Float>]

/// One executable layer: reads `input`, writes `output` (both preallocated).
class Operation {
    let path: String
    let spec: LayerSpec
    let input: Tensor<Float>
    let output: Tensor<Float>
    /// Multiply-accumulates per forward pass (all samples).
    let multiplyAccumulates: Int

    init(path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, multiplyAccumulates: Int = 0) {
        self.path = path
        self.spec = spec
        self.input = input
        self.output = output
        self.multiplyAccumulates = multiplyAccumulates
    }

    func run() {}
}

/// A compiled sequence of operations with preallocated buffers: fill `input`, call `forward()`,
/// read `output`. Nothing is allocated after compiling. `Network` (fp32) and `QuantizedNetwork`
/// (int8) are the two kinds.
public class CompiledNetwork: @unchecked Sendable {
    public let layers: [LayerSpec]
    /// Per-sample input shape, e.g. [64, 64, 1].
    public let inputShape: [Int]
    public let batch: Int
    /// Fill this, then call `forward()`. Shape [batch] + inputShape.
    public let input: Tensor<Float>
    /// The result of the last `forward()`. Shape [batch] + the last layer's output shape.
    public let output: Tensor<Float>
    let operations: [Operation]

    init(layers: [LayerSpec], inputShape: [Int], batch: Int, input: Tensor<Float>, output: Tensor<Float>, operations: [Operation]) {
        self.layers = layers
        self.inputShape = inputShape
        self.batch = batch
        self.input = input
        self.output = output
        self.operations = operations
    }

    /// Runs every layer on `input`; returns `output`.
    @discardableResult
    public func forward() -> Tensor<Float> {
        for i in 0..<operations.count { operations[i].run() }
        return output
    }

    /// Copies `x` into `input` and runs the network.
    @discardableResult
    public func forward(_ x: Tensor<Float>) -> Tensor<Float> {
        input.assign(from: x)
        return forward()
    }

    /// Number of compiled operations; `runLayer(i)` runs one (for per-layer timing).
    public var layerCount: Int { operations.count }
    public func runLayer(_ i: Int) { operations[i].run() }
    public func layerName(_ i: Int) -> String {
        let op = operations[i]
        if op is QuantizeOperation { return "quantize input" }
        if type(of: op) == Operation.self && op.spec != .flatten { return op.spec.name + " (fused)" }
        return op.spec.name
    }
    public func layerMultiplyAccumulates(_ i: Int) -> Int { operations[i].multiplyAccumulates }
    /// Multiply-accumulates per forward pass (all samples).
    public var multiplyAccumulates: Int { operations.reduce(0) { $0 + $1.multiplyAccumulates } }
}

/// A sequential fp32 network compiled for one batch size.
public final class Network: CompiledNetwork, @unchecked Sendable {
    public let parameters: Parameters

    /// Compiles `layers` with `parameters`, checking every parameter's presence and shape.
    public init(layers: [LayerSpec], parameters: Parameters, inputShape: [Int], batch: Int = 1) throws {
        guard batch >= 1 else { throw ModelError("batch must be ≥ 1") }
        BLAS.applyDefault()
        self.parameters = parameters
        let input = Tensor<Float>(shape: [batch] + inputShape)
        var builder = Builder(parameters: parameters, batch: batch)
        let (ops, out) = try builder.compile(layers, prefix: "", input: input, shape: inputShape)
        let unused = Set(parameters.keys).subtracting(builder.used)
        if let extra = unused.sorted().first { throw ModelError("parameter \"\(extra)\" belongs to no layer") }
        super.init(layers: layers, inputShape: inputShape, batch: batch, input: input, output: out, operations: ops)
    }

    /// Bytes of parameters (fp32).
    public var parameterBytes: Int { parameters.values.reduce(0) { $0 + $1.byteCount } }

    /// Every matrix-product operation in execution order, residual bodies included (for calibration).
    var matrixProducts: [Operation] {
        func collect(_ ops: [Operation]) -> [Operation] {
            ops.flatMap { op -> [Operation] in
                if let r = op as? ResidualOperation { return collect(r.body) }
                if let c = op as? ConcatOperation { return c.branches.flatMap(collect) }
                return op.spec.isMatrixProduct ? [op] : []
            }
        }
        return collect(operations)
    }
}

/// Compiles specs into operations, allocating their outputs.
struct Builder {
    let parameters: Parameters
    let batch: Int
    var used: Set<String> = []

    init(parameters: Parameters, batch: Int) {
        self.parameters = parameters
        self.batch = batch
    }

    mutating func parameter(_ path: String, _ suffix: String, _ shape: [Int]) throws -> Tensor<Float> {
        let name = "\(path).\(suffix)"
        guard let t = parameters[name] else { throw ModelError("missing parameter \"\(name)\" (shape \(shape))") }
        guard t.shape == shape else { throw ModelError("parameter \"\(name)\" has shape \(t.shape), expected \(shape)") }
        used.insert(name)
        return t
    }

    mutating func compile(_ layers: [LayerSpec], prefix: String, input: Tensor<Float>, shape: [Int]) throws
        -> ([Operation], Tensor<Float>)
    {
        var ops: [Operation] = []
        var current = input
        var currentShape = shape
        for (i, spec) in layers.enumerated() {
            let path = prefix + String(i)
            let outShape = try spec.outputShape(for: currentShape, at: path)
            // An activation right after a matrix product is applied in the product's bias pass; it
            // stays in the list as a pass-through so layer paths and indices do not shift.
            if case let .activation(a) = spec, let product = ops.last as? MatrixProductOperation, product.activation == nil,
                product.output === current
            {
                product.activation = a
                ops.append(Operation(path: path, spec: spec, input: current, output: current))
                continue
            }
            let op = try make(spec, path: path, input: current, inShape: currentShape, outShape: outShape)
            ops.append(op)
            current = op.output
            currentShape = outShape
        }
        return (ops, current)
    }

    mutating func make(_ spec: LayerSpec, path: String, input: Tensor<Float>, inShape: [Int], outShape: [Int]) throws -> Operation {
        let output = spec == .flatten ? input.reshaped([batch] + outShape) : Tensor<Float>(shape: [batch] + outShape)
        let macs = spec.multiplyAccumulates(for: inShape) * batch
        var p: [String: Tensor<Float>] = [:]
        for (suffix, shape) in spec.parameterShapes { p[suffix] = try parameter(path, suffix, shape) }
        switch spec {
        case let .conv2d(i, o, k, s, pad):
            let g = WindowGeometry(height: inShape[0], width: inShape[1], channels: i, kernel: k, stride: s, padding: pad)
            return ConvolutionOperation(
                path: path, spec: spec, input: input, output: output, macs: macs, geometry: g,
                outChannels: o, weight: p["weight"]!, bias: p["bias"]!, batch: batch)
        case .linear:
            return LinearOperation(
                path: path, spec: spec, input: input, output: output, macs: macs, weight: p["weight"]!,
                bias: p["bias"]!, batch: batch)
        case let .activation(a):
            return ActivationOperation(path: path, spec: spec, input: input, output: output, activation: a)
        case .flatten:
            return Operation(path: path, spec: spec, input: input, output: output)
        case let .residual(body):
            let (ops, bodyOut) = try compile(body, prefix: path + ".", input: input, shape: inShape)
            return ResidualOperation(path: path, spec: spec, input: input, output: output, body: ops, bodyOutput: bodyOut)
        case .concat:
            var bodies: [[Operation]] = [], outputs: [Tensor<Float>] = []
            for (prefix, branch) in spec.nestedLayers(at: path)! {
                let (ops, out) = try compile(branch, prefix: prefix, input: input, shape: inShape)
                bodies.append(ops)
                outputs.append(out)
            }
            return ConcatOperation(
                path: path, spec: spec, input: input, output: output, branches: bodies, branchOutputs: outputs, batch: batch)
        case .spatialSoftArgmax:
            return SpatialSoftArgmaxOperation(
                path: path, spec: spec, input: input, output: output, batch: batch,
                height: inShape[0], width: inShape[1], channels: inShape[2])
        }
    }
}

final class SpatialSoftArgmaxOperation: Operation {
    let batch: Int, height: Int, width: Int, channels: Int
    /// The softmax probabilities (inference keeps them only because the kernel writes them).
    let probabilities: Tensor<Float>

    init(path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, batch: Int, height: Int, width: Int, channels: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
        probabilities = Tensor(shape: input.shape)
        super.init(path: path, spec: spec, input: input, output: output)
    }

    override func run() {
        ck_spatial_softargmax_f32(
            input.pointer, Int64(batch), Int32(height), Int32(width), Int32(channels),
            probabilities.pointer, output.pointer)
    }
}

/// A convolution or linear layer, with the activation fused into its bias pass (if any).
class MatrixProductOperation: Operation {
    var activation: Activation?
}

/// A convolution as im2col + one OpenBLAS SGEMM. (A direct loop over output pixels took 5.5× as long over the
/// encoder, and 1.6× with OpenBLAS's generic kernels: `docs/performance.md`.)
final class ConvolutionOperation: MatrixProductOperation {
    let geometry: WindowGeometry
    let outChannels: Int
    let weight: Tensor<Float>
    let bias: Tensor<Float>
    let batch: Int
    /// The im2col patch matrix.
    let scratch: Tensor<Float>

    init(
        path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, macs: Int, geometry: WindowGeometry,
        outChannels: Int, weight: Tensor<Float>, bias: Tensor<Float>, batch: Int
    ) {
        self.geometry = geometry
        self.outChannels = outChannels
        self.weight = weight
        self.bias = bias
        self.batch = batch
        scratch = Tensor(shape: [batch * geometry.outHeight * geometry.outWidth, geometry.patchSize])
        super.init(path: path, spec: spec, input: input, output: output, multiplyAccumulates: macs)
    }

    override func run() {
        let m = batch * geometry.outHeight * geometry.outWidth, k = geometry.patchSize
        Kernels.im2col(input.pointer, batch: batch, geometry: geometry, into: scratch.pointer, rowStride: k)
        Kernels.gemmABt(m: m, n: outChannels, k: k, a: scratch.pointer, lda: k, w: weight.pointer, out: output.pointer)
        Kernels.biasActivate(output.pointer, rows: m, columns: outChannels, bias: bias.pointer, activation: activation)
    }
}

final class LinearOperation: MatrixProductOperation {
    let weight: Tensor<Float>
    let bias: Tensor<Float>
    let batch: Int

    init(
        path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, macs: Int, weight: Tensor<Float>,
        bias: Tensor<Float>, batch: Int
    ) {
        self.weight = weight
        self.bias = bias
        self.batch = batch
        super.init(path: path, spec: spec, input: input, output: output, multiplyAccumulates: macs)
    }

    override func run() {
        let n = weight.shape[0], k = weight.shape[1]
        Kernels.gemmABt(m: batch, n: n, k: k, a: input.pointer, lda: k, w: weight.pointer, out: output.pointer)
        Kernels.biasActivate(output.pointer, rows: batch, columns: n, bias: bias.pointer, activation: activation)
    }
}

final class ActivationOperation: Operation {
    let activation: Activation

    init(path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, activation: Activation) {
        self.activation = activation
        super.init(path: path, spec: spec, input: input, output: output)
    }

    override func run() {
        output.assign(from: input)
        Kernels.biasActivate(output.pointer, rows: 1, columns: output.count, bias: nil, activation: activation)
    }
}

final class ResidualOperation: Operation {
    let body: [Operation]
    let bodyOutput: Tensor<Float>

    init(path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, body: [Operation], bodyOutput: Tensor<Float>) {
        self.body = body
        self.bodyOutput = bodyOutput
        super.init(
            path: path, spec: spec, input: input, output: output,
            multiplyAccumulates: body.reduce(0) { $0 + $1.multiplyAccumulates })
    }

    override func run() {
        for i in 0..<body.count { body[i].run() }
        Kernels.add(input.pointer, bodyOutput.pointer, count: input.count, out: output.pointer)
    }
}

/// Runs each branch on the same input, then copies the branch outputs side by side per sample.
final class ConcatOperation: Operation {
    let branches: [[Operation]]
    let branchOutputs: [Tensor<Float>]
    let batch: Int

    init(
        path: String, spec: LayerSpec, input: Tensor<Float>, output: Tensor<Float>, branches: [[Operation]],
        branchOutputs: [Tensor<Float>], batch: Int
    ) {
        self.branches = branches
        self.branchOutputs = branchOutputs
        self.batch = batch
        super.init(
            path: path, spec: spec, input: input, output: output,
            multiplyAccumulates: branches.joined().reduce(0) { $0 + $1.multiplyAccumulates })
    }

    override func run() {
        for b in 0..<branches.count {
            for i in 0..<branches[b].count { branches[b][i].run() }
        }
        Kernels.concatenateRows(branchOutputs, rows: batch, into: output)
    }
}

extension Parameters {
    /// Seeded initial parameters: He-normal weights (fan-in), zero biases.
    public static func initialized(for layers: [LayerSpec], seed: UInt64) -> Parameters {
        var rng = SeededGenerator(seed: seed)
        var out: Parameters = [:]
        func visit(_ layers: [LayerSpec], _ prefix: String) {
            for (i, spec) in layers.enumerated() {
                let path = prefix + String(i)
                if let nested = spec.nestedLayers(at: path) {
                    for (sub, layers) in nested { visit(layers, sub) }
                    continue
                }
                for (suffix, shape) in spec.parameterShapes {
                    let t = Tensor<Float>(shape: shape)
                    if suffix == "weight" && shape.count > 1 {
                        let fanIn = shape.dropFirst().reduce(1, *)
                        let std = (2.0 / Double(fanIn)).squareRoot()
                        for j in 0..<t.count { t[j] = Float(rng.normal() * std) }
                    } else if suffix == "weight" {
                        t.fill(1)
                    }
                    out["\(path).\(suffix)"] = t
                }
            }
        }
        visit(layers, "")
        return out
    }
}
