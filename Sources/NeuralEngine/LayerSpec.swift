import Foundation

/// One layer of a sequential network, as stored in a model file's `__metadata__` ("architecture",
/// a JSON list). Feature maps are NHWC.
public indirect enum LayerSpec: Equatable, Sendable {
    /// Square-kernel convolution; weight [out][kernel][kernel][in], bias [out].
    case conv2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int)
    /// Fully connected; weight [out][in], bias [out].
    case linear(inFeatures: Int, outFeatures: Int)
    case activation(Activation)
    /// [H, W, C] → [H·W·C] (a view, no copy).
    case flatten
    /// x + body(x).
    case residual([LayerSpec])
    /// [H, W, C] → [2C]: per channel, the expected pixel position (u, v) under a softmax over the
    /// H·W pixels, u and v in (−1, 1) from left/top to right/bottom (Levine et al.'s spatial soft-argmax:
    /// keypoints that move linearly with what they track).
    case spatialSoftArgmax
    /// Branches that each read the same input and end in a vector ([F_b]); their outputs are
    /// concatenated in order → [ΣF_b]. Branch b's layer j has the path "<i>.<b>.<j>".
    case concat([[LayerSpec]])

    /// True for layers computed as a matrix product (the ones quantized to int8).
    public var isMatrixProduct: Bool {
        switch self {
        case .conv2d, .linear: true
        default: false
        }
    }

    /// The layer lists nested in a residual or concat layer at `path`, each with the path prefix of its
    /// layers ("<path>." for a residual body, "<path>.<b>." for branch b); nil for plain layers.
    public func nestedLayers(at path: String) -> [(prefix: String, layers: [LayerSpec])]? {
        switch self {
        case let .residual(body): [(path + ".", body)]
        case let .concat(branches): branches.enumerated().map { (path + ".\($0.offset).", $0.element) }
        default: nil
        }
    }

    /// Most elements a layer's per-sample output or a parameter tensor may have (16 Mi: 64 MiB of fp32):
    /// a model file is untrusted input, and a shape it names is memory this process would allocate.
    public static let maxElements = 1 << 24
    /// Ranges of a layer's sizes in a model file: kernel, stride and padding; feature and channel counts.
    public static let windowRange = 1...64, paddingRange = 0...64, sizeRange = 1...(1 << 20)
}

/// The product of `dims`, or nil if it overflows or passes `LayerSpec.maxElements`.
public func boundedElementCount(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        guard !overflow, p <= LayerSpec.maxElements else { return nil }
        n = p
    }
    return n
}

/// A problem with an architecture or its parameters, naming the layer or tensor.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension LayerSpec {
    /// The per-sample output shape for a per-sample input shape ([H, W, C] or [F]), or why not.
    public func outputShape(for input: [Int], at path: String) throws -> [Int] {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw ModelError("layer \(path) (\(name)): \(what), input shape \(input)") }
        }
        try need(
            !input.isEmpty && input.allSatisfy { $0 >= 1 } && boundedElementCount(input) != nil,
            "input sizes must be ≥ 1 with at most \(LayerSpec.maxElements) elements")
        for (suffix, shape) in parameterShapes {
            try need(boundedElementCount(shape) != nil, "its \(suffix) \(shape) has more than \(LayerSpec.maxElements) elements")
        }
        let output = try unboundedOutputShape(for: input, at: path, need: need)
        try need(boundedElementCount(output) != nil, "its output \(output) has more than \(LayerSpec.maxElements) elements")
        return output
    }

    private func unboundedOutputShape(for input: [Int], at path: String, need: (Bool, String) throws -> Void) throws -> [Int] {
        switch self {
        case let .conv2d(i, o, k, s, p):
            try need(input.count == 3 && input[2] == i, "expects [H, W, \(i)]")
            try need(k >= 1 && s >= 1 && p >= 0 && o >= 1, "kernel, stride ≥ 1, padding ≥ 0")
            let g = WindowGeometry(height: input[0], width: input[1], channels: i, kernel: k, stride: s, padding: p)
            try need(g.outHeight >= 1 && g.outWidth >= 1, "window larger than the input")
            return [g.outHeight, g.outWidth, o]
        case let .linear(i, o):
            try need(input.count == 1 && input[0] == i && o >= 1, "expects [\(i)]")
            return [o]
        case .activation:
            return input
        case .flatten:
            return [input.reduce(1, *)]
        case .spatialSoftArgmax:
            try need(input.count == 3 && input[0] >= 1 && input[1] >= 1, "expects [H, W, C]")
            return [2 * input[2]]
        case let .residual(body):
            var shape = input
            for (j, layer) in body.enumerated() { shape = try layer.outputShape(for: shape, at: "\(path).\(j)") }
            try need(shape == input, "body output \(shape) must equal its input")
            return input
        case let .concat(branches):
            try need(!branches.isEmpty, "needs at least one branch")
            var features = 0
            for (b, branch) in branches.enumerated() {
                var shape = input
                for (j, layer) in branch.enumerated() { shape = try layer.outputShape(for: shape, at: "\(path).\(b).\(j)") }
                try need(shape.count == 1, "branch \(b) must end in a vector, it ends in \(shape)")
                features += shape[0]
            }
            return [features]
        }
    }

    /// Parameter tensors this layer owns: name suffix and shape.
    public var parameterShapes: [(name: String, shape: [Int])] {
        switch self {
        case let .conv2d(i, o, k, _, _): [("weight", [o, k, k, i]), ("bias", [o])]
        case let .linear(i, o): [("weight", [o, i]), ("bias", [o])]
        default: []
        }
    }

    /// Multiply-accumulates per sample for a per-sample input shape (0 for the cheap layers).
    public func multiplyAccumulates(for input: [Int]) -> Int {
        switch self {
        case let .conv2d(i, o, k, s, p):
            let g = WindowGeometry(height: input[0], width: input[1], channels: i, kernel: k, stride: s, padding: p)
            return g.outHeight * g.outWidth * o * k * k * i
        case let .linear(i, o): return i * o
        default: return 0
        }
    }

    /// A short human name, e.g. "conv 3×3/2 16→32".
    public var name: String {
        switch self {
        case let .conv2d(i, o, k, s, _): "conv \(k)×\(k)/\(s) \(i)→\(o)"
        case let .linear(i, o): "linear \(i)→\(o)"
        case let .activation(a): a.rawValue
        case .flatten: "flatten"
        case .spatialSoftArgmax: "spatial soft-argmax"
        case let .residual(body): "residual[" + body.map(\.name).joined(separator: ", ") + "]"
        case let .concat(branches): "concat[" + branches.map { $0.map(\.name).joined(separator: ", ") }.joined(separator: " | ") + "]"
        }
    }
}

