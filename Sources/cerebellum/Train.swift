import ArgumentParser
import Evaluation
import Foundation
import LinuxHardware
import RobotCore
import NeuralEngine
import Recording
import Reports
import Synchronization
import WorldModel

extension WorldModelArchitecture.EncoderKind: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the JEPA world model on recorded MCAP datasets and export the int8 deploy model.",
        discussion: """
            Reads every episode of DATA (MCAP files, or directories of them), splits training and validation by
            episode, and trains the encoder, the residual action-conditioned predictor and the inverse-dynamics head
            with the JEPA objective (multi-step latent prediction, variance, covariance, temporal smoothness, inverse
            dynamics), AdamW with warm-up and cosine decay, gradient clipping, on --threads cores. Validation runs after
            every epoch (prediction error over the horizon, latent std per dimension, effective rank; an alarm when the
            latent collapses) and writes a checkpoint. At the end the encoder is quantized to int8 on calibration
            frames and the fp32-vs-int8 cosine is reported. Loss curves go to OUT's stem + .loss.csv / .loss.png.
            """)

    @Argument(help: "MCAP recordings or directories of them.")
    var data: [String]

    @Option(help: "The model file to write (safetensors).")
    var out: String

    @Option(help: "Passes over the training windows.") var epochs = 4
    @Option(help: "Windows per step.") var batch = 64
    @Option(help: "Prediction steps per window.") var horizon = 8
    @Option(name: .customLong("lr"), help: "Peak learning rate.") var learningRate = 2e-3
    @Option(help: "Warm-up steps.") var warmup = 200
    @Option(help: "Worker threads (encoder shards).") var threads = 2
    @Option(help: "Seed for initialization, split and batch order.") var seed: UInt64 = 1
    @Option(help: "Resume from this checkpoint (same data and config).") var resume: String?
    @Option(help: "Checkpoint path (default: OUT's stem + .checkpoint.safetensors).") var checkpoint: String?
    @Option(help: "Stop after this many steps (a short run; the schedule still spans all epochs).") var maxSteps: Int?
    @Option(help: "Loss weights as prediction,variance,covariance,smoothness,inverse-dynamics.") var weights: String?
    @Option(help: "Encoder: convolutional, keypoints (spatial soft-argmax) or hybrid (both branches, concatenated).") var encoder:
        WorldModelArchitecture.EncoderKind = TrainingConfig().encoder
    @Option(help: "Latent dimensions.") var latent = WorldModelArchitecture.latentSize
    @Option(
        help:
            ArgumentHelp(
                "The actuators the model's actions are, comma-separated, in order (default: the recordings' planned actuators, else all of "
                    + "them).")
    ) var actions: String?

    func run() throws {
        lineBufferedStandardOutput()
        print(chooseBLASCoreType())
        let stem = out.hasSuffix(".safetensors") ? String(out.dropLast(12)) : out
        let folder = (out as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let checkpointPath = checkpoint ?? stem + ".checkpoint.safetensors"
        var config = TrainingConfig()
        var resumed: SafetensorsFile?
        if let resume {
            let file = try SafetensorsFile.read(path: resume)
            config = try JEPATrainer.config(of: file, path: resume)
            resumed = file
            print("resuming from \(resume) at step \(file.metadata["step"] ?? "?")")
        } else {
            config.epochs = epochs
            config.batch = batch
            config.horizon = horizon
            config.learningRate = learningRate
            config.warmupSteps = warmup
            config.threads = threads
            config.seed = seed
            config.encoder = encoder
            config.latentSize = latent
            if let weights {
                let w = weights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard w.count == 5, w.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                    throw ValidationError(
                        "--weights needs five non-negative numbers: prediction,variance,covariance,smoothness,inverse-dynamics")
                }
                config.weights.prediction = w[0]!; config.weights.variance = w[1]!; config.weights.covariance = w[2]!
                config.weights.smoothness = w[3]!; config.weights.inverseDynamics = w[4]!
            }
        }

        let started = Date()
        let files = try mcapFiles(data)
        let (episodes, meta, actionNames) = try loadEpisodes(files, actions: actions.map(actuatorNames))
        let dataset = try Dataset(
            episodes: episodes, actionNames: actionNames, validationFraction: config.validationFraction, seed: config.seed)
        let modelActions = try dataset.modelActions()
        print(
            "data: \(files.count) file(s), \(episodes.count) episodes, \(dataset.frameCount) frames "
                + "(\(dataset.trainingEpisodes.count) training / \(dataset.validationEpisodes.count) validation episodes), "
                + "board \(meta["board"] ?? "?"), world \(meta["world"] ?? "?"), actions "
                + modelActions.map { "\($0.name) [\(format2($0.lower)), \(format2($0.upper))]" }.joined(separator: ", ")
                + ", read in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        )

        let trainer = try JEPATrainer(config: config, dataset: dataset, checkpoint: resumed, checkpointPath: resume ?? "")
        let total = min(trainer.totalSteps, maxSteps ?? .max)
        print(
            "model: encoder [\(trainer.encoderLayers.map(\.name).joined(separator: ", "))], latent \(trainer.latentSize), "
                + "predictor hidden \(config.predictorHidden), \(trainer.parameters.values.reduce(0) { $0 + $1.count }) parameters")
        print(
            "training: \(trainer.trainingWindows.count) windows of \(config.horizon) steps, batch \(config.batch), "
                + "\(trainer.stepsPerEpoch) steps/epoch × \(config.epochs) epochs = \(trainer.totalSteps) steps, \(config.threads) threads")
        let log = try LossLog(stem: stem, append: resumed != nil)
        let progress = ProgressLine(total: total, start: trainer.step)
        installStopHandlers()
        var validations: [ValidationReport] = []
        var last = StepLosses()
        while trainer.step < total && !stopRequested.load(ordering: .relaxed) {
            last = trainer.trainStep()
            guard last.total.isFinite else {
                throw ValidationError("the loss became \(last.total) at step \(trainer.step); nothing written (lower --lr)")
            }
            log.record(step: trainer.step, last)
            progress.update(step: trainer.step, losses: last)
            if trainer.step % trainer.stepsPerEpoch == 0 || trainer.step == total {
                progress.finishLine()
                let v = trainer.validate()
                validations.append(v)
                log.record(validation: v)
                printValidation(v, epoch: Double(trainer.step) / Double(trainer.stepsPerEpoch))
                try trainer.checkpoint().write(path: checkpointPath)
            }
        }
        progress.finishLine()
        if stopRequested.load(ordering: .relaxed) {
            try trainer.checkpoint().write(path: checkpointPath)
            print("stopped at step \(trainer.step); checkpoint \(checkpointPath) (resume with --resume)")
        }
        try log.finish()
        print("loss curves: \(stem).loss.csv, \(stem).validation.csv, \(stem).loss.png")

        // Export: int8 encoder calibrated on training frames, checked on validation frames.
        let calibration = sampleFrames(dataset, episodes: dataset.trainingEpisodes, count: 128, seed: 11)
        let heldOut = sampleFrames(dataset, episodes: dataset.validationEpisodes, count: 512, seed: 12)
        let encoder = trainer.parameters(of: "encoder"), predictor = trainer.parameters(of: "predictor")
        let (q, qr) = try WorldModelFile.quantize(
            encoderLayers: trainer.encoderLayers, encoder: encoder,
            frameShape: WorldModelArchitecture.frameShape, calibration: calibration, heldOut: heldOut)
        print(
            "int8 encoder: cosine to fp32 on \(qr.frames) held-out frames: min \(String(format: "%.5f", qr.minCosine)), "
                + "median \(String(format: "%.5f", qr.medianCosine)) (calibrated on \(qr.calibrationFrames) training frames)")
        let summary = TrainingSummary(
            config: config, steps: trainer.step,
            episodes: episodes.count, frames: dataset.frameCount, files: files.count,
            board: meta["board"] ?? "", world: meta["world"] ?? "",
            validation: validations.last, quantization: qr)
        let model = WorldModelFile(
            encoderLayers: trainer.encoderLayers, predictorLayers: trainer.predictorLayers,
            encoder: encoder, predictor: predictor, quantizedEncoder: q, latentSize: trainer.latentSize,
            actions: modelActions, frameShape: WorldModelArchitecture.frameShape, training: try jsonString(summary))
        try model.write(path: out)
        _ = try WorldModelFile.load(path: out)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        print("wrote \(out) (\(size / 1000) kB) after \(trainer.step) steps in \(formatDuration(Date().timeIntervalSince(started)))")
        if let v = validations.last, v.spread.collapsed { throw ExitCode(3) }
    }

    func printValidation(_ v: ValidationReport, epoch: Double) {
        let ks = [0, v.predictionError.count / 2 - 1, v.predictionError.count - 1].filter { $0 >= 0 }
        let pe = ks.map {
            "k=\($0 + 1) \(String(format: "%.4f", v.predictionError[$0])) (\(String(format: "%.3f", v.relativePredictionError[$0])))"
        }
        print(
            "validation @ epoch \(String(format: "%.2f", epoch)) (\(v.windows) windows): prediction error \(pe.joined(separator: ", ")); "
                + "inverse dynamics \(String(format: "%.4f", v.inverseDynamicsError)); latent std min "
                + "\(String(format: "%.3f", v.spread.minStd)) "
                + "mean \(String(format: "%.3f", v.spread.meanStd)); effective rank \(String(format: "%.2f", v.spread.effectiveRank)) of "
                + "\(v.spread.std.count)"
        )
        if v.spread.collapsed {
            print(
                "ALARM: the latent is collapsing (most dimensions constant or effective rank < 1.5): raise the variance/covariance "
                    + "weights or lower --lr"
            )
        }
    }
}

