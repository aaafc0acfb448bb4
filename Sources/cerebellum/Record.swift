import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import LinuxHardware
import RobotCore
import Recording
import Simulation

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record exploration episodes as MCAP datasets (through the loop, governor in the path).",
        discussion: """
            Runs the normal control loop on the board with smooth random actions (an Ornstein–Uhlenbeck-like
            process, clipped to full speed), arms the governor, and records each tick: the camera frame
            (sensor_msgs/msg/Image, mono8), the efforts the governor applied, and on simulated boards the agent's
            true position (for probes only). Episodes go to DIR/episodes-NNNN.mcap, --per-file episodes each;
            open them in Foxglove or read them with Python's mcap package.
            Simulated boards run on a manual clock, faster than real time.
            """)

    @Option(help: "Board profile (YAML).")
    var board = "boards/sim-two-rooms.yaml"

    @Option(help: "Episodes to record.")
    var episodes = 100

    @Option(help: "World steps per episode (each episode has one frame more).")
    var steps = 100

    @Option(help: "Seed for worlds and actions (default: the board profile's).")
    var seed: UInt64?

    @Option(help: "World variant on simulated boards: two-rooms or two-rooms-random (default: the board's).")
    var world: String?

    @Option(help: "Persistence of the random actions per step (0…1): higher wanders further.")
    var persistence = 0.8

    @Option(help: "Innovation of the random actions per step.")
    var noise = 0.6

    @Option(
        help:
            ArgumentHelp(
                "Chance per step of starting a held full-effort push (half within 20° of horizontal, the rest in any direction; 0: none): "
                    + "leans on walls, so the model learns where motion stops.")
    )
    var pushes = 0.0

    @Option(
        help: ArgumentHelp(
            "Who drives: random (smooth random actions) or route (rooms worlds: a driver that knows the map drives to "
                + "random places through the doorways, --noise on its efforts)."))
    var driver = "random"

    @Option(help: "Episodes per MCAP file.")
    var perFile = 250

    @Option(help: "Output directory (created if missing).")
    var out: String

    func run() throws {
        lineBufferedStandardOutput()
        var loaded = loadBoardOrExit(board)
        if let world {
            loaded = try simulatedBoard(loaded, world: try worldVariant(world))
        }
        guard driver == "random" || driver == "route" else { throw ValidationError("--driver is random or route") }
        guard (0..<1).contains(persistence), noise > 0 else { throw ValidationError("--persistence must be in [0, 1) and --noise > 0") }
        guard (0...1).contains(pushes) else { throw ValidationError("--pushes must be in [0, 1]") }
        guard episodes >= 1, steps >= 1, perFile >= 1 else { throw ValidationError("--episodes, --steps and --per-file must be ≥ 1") }
        guard loaded.profile.simulation != nil else {
            throw ValidationError(
                "\(loaded.profile.path): record explores with random actions on a simulated board; a real board has no safe "
                    + "envelope for that here. Record a drive instead: cerebellum run --board \(board) --teleop DEVICE --record DIR "
                    + "(or `record start` on the console)")
        }
        let seed = seed ?? loaded.profile.simulation?.seed ?? 1
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let started = Date()
        var written = 0, files: [String] = [], crossings = 0, frames = 0
        var fileIndex = 0
        installStopHandlers()
        while written < episodes && !stopRequested.load(ordering: .relaxed) {
            let n = min(perFile, episodes - written)
            let path = "\(out)/episodes-\(String(format: "%04d", fileIndex)).mcap"
            // Each file its own seed stream, so files can be recorded independently and reproduced.
            let fileSeed = seed &* 1_000_003 &+ UInt64(fileIndex)
            let run = try ExplorationRun(
                board: loaded, seed: fileSeed, stepsPerEpisode: steps,
                actions: SmoothRandomActions(seed: fileSeed &* 31 &+ 5, persistence: persistence, scale: noise, pushProbability: pushes),
                route: driver == "route", routeNoise: noise)
            let writer = try DatasetWriter(
                path: path,
                metadata: [
                    "board": loaded.profile.name, "board_file": loaded.profile.path,
                    "calibration": loaded.calibration.path, "calibration_board": loaded.calibration.board,
                    "world": loaded.profile.simulation?.world.rawValue ?? "real", "seed": String(fileSeed),
                    "steps_per_episode": String(steps),
                    "actuators": loaded.profile.actuators.map(\.name).joined(separator: ","),
                    "planned_actuators": loaded.profile.plannedActuators.joined(separator: ","),
                    "policy": driver == "route"
                        ? "route driver to random places (effort noise rho 0.9, sigma \(noise))"
                        : "smooth random (rho \(persistence), sigma \(noise), norm <= 1; held pushes p \(pushes))",
                ])
            try run.run(episodes: n, writer: writer) { e in
                frames += e.frameCount
                written += 1
                let rate = Double(written) / max(Date().timeIntervalSince(started), 1e-9)
                let shown = String(format: rate < 10 ? "%.1f" : "%.0f", rate)
                print(
                    "\(eraseLine)recorded \(written)/\(episodes) episodes, \(frames) frames (\(shown) episodes/s)",
                    terminator: eraseLine.isEmpty ? "\n" : "")
            }
            try writer.finish()
            crossings += run.crossings
            files.append(path)
            fileIndex += 1
        }
        if !eraseLine.isEmpty { print("") }
        let bytes = files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        print(
            "wrote \(files.count) file(s) in \(out): \(written) episodes, \(frames) frames, \(bytes / 1_000_000) MB, "
                + (loaded.profile.simulation?.world == .gymnasium ? "" : "\(crossings) episodes ended in another room, ")
                + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
