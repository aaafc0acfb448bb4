import Configuration
import Evaluation
import Foundation
import Planning
import Recording
import TestSupport
import Testing

/// The committed run (`make replay-reference`: two episodes of sim-two-rooms with the shipped model, `run --fixed-work`)
/// replayed through the current encoder, planner and governor.
@Suite("Replay of a committed run")
struct ReplayTests {
    let recording: MCAPFile
    init() throws { recording = try MCAPFile(path: repoRoot + "/Tests/EvaluationTests/Fixtures/two-rooms-run.mcap") }

    @Test("the committed run replays bit-identically: every tick compared, none differs")
    func reproduces() throws {
        let r = try replayRecording(recording, board: try fixedBoard(), model: try loadShippedModel(), modelCRC32: nil)
        #expect(r.exact && r.plannerWork == "fixed", "\(r.notes)")
        #expect(r.ticks > 30 && r.episodes == 2 && r.goals == 2 && r.autonomyTicks == r.ticks)
        #expect(r.comparedTicks == r.ticks && r.ticksWithoutGoal == 0)
        #expect(r.differingTicks == 0, "\(r.differences.prefix(4))")
        #expect(r.maxProposedDifference == 0 && r.maxAppliedDifference == 0)
    }

    @Test("a change to the planner's settings or seed changes its decisions, and replay lists where")
    func plannerChangeShows() throws {
        var board = try fixedBoard()
        board.profile.planner!.samples -= 8
        let fewer = try replayRecording(recording, board: board, model: try loadShippedModel(), modelCRC32: nil)
        #expect(fewer.differingTicks > fewer.comparedTicks / 2)
        #expect(fewer.differences.first?.field == "proposed")
        var options = ReplayOptions()
        options.seed = 99
        options.maxListed = 3
        let reseeded = try replayRecording(
            recording, board: try fixedBoard(), model: try loadShippedModel(), modelCRC32: nil, options: options)
        #expect(reseeded.differingTicks > 0 && reseeded.differences.count == 3)
    }

    @Test("a change to the governor's limits shows first in the applied efforts")
    func governorChangeShows() throws {
        var board = try fixedBoard()
        for i in board.profile.actuators.indices { board.profile.actuators[i].slewPerSecond /= 4 }
        let r = try replayRecording(recording, board: board, model: try loadShippedModel(), modelCRC32: nil)
        #expect(r.differingTicks > 0)
        // The planner sees the efforts applied before (its surprise, the refused moves), so later proposals may follow.
        #expect(r.differences.first?.field == "applied", "\(r.differences.prefix(3))")
    }

    @Test("another model is named in the notes and the replay is no longer exact")
    func otherModel() throws {
        let r = try replayRecording(recording, board: try fixedBoard(), model: try loadShippedModel(), modelCRC32: "00000000")
        #expect(!r.exact && r.notes.contains { $0.contains("model differs") })
    }

    @Test("a dataset without run ticks, or from another board, is refused with the reason")
    func refuses() throws {
        var board = try fixedBoard()
        board.profile.name = "another-board"
        #expect(throws: ReplayError.self) {
            try replayRecording(recording, board: board, model: try loadShippedModel(), modelCRC32: nil)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try DatasetWriter(path: dir + "/data.mcap", metadata: ["kind": "run", "board": "sim-two-rooms"])
        try writer.finish()
        let error = #expect(throws: ReplayError.self) {
            try replayRecording(
                try MCAPFile(path: dir + "/data.mcap"), board: try fixedBoard(), model: try loadShippedModel(), modelCRC32: nil)
        }
        #expect(error?.description.contains("/cerebellum/command") == true)
    }
}
