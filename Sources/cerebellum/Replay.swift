import ArgumentParser
import Configuration
import Evaluation
import Foundation
import Recording
import WorldModel

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a run recording through the encoder, planner and governor; report every tick whose commands differ.",
        discussion: """
            Feeds the recording's frames, with their recorded times, through a fresh int8 encoder, latent planner and
            safety governor made from the board profile and the model (by default the ones the recording names), toward
            the goals it logged, and compares per tick what the planner proposed and what the governor let through
            with the recorded commands. The operator's commands are fed as recorded; arming, disarming and faults with
            an outside cause (e-stop, console link, camera, writes, overruns) follow the recording, and ticks with such
            a fault are not compared. A run recorded with `run --fixed-work` replays bit-identically on any CPU:
            any difference means the controller's decisions changed (exit 1). A run recorded with a wall-clock
            budget is replayed and compared too, but differences are expected and do not fail.
            """)

    @Argument(help: "A run recording (MCAP, from run --record or the console's record start).")
    var file: String

    @Option(help: "Board profile (default: the board_file the recording names).")
    var board: String?

    @Option(help: "World model (default: the model the recording names).")
    var model: String?

    @Option(help: "The planner's seed (default: the recording's planner_seed); another seed shows how much the decisions depend on it.")
    var seed: UInt64?

    @Option(help: "Efforts that differ by at most this are equal (default 0: bit-identical).")
    var tolerance = 0.0

    @Option(help: "List at most this many differences.")
    var show = 20

    @Option(help: "Write the report as JSON to this file.")
    var json: String?

    func run() throws {
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a number ≥ 0") }
        let recording: MCAPFile
        do { recording = try MCAPFile(path: file) } catch { throw fail("\(error)") }
        let metadata: [String: String]
        do { metadata = try runRecordingMetadata(recording) } catch { throw fail("\(error)") }
        guard let boardPath = board ?? metadata["board_file"] else {
            throw fail("\(file) does not name its board file (board_file): pass --board")
        }
        guard let modelPath = model ?? metadata["model"], modelPath != "none" else {
            throw fail("\(file) does not name a world model: pass --model")
        }
        let loaded = loadBoardOrExit(boardPath)
        let worldModel: WorldModelFile
        do { worldModel = try WorldModelFile.load(path: modelPath) } catch { throw fail("\(error)") }
        var options = ReplayOptions()
        options.tolerance = tolerance
        options.seed = seed
        options.maxListed = max(show, 0)
        let report: ReplayReport
        do {
            report = try replayRecording(recording, board: loaded, model: worldModel, modelCRC32: fileCRC32(modelPath), options: options)
        } catch { throw fail("\(error)") }
        print("replay \(file): board \(loaded.profile.name) (\(boardPath)), model \(modelPath), planner work \(report.plannerWork)")
        print(
            "  \(report.ticks) ticks in \(report.episodes) episode(s), \(report.goals) goal(s): \(report.autonomyTicks) autonomy, "
                + "\(report.operatorTicks) operator; \(report.externalFaultTicks) not compared (a fault with an outside cause)")
        print(
            String(
                format: "  compared %d ticks: %d differ; largest difference proposed %.3g, applied %.3g", report.comparedTicks,
                report.differingTicks, report.maxProposedDifference, report.maxAppliedDifference))
        let listed = report.differences.prefix(show)
        for d in listed { print("  episode \(d.episode) tick \(d.tick) \(d.field): recorded \(d.recorded), replayed \(d.replayed)") }
        let listedTicks = Set(listed.map { [$0.episode, $0.tick] }).count
        if report.differingTicks > listedTicks { print("  … and \(report.differingTicks - listedTicks) more tick(s) that differ") }
        for n in report.notes { print("  note: \(n)") }
        if let json { try jsonString(report).write(toFile: json, atomically: true, encoding: .utf8) }
        if report.differingTicks == 0 {
            print("replay: the controller decided as recorded on every compared tick")
        } else if report.exact {
            print("replay: FAILED: the controller's decisions changed on \(report.differingTicks) tick(s)")
            throw ExitCode(1)
        } else {
            print("replay: \(report.differingTicks) tick(s) differ, as expected for this recording (see the notes)")
        }
    }

    private func fail(_ message: String) -> ExitCode {
        warn("error: \(message)")
        return ExitCode(2)
    }
}