/// What `train` stores in the model file's metadata. Only what the data, the configuration and the seed
/// determine (no wall-clock time), so `make model` reproduces the shipped file byte for byte on the CPU class
/// that trained it (OpenBLAS's SGEMM kernels round differently on others, and the weights then differ).
struct TrainingSummary: Codable {
    var config: TrainingConfig
    var steps: Int
    var episodes: Int
    var frames: Int
    var files: Int
    var board: String
    var world: String
    var validation: ValidationReport?
    var quantization: QuantizationReport
}

private func format2(_ v: Double) -> String { String(format: "%.2f", v) }

/// The MCAP files named, directories expanded (sorted, so the order is reproducible).
func mcapFiles(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    for p in paths {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
            throw ValidationError("\(p): no such file or directory")
        }
        if isDir.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: p).filter { $0.hasSuffix(".mcap") }.sorted()
            if names.isEmpty { throw ValidationError("\(p): no .mcap files in this directory") }
            out += names.map { "\(p)/\($0)" }
        } else {
            out.append(p)
        }
    }
    return out
}

/// Reads the files in parallel; episodes keep the file order. Their actions are the efforts of the actuators
/// `actions` names (nil: each recording's planned actuators, or all of them); every file must give the same names.
func loadEpisodes(_ files: [String], actions: [String]?) throws -> (episodes: [Episode], metadata: [String: String], actions: [String]) {
    typealias Loaded = ([Episode], [String: String], [String])
    let results = Mutex<[Int: Result<Loaded, Error>]>([:])
    DispatchQueue.concurrentPerform(iterations: files.count) { i in
        let r = Result { () throws -> Loaded in
            let (meta, recorded) = try DatasetReader.episodes(path: files[i])
            guard let first = recorded.first else { return ([], meta, []) }
            let (channels, names) = try recordedActionChannels(
                actuators: meta["actuators"], planned: meta["planned_actuators"], chosen: actions, channelCount: first.channels,
                source: files[i])
            return (try recorded.map { try Episode($0, channels: channels) }, meta, names)
        }
        results.withLock { $0[i] = r }
    }
    var episodes: [Episode] = []
    var meta: [String: String] = [:]
    var names: [String]?
    let all = results.withLock { $0 }
    var worlds: [String] = []
    for i in files.indices {
        let (e, m, n) = try all[i]!.get()
        guard !e.isEmpty else { continue }
        if let names, names != n {
            throw ValidationError(
                "\(files[i]): its actions are [\(n.joined(separator: ", "))], the files before it [\(names.joined(separator: ", "))] "
                    + "(choose one set with --actions, or train on recordings of one board)")
        }
        names = n
        episodes += e
        if meta.isEmpty { meta = m }
        if let w = m["world"], !worlds.contains(w) { worlds.append(w) }
    }
    meta["world"] = worlds.joined(separator: " + ")
    guard let names, !episodes.isEmpty else { throw ValidationError("no episodes in \(files.joined(separator: ", "))") }
    return (episodes, meta, names)
}

