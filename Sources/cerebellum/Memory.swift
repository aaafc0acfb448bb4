import ArgumentParser
import Configuration
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import WorldModel

struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The planner's place memory: a topological map of latents from recorded drives.",
        subcommands: [Build.self, Info.self, Check.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode recorded drives into a place memory (planner.memory).",
            discussion: """
                Every --spacing frames of each recorded episode becomes a node: the frame's latent through the model's
                int8 encoder (as the robot encodes its camera), joined to the next node of the drive with the efforts
                applied in between. At load, nodes of different drives closer than planner.memory_place_factor × the
                median step between nodes become the same place. A recording of a drive through every room (the
                console's `record start`, or `record --driver route` on a simulated house) makes a memory.
                """)

        @Argument(help: "Recordings: MCAP files or directories of them.")
        var recordings: [String]
        @Option(help: "World model (its encoder and actions).")
        var model: String
        @Option(help: "World steps between nodes.")
        var spacing = 4
        @Option(help: "The memory file to write (safetensors).")
        var out: String

        func run() throws {
            lineBufferedStandardOutput()
            guard (1...64).contains(spacing) else { throw ValidationError("--spacing must be in 1…64") }
            let wm: WorldModelFile
            do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
            let files = try mcapFiles(recordings)
            let (episodes, meta, names) = try loadEpisodes(files, actions: wm.actions.map(\.name))
            let encoder = try wm.makeQuantizedEncoder()
            let started = Date()
            let memory = try PlaceMemory.build(episodes: episodes, spacing: spacing, latentSize: wm.latentSize) { pixels in
                encoder.input.assignGray8(pixels)
                return encoder.forward().scalars
            }
            var metadata = ["board": meta["board"] ?? "", "world": meta["world"] ?? "", "actions": names.joined(separator: ",")]
            metadata["recordings"] = files.map { ($0 as NSString).lastPathComponent }.joined(separator: ",")
            if let crc = fileCRC32(model) { metadata["model_crc32"] = crc }
            try memory.file(metadata: metadata).write(path: out)
            print(
                "wrote \(out): \(memory.nodeCount) nodes from \(episodes.count) episodes, \(memory.edgeCount) edges "
                    + String(
                        format: "(median step %.3f, place radius %.3f), %.1f s", memory.stepScale, memory.placeRadius,
                        Date().timeIntervalSince(started)))
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Nodes, edges and the model a place memory was made with.")
        @Argument(help: "The memory file.")
        var memory: String
        @Option(help: "World model it is checked against.")
        var model: String
        @Option(help: "Place radius in median node steps (the board's planner.memory_place_factor).")
        var placeFactor = 0.5

        func run() throws {
            let wm: WorldModelFile
            do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
            let (m, meta) = try PlaceMemory.load(path: memory, model: wm, placeFactor: Float(placeFactor))
            print("\(memory): \(m.nodeCount) nodes, \(m.edgeCount) edges, spacing \(m.spacing) steps")
            print(String(format: "  median step %.3f, place radius %.3f", m.stepScale, m.placeRadius))
            for k in meta.keys.sorted() { print("  \(k): \(meta[k]!)") }
            // How connected the map is: for 20 goal nodes spread over it, the share of nodes with a route there.
            var shares: [Double] = []
            for g in stride(from: 0, to: m.nodeCount, by: max(1, m.nodeCount / 20)) {
                let routed = m.withLatent(of: g) { m.setGoal($0) }
                shares.append(Double(routed) / Double(m.nodeCount))
            }
            shares.sort()
            if let p = m.positions {
                // Place edges against the truth: how far apart the two nodes' frames were really taken.
                var gaps: [Double] = []
                for k in 0..<m.nodeCount {
                    for (j, _) in m.edges(of: k) where m.successor[k] != Int32(j) {
                        let dx = Double(p[2 * k] - p[2 * j]), dy = Double(p[2 * k + 1] - p[2 * j + 1])
                        gaps.append((dx * dx + dy * dy).squareRoot())
                    }
                }
                gaps.sort()
                if !gaps.isEmpty {
                    print(
                        String(
                            format: "  place edges: %d; the two frames were taken %.2f m apart (median), p90 %.2f m, %.1f %% over 1 m",
                            gaps.count, quantile(sorted: gaps, 0.5), quantile(sorted: gaps, 0.9),
                            100 * Double(gaps.filter { $0 > 1 }.count) / Double(gaps.count)))
                }
            }
            print(
                String(
                    format: "  nodes with a route to a node: median %.1f %%, least %.1f %% (%d goal nodes)", 100 * shares[shares.count / 2],
                    100 * shares[0], shares.count))
            if let crc = fileCRC32(model), let made = meta["model_crc32"], made != crc {
                print("  warning: made with a model of CRC-32 \(made); \(model) is \(crc)")
            }
        }
    }
}

