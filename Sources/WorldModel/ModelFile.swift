import Foundation
import NeuralEngine
import RobotCore

/// The deployable world model: fp32 encoder and predictor, the int8 encoder, and what training
/// measured, in one safetensors file (`models/NAME.safetensors`).
///
/// Tensors: `encoder.<layer>.weight|bias` (fp32), `predictor.<layer>.weight|bias` (fp32),
/// `encoder_int8.<layer>.weight_q|weight_scale|bias|input_scale` (int8 deploy form). Metadata:
/// `kind` = `cerebellum-world-model`, `encoder` and `predictor` (layer lists as JSON), `latent_size`,
/// `action_size`, `actions` (JSON: each action's name and effort span), `frame_shape`, and `training` (a JSON
/// summary: config, validation, int8 cosine).
public struct WorldModelFile: Sendable {
    public static let kind = "cerebellum-world-model"
    public var encoderLayers: [LayerSpec]
    public var predictorLayers: [LayerSpec]
    public var encoder: Parameters
    public var predictor: Parameters
    public var quantizedEncoder: QuantizedParameters
    public var latentSize: Int
    /// The actions the predictor takes, in order: the board's planned actuators, each with the span of efforts trained on.
    public var actions: [ModelAction]
    public var frameShape: [Int]
    /// Training summary (JSON text), shown by `eval-model`.
    public var training: String

    public init(
        encoderLayers: [LayerSpec], predictorLayers: [LayerSpec], encoder: Parameters, predictor: Parameters,
        quantizedEncoder: QuantizedParameters, latentSize: Int, actions: [ModelAction], frameShape: [Int], training: String
    ) {
        self.actions = actions
        self.encoderLayers = encoderLayers
        self.predictorLayers = predictorLayers
        self.encoder = encoder
        self.predictor = predictor
        self.quantizedEncoder = quantizedEncoder
        self.latentSize = latentSize
        self.frameShape = frameShape
        self.training = training
    }

    /// Reads and checks a model file: its kind, layer lists, every tensor's presence and shape (by
    /// compiling the networks once). Errors name the file and the reason.
    public static func load(path: String) throws -> WorldModelFile { try parse(SafetensorsFile.read(path: path), path: path) }

