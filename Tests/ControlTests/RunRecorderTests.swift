import Control
import Foundation
import Recording
import RobotCore
import Simulation
import TestSupport
import Testing

@Suite struct RunRecorderTests {
    @Test("a run recorded while it drives reads back as a dataset: frames, applied efforts and truth per tick")
    func recordsTheLoop() throws {
        let dir = temporaryPath("runs-a")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try SimSetup()
        let recorder = RunRecorder(directory: dir, board: s.board, clock: s.clock)
        #expect(recorder.perform(.status).text == "not recording")
        #expect(!recorder.perform(.mark(label: "good", note: "")).ok)
        let started = recorder.perform(.start(name: "lap"))
        #expect(started.ok && started.text == "recording to \(dir)/lap.mcap")
        #expect(!recorder.perform(.start(name: nil)).ok, "one recording at a time")
        s.arm()
        recorder.post(.beginEpisode(info: ["wall_x": s.robot.world.layout.wallX]))
        for _ in 0..<60 {
            let r = s.loop.tick()
            recorder.tap(r, frame: s.loop.frame, truth: s.robot.position(at: s.loop.frame.timestamp))
        }
        #expect(recorder.perform(.mark(label: "good", note: "through the door")).ok)
        recorder.post(.endEpisode(info: ["success": 0]))
        let status = recorder.perform(.status)
        #expect(status.ok && status.text.hasPrefix("recording: \(dir)/lap.mcap"))
        let stopped = recorder.perform(.stop)
        #expect(stopped.ok && stopped.text.contains("60 ticks, 60 frames (0 dropped), 1 episode(s)"), "\(stopped.text)")
        #expect(!recorder.perform(.stop).ok)
        #expect(!recorder.perform(.start(name: "lap")).ok, "an existing file is not overwritten")

        let (meta, episodes) = try DatasetReader.episodes(path: "\(dir)/lap.mcap")
        #expect(meta["board"] == s.board.profile.name && meta["kind"] == "run" && meta["actuators"] == "vx,vy")
        #expect(episodes.count == 1 && episodes[0].frameCount == 60 && episodes[0].positions?.count == 120)
        #expect(episodes[0].actions.contains { $0 != 0 }, "the follower drove while recorded")
        // The next unnamed recording takes the first free number.
        #expect(try recorder.start() == "\(dir)/run-0000.mcap")
        recorder.stop()
        #expect(recorder.recordings.count == 2)
    }

    @Test("a directory that cannot be made is reported, and the run goes on")
    func unwritableDirectory() throws {
        let s = try SimSetup()
        let blocker = temporaryPath("not-a-dir")
        FileManager.default.createFile(atPath: blocker, contents: Data([1]))
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        let recorder = RunRecorder(directory: blocker + "/runs", board: s.board, clock: s.clock)
        let r = recorder.perform(.start(name: nil))
        #expect(!r.ok && r.text.contains("cannot create"), "\(r.text)")
        recorder.tap(s.loop.tick(), frame: s.loop.frame, truth: nil)  // not recording: nothing happens
        #expect(recorder.recordings.isEmpty)
    }
}