extension Memory {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How well frames of held-out drives localize in a place memory (drives with the simulator's truth).",
            discussion: """
                Every 4th frame of each held-out episode is localized among the memory's nodes: by its latent alone, by the
                latent history of the last 3 node spacings (as the planner does), and, for comparison, by its pixels
                (16 × 16 means, normalized). The error is how far the frame's true position is from where the chosen
                node's frame was taken; the memory must have been built from drives with truth.
                """)
        @Argument(help: "The memory file.")
        var memory: String
        @Option(help: "World model it was made with.")
        var model: String
        @Option(parsing: .upToNextOption, help: "Held-out recordings (MCAP files or directories) with truth.")
        var data: [String]

        func run() throws {
            let wm = try WorldModelFile.load(path: model)
            let (m, _) = try PlaceMemory.load(path: memory, model: wm)
            guard let truth = m.positions else {
                throw ValidationError("\(memory) has no node positions (built from drives without truth)")
            }
            let (episodes, _, _) = try loadEpisodes(try mcapFiles(data), actions: wm.actions.map(\.name))
            let encoder = try wm.makeQuantizedEncoder()
            func encode(_ pixels: [UInt8]) -> [Float] {
                encoder.input.assignGray8(pixels)
                return encoder.forward().scalars
            }
            func thumbnail(_ pixels: [UInt8], _ w: Int, _ h: Int) -> [Float] {
                var t = [Float](repeating: 0, count: 256)
                for y in 0..<h { for x in 0..<w { t[(y * 16 / h) * 16 + x * 16 / w] += Float(pixels[y * w + x]) } }
                let mean = t.reduce(0, +) / 256
                var norm: Float = 0
                for i in t.indices { t[i] -= mean; norm += t[i] * t[i] }
                let s = 1 / max(norm.squareRoot(), 1e-6)
                return t.map { $0 * s }
            }
            // The nodes' thumbnails come from the memory's own drives: re-encode them from the data is not possible,
            // so the pixel comparison localizes held-out frames among the held-out episodes' other half.
            var latentErrors: [Double] = [], sequenceErrors: [Double] = []
            let d = m.latentSize
            for e in episodes {
                guard let p = e.positions else { continue }
                var history: [[Float]] = []
                for t in 0..<e.frameCount {
                    let z = encode(Array(e.frames[(t * e.frameBytes)..<((t + 1) * e.frameBytes)]))
                    history.insert(z, at: 0)
                    if history.count > 2 * m.spacing + 1 { history.removeLast() }
                    guard t % 4 == 0 else { continue }
                    func error(_ k: Int) -> Double {
                        let dx = Double(p[2 * t] - truth[2 * k]), dy = Double(p[2 * t + 1] - truth[2 * k + 1])
                        return (dx * dx + dy * dy).squareRoot()
                    }
                    latentErrors.append(error(z.withUnsafeBufferPointer { m.localize($0).node }))
                    let depth = min(3, 1 + (history.count - 1) / m.spacing)
                    var seq = [Float](repeating: 0, count: depth * d)
                    for h in 0..<depth { for j in 0..<d { seq[h * d + j] = history[h * m.spacing][j] } }
                    sequenceErrors.append(error(seq.withUnsafeBufferPointer { m.localize(sequence: $0, count: depth).node }))
                }
            }
            var thumbErrors: [Double] = []
            let half = episodes.count / 2
            var bank: [([Float], Float, Float)] = []
            for e in episodes.prefix(half) {
                guard let p = e.positions else { continue }
                for t in stride(from: 0, to: e.frameCount, by: 4) {
                    bank.append(
                        (
                            thumbnail(Array(e.frames[(t * e.frameBytes)..<((t + 1) * e.frameBytes)]), e.width, e.height), p[2 * t],
                            p[2 * t + 1]
                        ))
                }
            }
            for e in episodes.dropFirst(half) {
                guard let p = e.positions, !bank.isEmpty else { continue }
                for t in stride(from: 0, to: e.frameCount, by: 4) {
                    let q = thumbnail(Array(e.frames[(t * e.frameBytes)..<((t + 1) * e.frameBytes)]), e.width, e.height)
                    var best = Float.infinity, at = (Float(0), Float(0))
                    for b in bank {
                        var s: Float = 0
                        for i in 0..<256 { let v = q[i] - b.0[i]; s += v * v }
                        if s < best { (best, at) = (s, (b.1, b.2)) }
                    }
                    let dx = Double(p[2 * t] - at.0), dy = Double(p[2 * t + 1] - at.1)
                    thumbErrors.append((dx * dx + dy * dy).squareRoot())
                }
            }
            for (name, errors) in [
                ("latent", latentErrors), ("latent history", sequenceErrors), ("pixels, half against half", thumbErrors),
            ] {
                let e = errors.sorted()
                guard !e.isEmpty else { continue }
                print(
                    String(
                        format: "%@: %d frames, error median %.2f m, p90 %.2f m, %.1f %% over 1 m", name, e.count, quantile(sorted: e, 0.5),
                        quantile(sorted: e, 0.9), 100 * Double(e.filter { $0 > 1 }.count) / Double(e.count)))
            }
        }
    }
}
