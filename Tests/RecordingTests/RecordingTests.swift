import Configuration
import Control
import Foundation
import RobotCore
import Evaluation
import Simulation
import TestSupport
import Testing
@testable import Recording
@testable import Reports

func recordSample(path: String, episodes: Int, steps: Int, seed: UInt64) throws -> [RecordedEpisode] {
    let board = try LoadedBoard.load(boardPath: "\(repoRoot)/boards/sim-two-rooms.yaml")
    let run = try ExplorationRun(board: board, seed: seed, stepsPerEpisode: steps)
    let writer = try DatasetWriter(path: path, metadata: ["board": board.profile.name, "calibration": board.calibration.path])
    var out: [RecordedEpisode] = []
    try run.run(episodes: episodes, writer: writer) { out.append($0) }
    try writer.finish()
    return out
}

@Suite struct MCAPTests {
    @Test func roundTripThroughOurReader() throws {
        let path = temporaryPath("rt.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorded = try recordSample(path: path, episodes: 3, steps: 12, seed: 5)
        let (meta, read) = try DatasetReader.episodes(path: path)
        #expect(meta["board"] == "sim-two-rooms")
        #expect(read.count == 3)
        for (a, b) in zip(recorded, read) {
            #expect(a.frames == b.frames)
            #expect(a.actions == b.actions)
            #expect(a.positions == b.positions)
            #expect(b.frameCount == 13)
            #expect(b.info["wall_x"] == a.info["wall_x"])
        }
    }

    /// The loop's timing: the action recorded with frame t is what moves the agent to frame t + 1
    /// (the displacement follows a_t closely, and a_t better than a_{t-1}).
    @Test func recordedActionsMoveTheAgentToTheNextFrame() throws {
        let path = temporaryPath("timing.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let e = try recordSample(path: path, episodes: 1, steps: 80, seed: 9)[0]
        let p = e.positions!
        func correlation(lag: Int) -> Double {
            var xs: [Double] = [], ys: [Double] = []
            for t in lag..<(e.frameCount - 1) {
                xs.append(Double(p[2 * t + 2] - p[2 * t])); ys.append(Double(e.actions[2 * (t - lag)]))
                xs.append(Double(p[2 * t + 3] - p[2 * t + 1])); ys.append(Double(e.actions[2 * (t - lag) + 1]))
            }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for i in xs.indices {
                sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); syy += (ys[i] - my) * (ys[i] - my)
            }
            return sxy / (sxx * syy).squareRoot()
        }
        let now = correlation(lag: 0), before = correlation(lag: 1)
        #expect(now > 0.7, "displacement vs the action of the same tick: correlation \(now)")
        #expect(now > before + 0.1, "lag 0 \(now) vs lag 1 \(before)")
    }

    @Test func corruptFilesAreRejectedWithAReason() throws {
        let path = temporaryPath("bad.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try recordSample(path: path, episodes: 1, steps: 4, seed: 1)
        let good = [UInt8](FileManager.default.contents(atPath: path)!)
        func reason(_ bytes: [UInt8]) -> String {
            do { _ = try MCAPFile(bytes: bytes, path: "x.mcap"); return "accepted" } catch { return "\(error)" }
        }
        #expect(reason(Array(good.prefix(good.count - 100))).contains("truncated"))
        var flipped = good
        flipped[0] = 0
        #expect(reason(flipped).contains("bad magic"))
        // A flipped pixel deep in the data section: the CRC catches it.
        var pixel = good
        pixel[good.count / 3] ^= 0x55
        #expect(reason(pixel).contains("CRC") || reason(pixel).contains("runs past"))
        #expect(reason(good) == "accepted")
    }

    /// Python's `mcap` package (an independent implementation) reads the recording, validates its
    /// CRCs and summary, and decodes the CDR images and JSON actions to the same values.
    @Test func pythonMcapReadsTheRecording() throws {
        let path = temporaryPath("py.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorded = try recordSample(path: path, episodes: 2, steps: 10, seed: 3)
        let pixelSum = recorded.reduce(0) { $0 + $1.frames.reduce(0) { $0 + Int($1) } }
        let actionSum = recorded.reduce(0.0) { $0 + $1.actions.reduce(0.0) { $0 + Double($1) } }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "\(repoRoot)/scripts/mcap-readback.py", path]
        let pipe = Pipe(), err = Pipe()
        p.standardOutput = pipe
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "mcap-readback.py failed (is Python's mcap installed? make deps-python): \(errText)")
        let fields = Dictionary(
            uniqueKeysWithValues: out.split(separator: "\n").compactMap { line -> (String, String)? in
                let kv = line.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            })
        #expect(fields["images"] == "22")
        #expect(fields["episodes"] == "2")
        #expect(fields["size"] == "64x64 mono8")
        #expect(fields["pixel_sum"] == String(pixelSum))
        #expect(abs((Double(fields["action_sum"] ?? "") ?? .nan) - actionSum) < 1e-4)
        #expect(fields["board"] == "sim-two-rooms")
    }
}

/// Untrusted files that once crashed the process: each is rejected with the file and a reason.
@Suite struct UntrustedRecordingTests {
    let seed = "\(repoRoot)/Tests/Fuzz/corpus/mcap/two-steps-4x4.mcap"