    /// The checks of `load` on a safetensors file already read; errors name `path`.
    public static func parse(_ file: SafetensorsFile, path: String) throws -> WorldModelFile {
        func fail(_ why: String) -> ModelError { ModelError("\(path): \(why)") }
        guard file.metadata["kind"] == kind else {
            throw fail(
                "not a cerebellum world model (metadata kind is \(file.metadata["kind"].map { "\"\($0)\"" } ?? "missing"), expected "
                    + "\"\(kind)\")"
            )
        }
        func layers(_ key: String) throws -> [LayerSpec] {
            guard let json = file.metadata[key] else { throw fail("metadata has no \"\(key)\" layer list") }
            do { return try LayerSpec.parse(json: json) } catch { throw fail("\(key) layers: \(error)") }
        }
        let enc = try layers("encoder"), pred = try layers("predictor")
        guard let latent = file.metadata["latent_size"].flatMap({ Int($0) }), (1...4096).contains(latent) else {
            throw fail("metadata latent_size missing or not an integer in 1...4096")
        }
        guard let shapeText = file.metadata["frame_shape"],
            let shape = try? JSONDecoder().decode([Int].self, from: Data(shapeText.utf8)), shape.count == 3
        else {
            throw fail("metadata frame_shape missing or not [h, w, c]")
        }
        guard (1...4096).contains(shape[0]), (1...4096).contains(shape[1]), (1...4).contains(shape[2]) else {
            throw fail("metadata frame_shape \(shape) is outside [1...4096, 1...4096, 1...4]")
        }
        let actions: [ModelAction]
        do { actions = try ModelAction.parse(json: file.metadata["actions"]) } catch let e as ModelError { throw fail(e.reason) }
        if let size = file.metadata["action_size"], size != String(actions.count) {
            throw fail("metadata action_size is \(size) but \"actions\" names \(actions.count)")
        }
        var encoder: Parameters = [:], predictor: Parameters = [:], q: [String: AnyTensor] = [:]
        for (name, t) in file.tensors {
            if name.hasPrefix("encoder_int8.") {
                if let f = t.as(Float.self), let bad = f.firstNonFinite {
                    throw fail(
                        "tensor \"\(name)\" holds a non-finite value (\(bad.value) at element \(bad.index)): a model with NaN or ∞ "
                            + "weights is refused"
                    )
                }
                q[String(name.dropFirst(13))] = t
                continue
            }
            let isEnc = name.hasPrefix("encoder."), isPred = name.hasPrefix("predictor.")
            guard isEnc || isPred else { throw fail("tensor \"\(name)\" belongs to no part (encoder., predictor., encoder_int8.)") }
            guard let f = t.as(Float.self) else { throw fail("tensor \"\(name)\" is \(t.dtype.rawValue), expected F32") }
            if let bad = f.firstNonFinite {
                throw fail(
                    "tensor \"\(name)\" holds a non-finite value (\(bad.value) at element \(bad.index)): a model with NaN or ∞ weights is "
                        + "refused"
                )
            }
            if isEnc { encoder[String(name.dropFirst(8))] = f } else { predictor[String(name.dropFirst(10))] = f }
        }
        let model = WorldModelFile(
            encoderLayers: enc, predictorLayers: pred, encoder: encoder, predictor: predictor,
            quantizedEncoder: QuantizedParameters(tensors: q), latentSize: latent, actions: actions, frameShape: shape,
            training: file.metadata["training"] ?? "{}")
        do {
            let e = try model.makeEncoder()
            guard e.output.count == latent else { throw ModelError("the encoder gives \(e.output.count) values, latent_size is \(latent)") }
            _ = try model.makeQuantizedEncoder()
            let p: Network
            do { p = try model.makePredictor() } catch let e as ModelError {
                throw ModelError(
                    "the predictor does not take [latent + \(actions.count) actions] (latent_size \(latent), \"actions\"): \(e.reason)")
            }
            guard p.inputShape == [latent + actions.count], p.output.count == latent else {
                throw ModelError(
                    "the predictor maps \(p.inputShape) to \(p.output.count) values; it must map [latent + \(actions.count) actions] to "
                        + "latent"
                )
            }
        } catch let e as ModelError { throw fail(e.reason) }
        return model
    }

    public func write(path: String) throws {
        var tensors: [String: AnyTensor] = [:]
        for (k, t) in encoder { tensors["encoder.\(k)"] = AnyTensor(t) }
        for (k, t) in predictor { tensors["predictor.\(k)"] = AnyTensor(t) }
        for (k, t) in quantizedEncoder.tensors { tensors["encoder_int8.\(k)"] = t }
        let shape = String(decoding: try JSONEncoder().encode(frameShape), as: UTF8.self)
        let meta = [
            "kind": Self.kind, "encoder": LayerSpec.json(encoderLayers), "predictor": LayerSpec.json(predictorLayers),
            "latent_size": String(latentSize), "action_size": String(actions.count), "actions": try ModelAction.json(actions),
            "frame_shape": shape, "training": training,
        ]
        try SafetensorsFile(tensors: tensors, metadata: meta).write(path: path)
    }

    /// The 99th percentile of the one-step prediction error (mean squared per latent dimension) on
    /// the validation windows at the end of training: the scale for "the model is surprised".
    public var validationOneStepErrorP99: Double? {
        (trainingSection("validation")?["one_step_error_p99"] as? NSNumber)?.doubleValue
    }

    /// One object of the training summary (JSON text), nil if it has none or does not parse.
    private func trainingSection(_ key: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(training.utf8)) as? [String: Any])?[key] as? [String: Any]
    }

    /// Why frames of `width` × `height` gray pixels (a board's camera) cannot go into this model's encoder;
    /// nil when they can.
    public func frameMismatch(width: Int, height: Int) -> String? {
        frameShape == [height, width, 1]
            ? nil
            : "the model takes \(frameShape[1])×\(frameShape[0])×\(frameShape[2]) frames, the board's camera gives \(width)×\(height) gray "
                + "(camera.width, camera.height): train a model on this board's recordings, or set the camera to the model's size"
    }

    public func makeEncoder(batch: Int = 1) throws -> Network {
        try Network(layers: encoderLayers, parameters: encoder, inputShape: frameShape, batch: batch)
    }

    public func makeQuantizedEncoder(batch: Int = 1, kernel: Int8Kernel = .best) throws -> QuantizedNetwork {
        try QuantizedNetwork(layers: encoderLayers, parameters: quantizedEncoder, inputShape: frameShape, batch: batch, kernel: kernel)
    }

    /// The predictor's residual branch f([z, a]) for `batch` samples at once.
    public func makePredictor(batch: Int = 1) throws -> Network {
        try Network(
            layers: predictorLayers, parameters: predictor, inputShape: [latentSize + actions.count], batch: batch)
    }

    /// The predictor's residual branch on this project's own dense kernels (the planner's rollouts), for
    /// up to `capacity` rows per pass: `kernel`, or the fastest of `precision`'s candidates that agrees with
    /// its portable reference on random inputs (int8 variants exactly, fp32 ones to 1e-4). One that disagrees
    /// (a CPU or compiler fault) is passed over, the next taken, and `rejected` names it.
    public func makeRolloutPredictor(
        capacity: Int, kernel: DenseKernel? = nil, precision: DensePrecision = .fp32
    ) throws -> (stack: DenseStack, rejected: [DenseKernel]) {
        let net = try makePredictor()
        var rejected: [DenseKernel] = []
        for candidate in kernel.map({ [$0] }) ?? DenseKernel.candidates(precision) {
            let stack = try DenseStack(net, capacity: capacity, kernel: candidate)
            var rng = SeededGenerator(seed: 0x5EED)
            for i in 0..<stack.input.count { stack.input[i] = Float(rng.uniform(-2, 2)) }
            let tolerance: Float = candidate.precision == .int8 ? 0 : 1e-4
            if try stack.disagreement(rows: capacity) <= tolerance { return (stack, rejected) }
            rejected.append(candidate)
        }
        throw ModelError("no dense kernel of this CPU agrees with its portable reference (rejected: \(rejected.map(\.rawValue)))")
    }
}

