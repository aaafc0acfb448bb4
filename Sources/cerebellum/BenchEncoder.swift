import ArgumentParser
import Foundation
import NeuralEngine
import RobotCore
import Simulation
import WorldModel

struct BenchEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Encoder latency per layer, fp32 (OpenBLAS) against int8, on one core.",
        discussion: """
            Builds the world model's encoder (seeded weights), calibrates its int8 form on rendered two-rooms
            frames and checks it on other, held-out frames (cosine to fp32). Then times, single-threaded, the
            whole encoder and each layer: fp32 with im2col + SGEMM, and int8 with every kernel this CPU runs.
            Each figure is the median of --rounds rounds of about --round-ms each, after a warm-up. Also times the
            bare GEMMs at the encoder's layer shapes and reports them as a fraction of this core's peak, measured by
            a register-only loop of the same instruction (VPDPBUSD, SDOT or VPMADDWD for int8; FMA for fp32).
            """)

    @Option(help: "Timed rounds per figure (the median is reported).")
    var rounds = 7

    @Option(name: .customLong("round-ms"), help: "Approximate length of one round, ms.")
    var roundMilliseconds = 60.0

    @Option(help: "Frames for calibration and for the held-out check, each.")
    var frames = 64

    @Option(help: "OpenBLAS threads (1 is what the control loop uses).")
    var threads = 1

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    func run() throws {
        BLAS.setThreads(threads)
        let layers = WorldModelArchitecture.encoder(TrainingConfig().encoder)
        let shape = WorldModelArchitecture.frameShape
        let params = Parameters.initialized(for: layers, seed: 7)
        let calibration = TwoRoomsWorld.sampleFrames(count: frames, seed: 1001).map { Tensor<Float>(gray8: $0) }
        let heldOut = TwoRoomsWorld.sampleFrames(count: frames, seed: 2002).map { Tensor<Float>(gray8: $0) }

        let reference = try Network(layers: layers, parameters: params, inputShape: shape)
        let quantized = try QuantizedParameters.quantize(
            layers: layers, parameters: params, scales: QuantizedParameters.calibrate(network: reference, samples: calibration))
        let best = try QuantizedNetwork(layers: layers, parameters: quantized, inputShape: shape)
        var cosines: [Double] = []
        for x in heldOut {
            cosines.append(cosineSimilarity(best.forward(x).scalars, reference.forward(x).scalars))
        }
        cosines.sort()

        print("encoder: \(layers.map(\.name).joined(separator: " → "))")
        print(
            String(
                format: "  %.2f M multiply-accumulates per frame; OpenBLAS %@; %d thread(s)",
                Double(reference.multiplyAccumulates) / 1e6, BLAS.description, threads))
        if let fallback = BLAS.fallback { print("  WARNING: \(fallback): the fp32 figures below are the library's generic kernels") }
        let memoryRatio = Double(best.parameterBytes) / Double(reference.parameterBytes)
        print(
            String(
                format: "  parameters: fp32 %d bytes, int8 %d bytes (%.1f %% of fp32)",
                reference.parameterBytes, best.parameterBytes, 100 * memoryRatio))
        print(
            String(
                format: "  int8 vs fp32 on %d held-out frames: cosine min %.5f, median %.5f",
                heldOut.count, cosines.first ?? .nan, quantile(sorted: cosines, 0.5)))

        let input = heldOut[0]
        var variants: [EncoderVariant] = []
        do {
            let net = try Network(layers: layers, parameters: params, inputShape: shape)
            net.input.assign(from: input)
            variants.append(
                measure(
                    name: "fp32 im2col", precision: "fp32", count: net.layerCount,
                    macs: net.multiplyAccumulates, layerName: net.layerName, layerMACs: net.layerMultiplyAccumulates,
                    runLayer: net.runLayer, forward: { net.forward() }))
        }
        for kernel in Int8Kernel.available {
            let net = try QuantizedNetwork(layers: layers, parameters: quantized, inputShape: shape, kernel: kernel)
            net.input.assign(from: input)
            let macs = (0..<net.layerCount).reduce(0) { $0 + net.layerMultiplyAccumulates($1) }
            variants.append(
                measure(
                    name: "int8 \(kernel.rawValue)", precision: "int8", count: net.layerCount, macs: macs,
                    layerName: net.layerName, layerMACs: net.layerMultiplyAccumulates,
                    runLayer: net.runLayer, forward: { net.forward() }))
        }

        print("\nwhole encoder, one frame (median of \(rounds) rounds):")
        print("  variant                total µs    min µs   G(FL)OP/s")
        for v in variants {
            print(
                "  " + padded(v.name, 20)
                    + String(format: " %9.1f %9.1f %11.2f", v.totalMicroseconds, v.minMicroseconds, v.gigaOpsPerSecond))
        }
        let fp32Best = variants.filter { $0.precision == "fp32" }.min { $0.totalMicroseconds < $1.totalMicroseconds }!
        let int8Best = variants.filter { $0.precision == "int8" }.min { $0.totalMicroseconds < $1.totalMicroseconds }!
        let speedup = fp32Best.totalMicroseconds / int8Best.totalMicroseconds
        print(
            String(
                format: "  int8 speed-up: %.2f× (%@ %.1f µs vs %@ %.1f µs)", speedup, int8Best.name,
                int8Best.totalMicroseconds, fp32Best.name, fp32Best.totalMicroseconds))

        print("\nper layer (median of \(rounds) rounds; int8 fuses each ReLU into its product):")
        for v in [variants.first { $0.name == "fp32 im2col" }!, int8Best] {
            print("  \(v.name):")
            for layer in v.layers {
                let rate =
                    layer.multiplyAccumulates > 0
                    ? String(format: "%8.2f G(FL)OP/s", 2 * Double(layer.multiplyAccumulates) / layer.microseconds / 1e3) : ""
                print("    " + padded(layer.name, 24) + String(format: " %9.2f µs ", layer.microseconds) + rate)
            }
        }

        let peakInt8 = int8Best.name.hasPrefix("int8 portable") ? nil : Int8Kernel.best.measuredPeak(seconds: 0.3)
        let peakFloat = measuredPeakFloat32(seconds: 0.3)
        print("\nbare GEMMs at the encoder's shapes (M pixels × N channels × K inputs), one core:")
        if let peakInt8 { print(String(format: "  int8 peak (%@): %.1f GOP/s", Int8Kernel.best.rawValue, peakInt8 / 1e9)) }
        if let peakFloat { print(String(format: "  fp32 FMA peak: %.1f GFLOP/s", peakFloat / 1e9)) }
        print("  shape (M×N×K)        int8 GOP/s  of peak   fp32 GFLOP/s  of peak")
        var gemms: [GemmFigure] = []
        for (m, n, k) in matrixShapes(layers, input: shape) {
            let ops = 2.0 * Double(m * n * k)
            let int8Seconds = timePerCall { GemmTiming.int8(m: m, n: n, k: k, kernel: Int8Kernel.best, iterations: $0) }
            let fp32Seconds = timePerCall { GemmTiming.float32(m: m, n: n, k: k, iterations: $0) }
            let g = GemmFigure(
                m: m, n: n, k: k, int8GigaOps: ops / int8Seconds / 1e9, fp32GigaFlops: ops / fp32Seconds / 1e9,
                int8FractionOfPeak: peakInt8.map { ops / int8Seconds / $0 },
                fp32FractionOfPeak: peakFloat.map { ops / fp32Seconds / $0 })
            gemms.append(g)
            print(
                "  " + padded("\(m)×\(n)×\(k)", 20)
                    + String(
                        format: " %10.1f %8.1f%% %14.1f %8.1f%%", g.int8GigaOps,
                        100 * (g.int8FractionOfPeak ?? .nan), g.fp32GigaFlops, 100 * (g.fp32FractionOfPeak ?? .nan)))
        }

        if let json {
            let doc = BenchEncoderReport(
                benchmark: "encoder", architecture: LayerSpec.json(layers), multiplyAccumulates: reference.multiplyAccumulates,
                blas: BLAS.description, threads: threads, rounds: rounds, variants: variants,
                int8Speedup: speedup, fp32Best: fp32Best.name, int8Best: int8Best.name,
                fp32ParameterBytes: reference.parameterBytes, int8ParameterBytes: best.parameterBytes, memoryRatio: memoryRatio,
                heldOutFrames: heldOut.count, cosineMin: cosines.first ?? .nan, cosineMedian: quantile(sorted: cosines, 0.5),
                int8PeakGigaOps: peakInt8.map { $0 / 1e9 }, fp32PeakGigaFlops: peakFloat.map { $0 / 1e9 }, gemms: gemms)
            try jsonString(doc).write(toFile: json, atomically: true, encoding: .utf8)
            print("\nJSON written to \(json)")
        }
    }

    /// Whole-network and per-layer medians for one compiled variant.
    private func measure(
        name: String, precision: String, count: Int, macs: Int, layerName: (Int) -> String,
        layerMACs: (Int) -> Int, runLayer: (Int) -> Void, forward: () -> Void
    ) -> EncoderVariant {
        for _ in 0..<50 { forward() }
        let total = medianAndMin { n in for _ in 0..<n { forward() } }
        var perLayer: [LayerFigure] = []
        for i in 0..<count {
            let t = medianAndMin { n in for _ in 0..<n { runLayer(i) } }
            perLayer.append(LayerFigure(index: i, name: layerName(i), microseconds: t.median * 1e6, multiplyAccumulates: layerMACs(i)))
        }
        return EncoderVariant(
            name: name, precision: precision, totalMicroseconds: total.median * 1e6, minMicroseconds: total.min * 1e6,
            gigaOpsPerSecond: 2 * Double(macs) / total.median / 1e9, layers: perLayer)
    }

    private func medianAndMin(_ body: (Int) -> Void) -> (median: Double, min: Double) {
        BenchTimer(rounds: rounds, roundMilliseconds: roundMilliseconds).medianAndMin(body)
    }

    /// Median seconds per call of a timing function that runs `iterations` calls.
    private func timePerCall(_ timed: (Int) -> Double) -> Double {
        var n = 1
        while timed(n) < 0.005 && n < 1 << 24 { n *= 4 }
        let iterations = max(1, Int(Double(n) * roundMilliseconds * 1e-3 / max(timed(n), 1e-9)))
        var times = (0..<rounds).map { _ in timed(iterations) / Double(iterations) }
        times.sort()
        return quantile(sorted: times, 0.5)
    }

    /// (M, N, K) of each matrix product for one frame.
    private func matrixShapes(_ layers: [LayerSpec], input: [Int]) -> [(Int, Int, Int)] {
        var shape = input
        var out: [(Int, Int, Int)] = []
        for (i, layer) in layers.enumerated() {
            let next = (try? layer.outputShape(for: shape, at: String(i))) ?? shape
            switch layer {
            case let .conv2d(c, o, k, _, _): out.append((next[0] * next[1], o, k * k * c))
            case let .linear(inF, o): out.append((1, o, inF))
            default: break
            }
            shape = next
        }
        return out
    }
}