    @Test("the fuzz seed is a valid recording")
    func seedReads() throws {
        let (meta, episodes) = try DatasetReader.episodes(path: seed)
        #expect(meta["board"] == "sim-two-rooms")
        #expect(episodes.count == 1 && episodes[0].frameCount == 3 && episodes[0].width == 4)
    }

    @Test("junk before the closing magic is a truncated record, not a trap")
    func junkBeforeClosingMagic() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: seed)))
        for junk in [[UInt8(0x01)], [0x05, 0xFF, 0xFF], [UInt8](repeating: 0xEE, count: 7)] {
            var b = bytes
            b.insert(contentsOf: junk, at: b.count - 8)
            #expect(throws: MCAPError.self) { try MCAPFile(bytes: b, path: "junk.mcap") }
        }
        bytes.removeLast(9)
        bytes += mcapMagic
        #expect(throws: MCAPError.self) { try MCAPFile(bytes: bytes, path: "cut.mcap") }
    }

    @Test("a CDR image of 2³²−1 × 2³²−1 pixels is refused by its size")
    func hugeCDRImage() throws {
        var c = CDRBuilder()
        c.u32(0); c.u32(0); c.string("cam")  // header: stamp, frame id
        c.u32(UInt32.max); c.u32(UInt32.max)  // height, width
        c.string("mono8"); c.u8(0); c.u32(UInt32.max); c.u32(0)
        let e = #expect(throws: MCAPError.self) { try CDRImage.decode(ArraySlice(c.bytes), path: "huge.mcap", message: 3) }
        #expect(e?.description.contains("outside 1...4096") == true, "\(String(describing: e))")
    }

    @Test("an episode with fewer than two frames holds no transition and is left out; one whose actions do not match its frames is refused")
    func episodeWithoutFrames() throws {
        let path = temporaryPath("empty-episode.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try DatasetWriter(path: path, metadata: ["board": "test"])
        try writer.beginEpisode(0, at: .zero, info: [:])
        try writer.endEpisode(0, at: .zero, info: [:])
        try writer.finish()
        #expect(try DatasetReader.episodes(path: path).episodes.isEmpty)

        let bad = temporaryPath("unpaired-episode.mcap")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let w = try DatasetWriter(path: bad, metadata: ["board": "test"])
        try w.beginEpisode(0, at: .zero, info: [:])
        let f = Frame(width: 4, height: 4)
        for i in 0..<3 {
            f.timestamp = Instant(nanoseconds: Int64(i + 1))
            try f.pixels.withUnsafeBytes { try w.image(width: 4, height: 4, timestamp: f.timestamp, pixels: $0) }
            if i < 2 {
                try w.action(ActionMessage(episode: 0, step: i, efforts: [0, 0], proposed: [0, 0], state: "armed"), at: f.timestamp)
            }
        }
        try w.endEpisode(0, at: .zero, info: [:])
        try w.finish()
        let e = #expect(throws: MCAPError.self) { try DatasetReader.episodes(path: bad) }
        #expect(e?.description.contains("episode 0 has 3 frames but 2 actions") == true, "\(String(describing: e))")
    }
}
