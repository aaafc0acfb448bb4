import Configuration
import Foundation
import Recording
import RobotCore
import Safety
import Simulation
import Synchronization
import Teleop

/// The recording switch of a run: `run --record DIR` starts it at once, the console's `record start [NAME]
/// | stop | status | mark good|bad [NOTE]` turns it on and off while the robot drives. Each recording is
/// one file in `directory` (`NAME.mcap`, or the first free `run-NNNN.mcap`), written by a `TickRecorder`
/// on its own thread. The loop thread hands every tick to `tap` after the tick (it copies into the
/// recorder's rings and never waits on the disk); the console thread starts and stops recordings.
public final class RunRecorder: RecordingControl, @unchecked Sendable {
    public let directory: String
    public let board: LoadedBoard
    private let clock: RobotClock
    private let width: Int, height: Int
    private let current = Mutex<TickRecorder?>(nil)
    /// Finished recordings, for the run's summary.
    private let done = Mutex<[RecorderCounts]>([])
    /// Facts of the run for every file's metadata (the planner's goal, the policy …).
    private let extraMetadata: [String: String]

    public init(directory: String, board: LoadedBoard, clock: RobotClock, metadata: [String: String] = [:]) {
        self.directory = directory
        self.board = board
        self.clock = clock
        width = board.profile.camera.width
        height = board.profile.camera.height
        extraMetadata = metadata
    }

    /// Recordings started so far (a new file each).
    public var started: Int { startCount.load(ordering: .acquiring) }
    private let startCount = Atomic<Int>(0)
    /// Ticks the loop has handed to `tap`, recording or not.
    private let ticksSeen = Atomic<Int>(0)

    /// True while a file is being written.
    public var isRecording: Bool { current.withLock { $0 != nil } }

    /// Starts a recording (`name`.mcap, or the next free `run-NNNN.mcap`). Throws with the reason when the
    /// directory or the file cannot be made, or a recording is already running.
    @discardableResult
    public func start(name: String? = nil) throws -> String {
        if isRecording { throw RecordingFailure("already recording to \(current.withLock { $0?.path ?? "?" })") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RecordingFailure("cannot create \(directory): \(error.localizedDescription)")
        }
        let path: String
        if let name {
            guard RecordCommand.isValidName(name) else { throw RecordingFailure("\"\(name)\" is not a recording name") }
            path = "\(directory)/\(name.hasSuffix(".mcap") ? name : name + ".mcap")"
            if FileManager.default.fileExists(atPath: path) { throw RecordingFailure("\(path) exists; choose another name") }
        } else {
            var n = 0
            while FileManager.default.fileExists(atPath: String(format: "%@/run-%04d.mcap", directory, n)) { n += 1 }
            path = String(format: "%@/run-%04d.mcap", directory, n)
        }
        var metadata = [
            "board": board.profile.name, "calibration": board.calibration.path, "kind": "run",
            "camera": "\(width)x\(height)", "actuators": board.profile.actuators.map(\.name).joined(separator: ","),
            "planned_actuators": board.profile.plannedActuators.joined(separator: ","),
            "rate_hz": String(format: "%.1f", board.profile.loop.rateHz),
        ]
        if let sim = board.profile.simulation { metadata["world"] = sim.world.rawValue }
        // A file started into a run lacks what the controller held before (plan, latent, last output): replay says so.
        metadata["started_after_ticks"] = String(ticksSeen.load(ordering: .acquiring))
        metadata.merge(extraMetadata) { a, _ in a }
        let recorder: TickRecorder
        do {
            recorder = try TickRecorder(path: path, width: width, height: height, metadata: metadata)
        } catch {
            throw RecordingFailure("\(error)")
        }
        // Two starts at once (the console and `--record`): the first one in keeps recording.
        let running = current.withLock { r -> String? in
            if let r { return r.path }
            r = recorder
            return nil
        }
        if running == nil { startCount.add(1, ordering: .releasing) }
        if let running {
            recorder.finish(summary: [:])
            try? FileManager.default.removeItem(atPath: path)
            throw RecordingFailure("already recording to \(running)")
        }
        return path
    }

    /// Stops the recording (everything queued is written, then the file is closed). Nil when none ran.
    @discardableResult
    public func stop(summary: [String: String] = [:]) -> RecorderCounts? {
        guard
            let recorder = current.withLock({ r -> TickRecorder? in
                defer { r = nil }; return r
            })
        else { return nil }
        let counts = recorder.finish(summary: summary)
        done.withLock { $0.append(counts) }
        return counts
    }

    /// Every recording of this run, finished ones first, the running one last.
    public var recordings: [RecorderCounts] {
        done.withLock { $0 } + (current.withLock { $0?.status }.map { [$0] } ?? [])
    }

    /// The loop thread, after each tick: queues the tick (and its frame when it is new). No allocation,
    /// no disk.
    public func tap(_ r: TickReport, frame: Frame, truth: Vec2?) {
        ticksSeen.add(1, ordering: .releasing)
        current.withLock { recorder in
            guard let recorder else { return }
            recorder.record(Self.sample(r, truth: truth), frame: r.capture == .newFrame ? frame : nil)
        }
    }

    /// A tick as a recorder (or the live view) takes it.
    public static func sample(_ r: TickReport, truth: Vec2?) -> TickSample {
        TickSample(
            tick: r.tick, time: r.wake, proposed: r.command.efforts, hasProposal: r.proposed, origin: r.command.origin,
            applied: r.output.efforts, state: r.state, faults: r.latchedFaults, truth: truth.map { ($0.x, $0.y) })
    }

    /// An episode boundary, a fault, a mode change: written in order with the ticks.
    public func post(_ event: RecorderEvent) {
        let now = clock.now()
        current.withLock { $0?.post(event, at: now) }
    }

    // MARK: the console

    public func perform(_ command: RecordCommand) -> (ok: Bool, text: String, machine: String) {
        switch command {
        case .start(let name):
            do {
                let path = try start(name: name)
                return (true, "recording to \(path)", "RECORDING")
            } catch {
                return (false, "not recording: \(error)", "REFUSED")
            }
        case .stop:
            guard let c = stop() else { return (false, "not recording", "IDLE") }
            return (c.failure == nil, "stopped: " + Self.describe(c), "STOPPED")
        case .status:
            guard let c = current.withLock({ $0?.status }) else {
                let n = done.withLock { $0.count }
                return (true, "not recording" + (n > 0 ? " (\(n) recording(s) this run)" : ""), "IDLE")
            }
            return (c.failure == nil, "recording: " + Self.describe(c), c.failure == nil ? "RECORDING" : "FAILED")
        case .mark(let label, let note):
            guard isRecording else { return (false, "not recording: nothing to mark", "IDLE") }
            post(.mark(label: label, note: note))
            return (true, "marked \(label)" + (note.isEmpty ? "" : ": \(note)"), "MARKED")
        }
    }

    /// "runs/run-0000.mcap: 412 ticks, 410 frames (0 dropped), 2 episode(s), 1.8 MB".
    public static func describe(_ c: RecorderCounts) -> String {
        String(
            format: "%@: %d ticks, %d frames (%d dropped), %d episode(s), %.1f MB", c.path, c.ticks, c.frames, c.framesDropped,
            c.episodes, Double(c.bytes) / 1e6)
            + (c.ticksLost > 0 ? ", \(c.ticksLost) ticks LOST (the disk stalled)" : "")
            + (c.failure.map { ", FAILED: \($0)" } ?? "")
    }
}

/// Why a recording could not start.
public struct RecordingFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
