import ArgumentParser
import Configuration
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import WorldModel

struct BenchPlanner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planner",
        abstract: "The planner's predictor passes and MPPI iterations per dense kernel, against this core's peak.",
        discussion: """
            Times, single-threaded, the world model's predictor (the planner's rollout network) on every dense kernel
            this CPU runs, fp32 and int8, and on OpenBLAS (the Network path, for comparison), at the batch sizes the
            planner uses: one predictor pass per row count, and one whole MPPI iteration (samples × horizon passes with
            the residual update and the cost, as a tick runs it). Reports time, GFLOP/s (GOP/s for int8) and the
            fraction of this core's peak for the same arithmetic (fp32 FMA, or the 8-bit dot product), measured by a
            register-only loop. --peer onnxruntime runs the same weights on ONNX
            Runtime (one thread, scripts/onnx-peer.py) in the same run, side by side.
            """)

    @Option(help: "World model whose predictor is timed.")
    var model = "models/two-rooms.safetensors"

    @Option(help: "Board profile (its planner settings give samples and horizon).")
    var board = "boards/sim-two-rooms.yaml"

    @Option(parsing: .upToNextOption, help: "Rows per predictor pass to time.")
    var rows: [Int] = [4, 8, 16, 32, 64]

    @Option(help: "Timed rounds per figure (the median is reported).")
    var rounds = 7

    @Option(name: .customLong("round-ms"), help: "Approximate length of one round, ms.")
    var roundMilliseconds = 60.0

    @Option(help: "Also time this peer on the same weights and shapes: onnxruntime.")
    var peer: String?

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    func run() throws {
        lineBufferedStandardOutput()
        guard rows.allSatisfy({ (1...4096).contains($0) }) else { throw ValidationError("--rows must each be in 1…4096") }
        if let peer, peer != "onnxruntime" { throw ValidationError("--peer must be onnxruntime") }
        let wm: WorldModelFile
        do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
        var config = loadBoardOrExit(board).profile.planner ?? PlannerConfig()
        config.iterations = 1
        let timer = BenchTimer(rounds: rounds, roundMilliseconds: roundMilliseconds)
        // Each kernel against this core's peak for its own arithmetic: fp32 FMA, or its 8-bit dot product.
        var peaks: [DenseKernel: Double] = [:]
        for kernel in DenseKernel.available { peaks[kernel] = kernel.measuredPeak(seconds: 0.3).map { $0 / 1e9 } }
        let peak = peaks[.portable]
        let int8Peak = DenseKernel.available.last { $0.precision == .int8 }.flatMap { peaks[$0] }
        let net = try wm.makePredictor()
        let flopsPerRow = try DenseStack(net, capacity: 1).flopsPerRow
        print("predictor: \(wm.predictorLayers.map(\.name).joined(separator: " → ")), \(flopsPerRow) operations per row")
        print("fp32 FMA peak of this core: " + (peak.map { String(format: "%.1f GFLOP/s", $0) } ?? "no probe for this CPU"))
        if let int8Peak { print(String(format: "int8 dot-product peak of this core: %.1f GOP/s", int8Peak)) }
        print("OpenBLAS: \(BLAS.description)" + (BLAS.fallback.map { "; WARNING: \($0)" } ?? ""))
        print("planner: \(config.samples) samples × \(config.horizon) steps per iteration")

        var passes: [PassFigure] = []
        let variants = DenseKernel.available.map(\.rawValue) + ["openblas"]
        for variant in variants {
            for r in rows {
                let seconds: Double
                if let kernel = DenseKernel(rawValue: variant) {
                    let stack = try DenseStack(net, capacity: r, kernel: kernel)
                    for i in 0..<stack.input.count { stack.input[i] = Float(i % 17) * 0.05 - 0.4 }
                    seconds = timer.medianAndMin { n in for _ in 0..<n { stack.forward(rows: r) } }.median
                } else {
                    let batched = try Network(layers: wm.predictorLayers, parameters: wm.predictor, inputShape: net.inputShape, batch: r)
                    batched.input.fill(0.1)
                    seconds = timer.medianAndMin { n in for _ in 0..<n { _ = batched.forward() } }.median
                }
                passes.append(
                    PassFigure(
                        kernel: variant, rows: r, microseconds: seconds * 1e6,
                        gflops: Double(flopsPerRow * r) / seconds / 1e9,
                        peakFraction: peaks[DenseKernel(rawValue: variant) ?? .portable].map {
                            Double(flopsPerRow * r) / seconds / 1e9 / $0
                        }))
            }
        }
        var iterations: [IterationFigure] = []
        for kernel in DenseKernel.available {
            let planner = try LatentPlanner(model: wm, config: config, kernel: kernel)
            let z = [Float](repeating: 0, count: wm.latentSize), g = [Float](repeating: 0.5, count: wm.latentSize)
            let seconds = z.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer { gb in
                    timer.medianAndMin { n in for _ in 0..<n { planner.plan(from: zb, goal: gb) } }.median
                }
            }
            let flops = Double(flopsPerRow * config.samples * config.horizon)
            iterations.append(
                IterationFigure(
                    kernel: kernel.rawValue, samples: config.samples, horizon: config.horizon,
                    milliseconds: seconds * 1e3, gflops: flops / seconds / 1e9,
                    peakFraction: peaks[kernel].map { flops / seconds / 1e9 / $0 }))
        }
        var peerReport: PeerReport?
        if peer != nil { peerReport = runPeer(batches: rows, horizon: config.horizon) }

        print("\npredictor pass (one batched forward through every layer)")
        print("(GFLOP/s for fp32, GOP/s for int8, each against this core's peak for the same arithmetic)")
        print("  kernel             rows   time µs    GFLOP/s   of peak" + (peerReport != nil ? "   onnxruntime µs  GFLOP/s" : ""))
        for p in passes {
            var line =
                "  \(padded(p.kernel, 17)) "
                + "\(String(format: "%5d %9.2f %10.1f %8@", p.rows, p.microseconds, p.gflops, percent(p.peakFraction)))"
            if p.kernel == DenseKernel.best.rawValue, let shape = peerReport?.shapes.first(where: { $0.rows == p.rows }) {
                line += String(format: "   %14.2f %8.1f", shape.pass_us, shape.pass_gflops)
            }
            print(line)
        }
        print("\nMPPI iteration (\(config.samples) samples × \(config.horizon) steps, with residual updates and costs)")
        print("  kernel              time ms    GFLOP/s   of peak")
        for i in iterations {
            print("  \(padded(i.kernel, 17)) \(String(format: "%9.3f %10.1f %8@", i.milliseconds, i.gflops, percent(i.peakFraction)))")
        }
        if let shape = peerReport?.shapes.first(where: { $0.rows == config.samples }) {
            print(
                "  " + padded("onnxruntime", 17)
                    + String(
                        format: " %9.3f %10.1f %8@   (one thread, passes called from Python)",
                        shape.iteration_ms, shape.iteration_gflops,
                        percent(peak.map { shape.iteration_gflops / $0 })))
            if let best = iterations.min(by: { $0.milliseconds < $1.milliseconds }) {
                print(
                    String(
                        format: "  ONNX Runtime takes %.1f× the time of the %@ kernel per iteration",
                        shape.iteration_ms / best.milliseconds, best.kernel))
            }
        } else if peer != nil {
            print("  onnxruntime: no figure (see the message above)")
        }
        if let json {
            let doc = BenchPlannerReport(
                benchmark: "planner", flopsPerRow: flopsPerRow, peakGflops: peak, peakGopsInt8: int8Peak, blas: BLAS.description,
                blasFallback: BLAS.fallback, passes: passes, iterations: iterations, peer: peerReport)
            try jsonString(doc).write(toFile: json, atomically: true, encoding: .utf8)
            print("\nreport: \(json)")
        }
    }

    private func percent(_ f: Double?) -> String { f.map { String(format: "%.0f %%", 100 * $0) } ?? "–" }

    /// Runs scripts/onnx-peer.py on the same model; nil (with the reason printed) when it cannot run.
    private func runPeer(batches: [Int], horizon: Int) -> PeerReport? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "python3", "scripts/onnx-peer.py", model, "--batches", batches.map(String.init).joined(separator: ","),
            "--horizon", String(horizon), "--rounds", String(rounds), "--round-ms", String(roundMilliseconds),
        ]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { warn("onnxruntime peer: cannot start python3: \(error)"); return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            warn("onnxruntime peer: scripts/onnx-peer.py exited with \(p.terminationStatus)"); return nil
        }
        do { return try JSONDecoder().decode(PeerReport.self, from: data) } catch {
            warn("onnxruntime peer: unreadable output: \(error)")
            return nil
        }
    }
}

struct PassFigure: Codable {
    var kernel: String
    var rows: Int
    var microseconds: Double
    var gflops: Double
    var peakFraction: Double?
}

struct IterationFigure: Codable {
    var kernel: String
    var samples: Int
    var horizon: Int
    var milliseconds: Double
    var gflops: Double
    var peakFraction: Double?
}

/// What scripts/onnx-peer.py prints (its own field names).
struct PeerReport: Codable {
    struct Shape: Codable {
        var rows: Int
        var pass_us: Double
        var pass_gflops: Double
        var iteration_ms: Double
        var iteration_gflops: Double
    }
    var peer: String
    var version: String
    var threads: Int
    var shapes: [Shape]
}

struct BenchPlannerReport: Codable {
    var benchmark: String
    var flopsPerRow: Int
    var peakGflops: Double?
    var peakGopsInt8: Double?
    var blas: String
    var blasFallback: String?
    var passes: [PassFigure]
    var iterations: [IterationFigure]
    var peer: PeerReport?
}
