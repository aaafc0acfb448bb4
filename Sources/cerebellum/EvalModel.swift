import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import LinuxHardware
import Recording
import Simulation
import WorldModel

struct EvalModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-model",
        abstract: "Evaluate a world model on held-out episodes: k-step latent prediction error and a linear probe of position.",
        discussion: """
            Held-out data: --data recordings (any: a drive on a real robot too), or fresh exploration episodes recorded in
            memory on the simulated board with a seed the training data did not use. Every frame is encoded with the fp32
            and the int8 encoder. The predictor is rolled out with the recorded actions from every 4th frame for --horizon
            steps. Where the episodes have the simulator's truth (/cerebellum/truth), a linear probe (ridge regression from
            the latent to the agent's true x, y) is fitted on half of them and its R² reported on the other half
            (R² ≥ 0.95 shows the latent keeps the position), and the wall-knowledge probes run in the simulator.
            """)

    @Argument(help: "The world model (safetensors).")
    var model = "models/two-rooms.safetensors"

    @Option(parsing: .upToNextOption, help: "Held-out MCAP recordings or directories (default: record fresh episodes).")
    var data: [String] = []

    @Option(help: "Board profile for fresh episodes.")
    var board = "boards/sim-two-rooms.yaml"

    @Option(help: "World for fresh episodes: two-rooms or two-rooms-random (default: both, half each).")
    var world: String?

    @Option(help: "Fresh episodes to record.")
    var episodes = 80

    @Option(help: "Steps per fresh episode.")
    var steps = 100

    @Option(help: "Seed for fresh episodes (keep it apart from the training data's).")
    var seed: UInt64 = 900_001

    @Option(help: "Rollout horizon for the prediction error.")
    var horizon = 16

    @Option(help: "Exit with status 1 if the probe's R² (fp32, both coordinates) is below this.")
    var requireR2: Double?

    @Option(help: "Write the report as JSON to this file.")
    var json: String?

    func run() throws {
        lineBufferedStandardOutput()
        let m: WorldModelFile
        do { m = try WorldModelFile.load(path: model) } catch {
            warn("error: \(error)")
            throw ExitCode(2)
        }
        var eps: [Episode] = []
        var origin: String
        if !data.isEmpty {
            let files = try mcapFiles(data)
            eps = try loadEpisodes(files, actions: m.actions.map(\.name)).episodes
            origin = "\(files.count) recording(s)"
        } else {
            let loaded = loadBoardOrExit(board)
            if let world = loaded.profile.simulation?.world, world.twoRoomsVariant == nil {
                // The rooms worlds: drives through the house by the route driver (the wall probes are two-rooms');
                // a Gymnasium world: fresh random exploration through the bridge.
                let route = world.isRooms
                let run = try ExplorationRun(board: loaded, seed: seed, stepsPerEpisode: steps, route: route, routeNoise: 0.3)
                let channels = try loaded.profile.channels(for: m)
                try run.run(episodes: episodes) { eps.append(try Episode($0, channels: channels)) }
                origin = "\(eps.count) fresh \(route ? "route-driver" : "exploration") episodes (\(world.rawValue), seed \(seed))"
                return try report(m, eps, origin: origin, rooms: true, unit: route ? "m" : "units")
            }
            let worlds: [TwoRoomsVariant]
            if let world {
                worlds = [try worldVariant(world)]
            } else {
                worlds = [.fixed, .random]
            }
            for (i, w) in worlds.enumerated() {
                let b = try simulatedBoard(loaded, world: w)
                let run = try ExplorationRun(board: b, seed: seed &+ UInt64(i), stepsPerEpisode: steps)
                let channels = try b.profile.channels(for: m)
                try run.run(episodes: episodes / worlds.count) { eps.append(try Episode($0, channels: channels)) }
            }
            origin = "\(eps.count) fresh episodes (\(worlds.map(\.rawValue).joined(separator: " + ")), seed \(seed))"
        }
        try report(m, eps, origin: origin, rooms: false)
    }

    /// The report on held-out episodes; `rooms`: they come from the rooms world or a Gymnasium one (no wall
    /// probes); `unit`: their positions' unit.
    private func report(_ m: WorldModelFile, _ eps: [Episode], origin: String, rooms roomsWorld: Bool, unit: String = "px") throws {
        var eps = eps
        // Interleave so both halves of the probe see every world.
        eps = stride(from: 0, to: eps.count, by: 2).map { eps[$0] } + stride(from: 1, to: eps.count, by: 2).map { eps[$0] }
        let started = Date()
        let r = try ModelEvaluation.run(model: m, episodes: eps, horizon: horizon)
        print("model \(model): latent \(m.latentSize), held-out data: \(origin), \(r.frames) frames")
        let ks = [1, 2, 4, 8, 16].filter { $0 <= r.predictionError.count }
        print("k-step latent prediction error (mean squared, relative to latent variance), \(r.rollouts) rollouts:")
        print(
            "  "
                + ks.map {
                    "k=\($0): \(String(format: "%.4f", r.predictionError[$0 - 1])) "
                        + "(\(String(format: "%.3f", r.relativePredictionError[$0 - 1])))"
                }.joined(separator: "  "))
        print(
            "  the same through the planner's int8 predictor (relative): "
                + ks.map { "k=\($0): \(String(format: "%.3f", r.relativePredictionErrorInt8[$0 - 1]))" }.joined(separator: "  "))
        if let r2 = r.probeR2, let all = r.probeR2Overall, let rms = r.probeRMSErrorPx, let r2q = r.probeR2Int8,
            let allq = r.probeR2Int8Overall
        {
            print("linear probe of the agent's position (fit on \(eps.count / 2) episodes, tested on \(eps.count - eps.count / 2)):")
            print(
                String(format: "  fp32 latent: R² x %.4f, y %.4f, both %.4f; RMS error %.2f ", r2[0], r2[1], all, rms)
                    + unit)
            print(String(format: "  int8 latent: R² x %.4f, y %.4f, both %.4f", r2q[0], r2q[1], allq))
        } else {
            print("linear probe of the agent's position: not run (the recordings have no ground truth, or fewer than two episodes)")
        }
        print("int8 vs fp32 cosine: min \(String(format: "%.5f", r.minCosineInt8)), median \(String(format: "%.5f", r.medianCosineInt8))")
        print(
            "latent: std min \(String(format: "%.3f", r.spread.minStd)) mean \(String(format: "%.3f", r.spread.meanStd)), effective rank "
                + "\(String(format: "%.2f", r.spread.effectiveRank)) of \(m.latentSize)\(r.spread.collapsed ? "  ALARM: collapsed" : "")"
        )
        // The wall probes put the model in the simulator's world: only for models of it (data from the simulator).
        let simulated = eps.allSatisfy { $0.positions != nil } && !roomsWorld
        for v in TwoRoomsVariant.allCases where simulated {
            let w = try WallKnowledge.run(model: m, variant: v, layouts: v == .fixed ? 10 : 200, seed: seed &+ 7)
            print(
                "wall knowledge (\(v.rawValue)): forecast blocked for \(w.wallKnownBlocked)/\(w.wallPushes) pushes into the wall (median "
                    + "move ratio \(String(format: "%.2f", w.medianWallRatio))), open for \(w.doorKnownOpen)/\(w.doorPushes) pushes "
                    + "through the door (\(String(format: "%.2f", w.medianDoorRatio)))"
                    + (w.layoutProbeR2.count == 2
                        ? "; layout probe R² wall x \(String(format: "%.3f", w.layoutProbeR2[0])), door y "
                            + "\(String(format: "%.3f", w.layoutProbeR2[1]))"
                        : ""))
        }
        print("evaluated in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        if let json { try jsonString(r).write(toFile: json, atomically: true, encoding: .utf8) }
        if let requireR2 {
            guard let all = r.probeR2Overall else {
                warn("--require-r2: no probe was run (no ground truth in the data), so it cannot be checked")
                throw ExitCode(1)
            }
            if !(all >= requireR2) {
                warn("probe R² \(String(format: "%.4f", all)) is below the required \(requireR2)")
                throw ExitCode(1)
            }
        }
    }
}
