import CAllocationCounter
import Foundation
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing

@testable import Recording

/// Ticks of a 4×4 camera whose every pixel is the tick number, efforts that follow it.
private func sample(_ i: Int) -> (TickSample, Frame) {
    let f = Frame(width: 4, height: 4)
    for j in 0..<16 { f.pixels[j] = UInt8(i % 256) }
    f.timestamp = Instant(nanoseconds: Int64(1_000_000_000 + i * 20_000_000))
    let e = Double(i % 10) / 10
    let s = TickSample(
        tick: i, time: f.timestamp, proposed: ChannelVector([e, -e]), hasProposal: true, origin: .autonomy,
        applied: ChannelVector([e / 2, -e / 2]), state: .armed, faults: [], truth: (Double(i), 1))
    return (s, f)
}

@Suite struct TickRecorderTests {
    @Test("every tick is written: frames and actions pair up per episode, commands on every tick, events in order")
    func roundTrip() throws {
        let path = temporaryPath("rec.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TickRecorder(path: path, width: 4, height: 4, metadata: ["board": "test"])
        r.post(.beginEpisode(info: ["wall_x": 32]), at: Instant(nanoseconds: 1))
        for i in 0..<30 {
            let (s, f) = sample(i)
            r.record(s, frame: i % 3 == 2 ? nil : f)  // every third tick without a new frame
            if i == 14 { r.post(.mark(label: "good", note: "first half"), at: s.time) }
        }
        r.post(.endEpisode(info: ["success": 1]), at: Instant(nanoseconds: 2))
        let (s, f) = sample(30)
        r.record(s, frame: f)  // a tick after the end opens a second episode (of one frame)
        let c = r.finish(summary: ["ticks": "31"])
        #expect(c.ticks == 31 && c.frames == 21 && c.framesDropped == 0 && c.ticksLost == 0 && c.episodes == 2 && c.failure == nil)
        let file = try MCAPFile(path: path)
        let topics = Dictionary(uniqueKeysWithValues: file.channels.values.map { ($0.id, $0.topic) })
        let commands = file.messages.filter { topics[$0.channel] == DatasetTopics.command }
        #expect(commands.count == 31)
        let events = file.messages.filter { topics[$0.channel] == DatasetTopics.event }
        #expect(events.count == 1 && String(decoding: file.payload(events[0]), as: UTF8.self).contains("first half"))
        #expect(file.metadata.contains { $0.name == "cerebellum.run" && $0.values["ticks"] == "31" })
        let (meta, episodes) = try DatasetReader.episodes(in: file)
        #expect(meta["board"] == "test")
        // The second episode has one frame: no transition in it, so the reader leaves it out.
        #expect(episodes.count == 1 && episodes[0].frameCount == 20 && episodes[0].positions?.count == 40)
        #expect(episodes[0].frames[4 * 16] == 6, "the fifth recorded frame is tick 6's")
        #expect(episodes[0].actions[2] == 0.05, "the second frame's action is tick 1's applied effort")
        #expect(episodes[0].info["success"] == 1 && episodes[0].info["wall_x"] == 32)
    }

    @Test("a writer that falls behind costs frames, never the ticks the ring holds; a full tick ring counts what it loses")
    func backPressure() throws {
        let path = temporaryPath("slow.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TickRecorder(path: path, width: 4, height: 4, metadata: [:], tickCapacity: 8, frameCapacity: 3)
        r.writerHeld.store(true, ordering: .releasing)
        for i in 0..<12 {
            let (s, f) = sample(i)
            r.record(s, frame: f)
        }
        #expect(r.status.framesDropped == 5 && r.status.ticksLost == 4, "\(r.status)")
        r.writerHeld.store(false, ordering: .releasing)
        let c = r.finish(summary: [:])
        #expect(c.ticks == 8 && c.frames == 3 && c.framesDropped == 5 && c.ticksLost == 4)
        let (_, episodes) = try DatasetReader.episodes(path: path)
        #expect(episodes.count == 1 && episodes[0].frameCount == 3)
    }

    @Test("queueing a tick allocates nothing")
    func recordDoesNotAllocate() throws {
        let path = temporaryPath("alloc.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TickRecorder(path: path, width: 4, height: 4, metadata: [:])
        let ticks = (0..<200).map { sample($0) }
        r.record(ticks[0].0, frame: ticks[0].1)
        allocation_counter_start()
        // A counting loop: a for-in over the tuples allocates in a debug build, over a range on aarch64.
        var i = 1
        while i < 200 {
            r.record(ticks[i].0, frame: i % 4 == 0 ? nil : ticks[i].1)
            i += 1
        }
        let allocations = allocation_counter_stop()
        #expect(allocations == 0)
        #expect(r.finish(summary: [:]).ticks == 200)
    }

    @Test("a recording cut anywhere is closed at the last tick whose frame and action are both there", arguments: [0.3, 0.55, 0.8, 0.97])
    func recoverCut(at fraction: Double) throws {
        let path = temporaryPath("cut-\(fraction).mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TickRecorder(path: path, width: 4, height: 4, metadata: ["board": "test"])
        r.post(.beginEpisode(info: [:]), at: .zero)
        for i in 0..<50 {
            let (s, f) = sample(i)
            r.record(s, frame: f)
        }
        r.finish(summary: [:])
        let whole = [UInt8](FileManager.default.contents(atPath: path)!)
        let cut = Array(whole.prefix(Int(Double(whole.count) * fraction)))
        #expect(throws: MCAPError.self) { try MCAPFile(bytes: cut, path: "cut.mcap") }
        let (fixed, report) = try recoverRecording(cut, path: "cut.mcap")
        #expect(!report.wasComplete)
        let (_, episodes) = try DatasetReader.episodes(in: try MCAPFile(bytes: fixed, path: "fixed.mcap"))
        #expect(episodes.count == 1 && episodes[0].frameCount == report.frames && report.frames >= 10)
        #expect(episodes[0].actions.count == 2 * report.frames && episodes[0].positions?.count == 2 * report.frames)
        if report.closedEpisode {
            #expect(episodes[0].info["recovered"] == 1 && report.frames < 50)
        } else {
            #expect(report.frames == 50, "the cut fell after the episode's end marker")
        }
        // A whole file is left as it is.
        let (same, again) = try recoverRecording(whole, path: "whole.mcap")
        #expect(same == whole && again.wasComplete && again.frames == 50)
        // Python's reader takes the recovered file too.
        let out = temporaryPath("fixed-\(fraction).mcap")
        defer { try? FileManager.default.removeItem(atPath: out) }
        FileManager.default.createFile(atPath: out, contents: Data(fixed))
        let text = try runPython(
            "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            "\(repoRoot)/scripts/mcap-readback.py", out)
        #expect(text.contains("images=\(report.frames)") && text.contains("episodes=1"), "\(text)")
    }

    @Test("a file that is not MCAP is refused with its name")
    func recoverRefusesOtherFiles() {
        #expect(throws: MCAPError.self) { try recoverRecording(Array("hello".utf8), path: "x.mcap") }
    }
}

@Suite struct DatasetEditingTests {
    /// Two episodes of 20 ticks (20 ms apart), one mark in the second, every tick with a frame.
    func recording(_ name: String) throws -> String {
        let path = temporaryPath(name)
        let r = try TickRecorder(path: path, width: 4, height: 4, metadata: ["board": "test", "kind": "run"])
        for e in 0..<2 {
            let first = sample(20 * e).0.time, last = sample(20 * e + 19).0.time
            r.post(.beginEpisode(info: ["wall_x": Double(30 + e)]), at: first - .milliseconds(1))
            for i in (20 * e)..<(20 * e + 20) {
                let (s, f) = sample(i)
                r.record(s, frame: f)
                if i == 30 { r.post(.mark(label: "bad", note: "bumped"), at: s.time) }
            }
            r.post(.endEpisode(info: ["success": Double(e)]), at: last + .milliseconds(1))
        }
        r.finish(summary: [:])
        return path
    }

    @Test("info counts episodes, frames, who drove and the marks")
    func info() throws {
        let path = try recording("info.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let info = try recordingInfo(try MCAPFile(path: path))
        #expect(info.episodes.map(\.frames) == [20, 20] && info.frames == 40 && info.hasTruth && info.hasCommands)
        #expect(info.episodes[0].origins == ["autonomy": 20] && info.episodes.allSatisfy(\.ended))
        #expect(abs(info.episodes[1].seconds - 0.38) < 1e-9)
        #expect(info.episodes[1].marks.count == 1 && info.episodes[1].marks[0].label == "bad" && info.episodes[1].info["success"] == 1)
    }

    @Test("a window keeps each frame with its action and truth, and closes the episodes it cuts")
    func window() throws {
        let path = try recording("window.mcap")
        let out = temporaryPath("window-out.mcap")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: out)
        }
        let file = try MCAPFile(path: path)
        // Frames are at 1 s + 20 ms × i: keep ticks 10…29 (the second half of episode 0, the first of episode 1).
        let start = UInt64(1_000_000_000 + 10 * 20_000_000), end = UInt64(1_000_000_000 + 30 * 20_000_000)
        let r = try writeWindow(of: file, window: start..<end, path: out)
        #expect(r.frames == 20 && r.episodes == 2)
        let (meta, episodes) = try DatasetReader.episodes(path: out)
        #expect(meta["board"] == "test")
        #expect(episodes.map(\.frameCount) == [10, 10] && episodes.map(\.index) == [0, 1])
        #expect(episodes[0].frames[0] == 10 && episodes[1].frames[0] == 20, "the kept frames are ticks 10 and 20 onward")
        #expect(episodes[0].info["success"] == 0 && episodes[0].info["wall_x"] == 30, "episode 0 ends inside the window: its own end")
        #expect(episodes[1].info["trimmed"] == 1 && episodes[1].info["wall_x"] == 31, "episode 1 is cut: closed as trimmed")
        #expect(episodes.allSatisfy { $0.actions.count == 2 * $0.frameCount && $0.positions?.count == 2 * $0.frameCount })
        let edited = try MCAPFile(path: out)
        #expect(edited.metadata.contains { $0.name == "cerebellum.edit" })
        #expect(try recordingInfo(edited).episodes.flatMap(\.marks).isEmpty, "the mark at tick 30 is outside the window")
    }
}