/// `s` left-aligned in `width` columns (String(format:) cannot pad Swift strings on Linux).
func padded(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

struct LayerFigure: Codable {
    var index: Int
    var name: String
    var microseconds: Double
    var multiplyAccumulates: Int
}

struct EncoderVariant: Codable {
    var name: String
    var precision: String
    var totalMicroseconds: Double
    var minMicroseconds: Double
    var gigaOpsPerSecond: Double
    var layers: [LayerFigure]
}

struct GemmFigure: Codable {
    var m, n, k: Int
    var int8GigaOps: Double
    var fp32GigaFlops: Double
    var int8FractionOfPeak: Double?
    var fp32FractionOfPeak: Double?
}

struct BenchEncoderReport: Codable {
    var benchmark: String
    var architecture: String
    var multiplyAccumulates: Int
    var blas: String
    var threads: Int
    var rounds: Int
    var variants: [EncoderVariant]
    var int8Speedup: Double
    var fp32Best: String
    var int8Best: String
    var fp32ParameterBytes: Int
    var int8ParameterBytes: Int
    var memoryRatio: Double
    var heldOutFrames: Int
    var cosineMin: Double
    var cosineMedian: Double
    var int8PeakGigaOps: Double?
    var fp32PeakGigaFlops: Double?
    var gemms: [GemmFigure]
}