/// One action the world model takes: a planned actuator's effort (normalized, in [-1, 1]), by the board's name for
/// it, and the span of efforts the model was trained on (the planner asks for nothing outside it).
public struct ModelAction: Sendable, Equatable, Codable {
    public var name: String
    public var lower: Double
    public var upper: Double
    /// Most actions a model takes (a board has at most 16 PWM channels).
    public static let maxCount = 16
    /// Spans are rounded outward to multiples of this.
    public static let spanStep = 0.05

    public init(name: String, lower: Double, upper: Double) { (self.name, self.lower, self.upper) = (name, lower, upper) }

    /// The metadata text: a JSON array of {"name", "lower", "upper"}, keys sorted.
    public static func json(_ actions: [ModelAction]) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(actions), as: UTF8.self)
    }

    /// The `actions` metadata, checked: 1…`maxCount` actions, names unique and non-empty, spans within [-1, 1] and not empty.
    public static func parse(json text: String?) throws -> [ModelAction] {
        guard let text else {
            throw ModelError(
                "metadata has no \"actions\" (the names and effort spans of the actions the model takes): train it again with `cerebellum "
                    + "train`"
            )
        }
        guard let actions = try? JSONDecoder().decode([ModelAction].self, from: Data(text.utf8)) else {
            throw ModelError("metadata \"actions\" is not a list of {\"name\", \"lower\", \"upper\"}: \(text.prefix(200))")
        }
        guard (1...maxCount).contains(actions.count) else {
            throw ModelError("metadata \"actions\" names \(actions.count) actions, expected 1…\(maxCount)")
        }
        for (i, a) in actions.enumerated() {
            guard !a.name.isEmpty, !actions[..<i].contains(where: { $0.name == a.name }) else {
                throw ModelError("metadata \"actions\": action \(i) has an empty or repeated name \"\(a.name)\"")
            }
            guard a.lower.isFinite, a.upper.isFinite, -1 <= a.lower, a.lower < a.upper, a.upper <= 1 else {
                throw ModelError("metadata \"actions\": \(a.name)'s span [\(a.lower), \(a.upper)] is not a non-empty range within [-1, 1]")
            }
        }
        return actions
    }
}

/// How close the int8 encoder stays to the fp32 one on held-out frames.
public struct QuantizationReport: Sendable, Codable {
    public var frames: Int
    public var minCosine: Double
    public var medianCosine: Double
    public var calibrationFrames: Int
}

extension WorldModelFile {
    /// Post-training quantization of `encoder`: activation scales calibrated on `calibration`
    /// frames, per-output-channel int8 weights; then the fp32-vs-int8 cosine on `heldOut` frames.
    public static func quantize(
        encoderLayers: [LayerSpec], encoder: Parameters, frameShape: [Int],
        calibration: [Tensor<Float>], heldOut: [Tensor<Float>]
    ) throws -> (QuantizedParameters, QuantizationReport) {
        let fp32 = try Network(layers: encoderLayers, parameters: encoder, inputShape: frameShape)
        let scales = QuantizedParameters.calibrate(network: fp32, samples: calibration)
        let q = try QuantizedParameters.quantize(layers: encoderLayers, parameters: encoder, scales: scales)
        let int8 = try QuantizedNetwork(layers: encoderLayers, parameters: q, inputShape: frameShape)
        var cos: [Double] = []
        for x in heldOut {
            let a = fp32.forward(x).scalars
            let b = int8.forward(x).scalars
            cos.append(cosineSimilarity(a, b))
        }
        cos.sort()
        return (
            q,
            QuantizationReport(
                frames: cos.count, minCosine: cos.first ?? .nan,
                medianCosine: quantile(sorted: cos, 0.5), calibrationFrames: calibration.count)
        )
    }
}
