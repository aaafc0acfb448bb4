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
        subcommands: [Build.self, Info.self])

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

        func run() throws {
            let wm: WorldModelFile
            do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
            let (m, meta) = try PlaceMemory.load(path: memory, model: wm)
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