/// `count` frames drawn (seeded) from the given episodes, as encoder inputs.
func sampleFrames(_ dataset: Dataset, episodes which: [Int], count: Int, seed: UInt64) -> [Tensor<Float>] {
    var rng = SeededGenerator(seed: seed)
    guard !which.isEmpty else { return [] }
    return (0..<count).map { _ in
        let e = dataset.episodes[which[Int(rng.next() % UInt64(which.count))]]
        let f = Int(rng.next() % UInt64(e.frameCount))
        let t = Tensor<Float>(shape: [1] + WorldModelArchitecture.frameShape)
        t.assignGray8(Array(e.frames[(f * e.frameBytes)..<((f + 1) * e.frameBytes)]))
        return t
    }
}

func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 60 ? "\(t / 60)m\(String(format: "%02d", t % 60))s" : String(format: "%.1fs", s)
}

/// The training progress line: a bar, steps/s, ETA and the latest losses; redrawn in place on a
/// terminal, printed every 5 % otherwise.
final class ProgressLine {
    let total: Int
    let startStep: Int
    let started = Date()
    var lastPrinted = -1
    var open = false

    init(total: Int, start: Int) { self.total = total; self.startStep = start }

    func update(step: Int, losses l: StepLosses) {
        let interactive = !eraseLine.isEmpty
        let pct = total > 0 ? step * 100 / total : 100
        if interactive ? (step % 5 != 0 && step != total) : (pct / 5 == lastPrinted) { return }
        lastPrinted = pct / 5
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(step - startStep) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 24, filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line =
            "step \(step)/\(total) [\(bar)] \(pct)% \(String(format: "%.1f", rate)) steps/s ETA \(formatDuration(eta)) | "
            + "loss \(String(format: "%.4f", l.total)) pred \(String(format: "%.4f", l.prediction)) var "
            + "\(String(format: "%.4f", l.variance)) "
            + "cov \(String(format: "%.4f", l.covariance)) smooth \(String(format: "%.4f", l.smoothness)) idm "
            + "\(String(format: "%.4f", l.inverseDynamics)) "
            + "|g| \(String(format: "%.2f", l.gradientNorm)) lr \(String(format: "%.2e", l.learningRate))"
        if interactive { print(eraseLine + line, terminator: ""); open = true } else { print(line) }
    }