// MARK: JSON form: {"op": "conv2d", "in": 1, "out": 16, "kernel": 3, "stride": 2, "padding": 1}

extension LayerSpec: Codable {
    private enum Key: String, CodingKey {
        case op, `in`, out, kernel, stride, padding, function, body, branches
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let op = try c.decode(String.self, forKey: .op)
        /// A size read from the file, within `range` (numbers past it would overflow shape arithmetic).
        func int(_ key: Key, _ range: ClosedRange<Int>) throws -> Int {
            let v = try c.decode(Int.self, forKey: key)
            guard range.contains(v) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: c,
                    debugDescription: "\(op) \(key.stringValue) \(v) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        let size = LayerSpec.sizeRange, window = LayerSpec.windowRange
        switch op {
        case "conv2d":
            self = .conv2d(
                inChannels: try int(.in, size), outChannels: try int(.out, size), kernel: try int(.kernel, window),
                stride: try int(.stride, window), padding: try int(.padding, LayerSpec.paddingRange))
        case "linear":
            self = .linear(inFeatures: try int(.in, size), outFeatures: try int(.out, size))
        case "activation": self = .activation(try c.decode(Activation.self, forKey: .function))
        case "flatten": self = .flatten
        case "spatial_softargmax": self = .spatialSoftArgmax
        case "residual": self = .residual(try c.decode([LayerSpec].self, forKey: .body))
        case "concat": self = .concat(try c.decode([[LayerSpec]].self, forKey: .branches))
        default:
            throw DecodingError.dataCorruptedError(forKey: .op, in: c, debugDescription: "unknown layer op \"\(op)\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case let .conv2d(i, o, k, s, p):
            try c.encode("conv2d", forKey: .op)
            try c.encode(i, forKey: .in); try c.encode(o, forKey: .out)
            try c.encode(k, forKey: .kernel); try c.encode(s, forKey: .stride); try c.encode(p, forKey: .padding)
        case let .linear(i, o):
            try c.encode("linear", forKey: .op); try c.encode(i, forKey: .in); try c.encode(o, forKey: .out)
        case let .activation(a):
            try c.encode("activation", forKey: .op); try c.encode(a, forKey: .function)
        case .flatten: try c.encode("flatten", forKey: .op)
        case .spatialSoftArgmax: try c.encode("spatial_softargmax", forKey: .op)
        case let .residual(body):
            try c.encode("residual", forKey: .op); try c.encode(body, forKey: .body)
        case let .concat(branches):
            try c.encode("concat", forKey: .op); try c.encode(branches, forKey: .branches)
        }
    }

    /// The architecture as compact JSON, for a model file's metadata.
    public static func json(_ layers: [LayerSpec]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Specs hold only integers and strings, which always encode.
        guard let data = try? encoder.encode(layers) else { preconditionFailure("layer specs failed to encode") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses an architecture from JSON, with the decoding error as the reason.
    public static func parse(json: String) throws -> [LayerSpec] {
        do { return try JSONDecoder().decode([LayerSpec].self, from: Data(json.utf8)) } catch let error as DecodingError {
            switch error {
            case let .dataCorrupted(ctx), let .keyNotFound(_, ctx), let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
                let where_ = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                throw ModelError("architecture\(where_.isEmpty ? "" : " at \(where_)"): \(ctx.debugDescription)")
            @unknown default: throw ModelError("architecture: \(error)")
            }
        }
    }
}