    func finishLine() {
        if open { print(""); open = false }
    }
}

/// Loss and validation logs as CSV, and the loss curves as a PNG.
final class LossLog {
    let stem: String
    private var steps: [(Int, StepLosses)] = []
    private var validations: [ValidationReport] = []
    private let lossFile: FileHandle
    private let validationFile: FileHandle

    init(stem: String, append: Bool) throws {
        self.stem = stem
        func open(_ path: String, header: String) throws -> FileHandle {
            if !append || !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: Data((header + "\n").utf8)) else {
                    throw ValidationError("\(path): cannot create")
                }
            }
            guard let h = FileHandle(forWritingAtPath: path) else { throw ValidationError("\(path): cannot open") }
            try h.seekToEnd()
            return h
        }
        lossFile = try open(
            stem + ".loss.csv", header: "step,total,prediction,variance,covariance,smoothness,inverse_dynamics,gradient_norm,learning_rate")
        validationFile = try open(
            stem + ".validation.csv",
            header:
                "step,windows,prediction_error_k1,prediction_error_kmid,prediction_error_kH,relative_error_kH,inverse_dynamics_error,"
                + "min_std,mean_std,effective_rank,one_step_p50,one_step_p99,collapsed"
        )
    }

    /// Every 10th step goes to the CSV and the plot (and every step of a short run).
    func record(step: Int, _ l: StepLosses) {
        guard step % 10 == 0 || step < 10 else { return }
        steps.append((step, l))
        let row = [
            Double(step), l.total, l.prediction, l.variance, l.covariance, l.smoothness, l.inverseDynamics,
            l.gradientNorm, l.learningRate,
        ]
        .map { String(format: "%.6g", $0) }.joined(separator: ",")
        lossFile.write(Data((row + "\n").utf8))
    }

    func record(validation v: ValidationReport) {
        validations.append(v)
        let pe = v.predictionError
        let values: [Double] = [
            Double(v.step), Double(v.windows), pe.first ?? 0, pe[max(0, pe.count / 2 - 1)], pe.last ?? 0,
            v.relativePredictionError.last ?? 0, v.inverseDynamicsError, v.spread.minStd, v.spread.meanStd,
            v.spread.effectiveRank, v.oneStepErrorP50, v.oneStepErrorP99, v.spread.collapsed ? 1 : 0,
        ]
        let row = values.map { String(format: "%.6g", $0) }.joined(separator: ",")
        validationFile.write(Data((row + "\n").utf8))
    }

    func finish() throws {
        try lossFile.close()
        try validationFile.close()
        var chart = LineChart(title: "JEPA training losses (unweighted terms, log scale)", xLabel: "step", yLabel: "loss", logY: true)
        func series(_ f: (StepLosses) -> Double) -> [(Double, Double)] { steps.map { (Double($0.0), max(f($0.1), 1e-6)) } }
        chart.add(name: "total", points: series { $0.total })
        chart.add(name: "prediction", points: series { $0.prediction })
        chart.add(name: "variance", points: series { $0.variance })
        chart.add(name: "covariance", points: series { $0.covariance })
        chart.add(name: "smoothness", points: series { $0.smoothness })
        chart.add(name: "inverse dyn.", points: series { $0.inverseDynamics })
        chart.add(
            name: "val. pred. k=H", points: validations.map { (Double($0.step), max($0.predictionError.last ?? 1e-6, 1e-6)) }, markers: true
        )
        try chart.render(width: 900, height: 540).writePNG(path: stem + ".loss.png")
    }
}
