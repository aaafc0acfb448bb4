import Foundation
import RobotCore
import Safety
import Synchronization

/// One control-loop tick as the recorder queues it: fixed size, copied without touching the heap.
public struct TickSample: Sendable {
    public var tick: Int
    /// When the tick woke (the robot's monotonic clock).
    public var time: Instant
    /// What the command source proposed (stale when `hasProposal` is false).
    public var proposed: ChannelVector
    public var hasProposal: Bool
    public var origin: CommandOrigin
    /// The efforts the governor let through to the actuators.
    public var applied: ChannelVector
    public var state: GovernorState
    public var faults: Faults
    /// The agent's true position in the frame, px, on a simulated board (never given to the controller).
    public var truth: (x: Double, y: Double)?
    /// The queued frame's slot, -1 when none was recorded with this tick; set by the recorder.
    var frameSlot = -1
    var frameTimestamp = Instant(nanoseconds: 0)

    public init(
        tick: Int, time: Instant, proposed: ChannelVector, hasProposal: Bool, origin: CommandOrigin, applied: ChannelVector,
        state: GovernorState, faults: Faults, truth: (x: Double, y: Double)?
    ) {
        (self.tick, self.time, self.proposed, self.hasProposal, self.origin) = (tick, time, proposed, hasProposal, origin)
        (self.applied, self.state, self.faults, self.truth) = (applied, state, faults, truth)
    }
}

/// Something worth a line in the recording beside the ticks: an episode's start or end, a segment the
/// operator marked, a fault's reason, a mode change.
public enum RecorderEvent: Sendable, Equatable {
    case beginEpisode(info: [String: Double])
    case endEpisode(info: [String: Double])
    /// An operator's mark ("good", "bad") with an optional note.
    case mark(label: String, note: String)
    /// Free text: "fault latched: e-stop", "mode teleop".
    case note(kind: String, text: String)
    /// The planner's goal from the next tick recorded on: its name and latent (what `replay` plans toward).
    case goal(name: String, latent: [Float])
}

/// What a recorder did, for `record status` and the run's summary.
public struct RecorderCounts: Sendable, Equatable, Codable {
    public var path: String
    /// Ticks written to the file (every queued tick is, unless the file failed).
    public var ticks = 0
    public var frames = 0
    /// Frames not recorded because the frame queue was full (the disk fell behind); their ticks are kept.
    public var framesDropped = 0
    /// Ticks not recorded because even the tick queue was full (the disk stalled for its whole length).
    public var ticksLost = 0
    public var episodes = 0
    public var bytes: UInt64 = 0
    /// Why writing stopped, if the file failed (disk full, removed): the recording ends there.
    public var failure: String?
}

/// Records a run as it drives, without the loop ever waiting on the disk: the loop thread copies each tick
/// (and its frame) into preallocated rings — a tick ring of `tickCapacity` samples and a frame ring of
/// `frameCapacity` images — and a writer thread of its own drains them into a dataset MCAP file (the
/// layout `DatasetTopics` describes, plus every tick's command and the run's events). When the frame ring
/// is full a frame is dropped and counted, its tick is still recorded; the tick ring holds minutes of ticks,
/// and a tick that finds it full is counted as lost. The file is flushed every `flushInterval`, so a
/// recording cut by `kill -9` or a power loss keeps everything up to the last flush (`MCAPFile.recover`
/// closes such a file). `record` allocates nothing; `post` and the writer thread may. Times in the file are
/// the ticks' own (the robot's clock).
public final class TickRecorder: @unchecked Sendable {
    public let path: String
    public let width: Int
    public let height: Int
    public let tickCapacity: Int
    public let frameCapacity: Int
    public let flushInterval: Duration
    private let samples: UnsafeMutableBufferPointer<TickSample>
    private let pixels: UnsafeMutableRawBufferPointer
    /// Ticks and frames pushed (by the loop thread) and taken (by the writer), counted from the start.
    private let samplesPushed = Atomic<Int>(0), samplesTaken = Atomic<Int>(0)
    private let framesPushed = Atomic<Int>(0), framesTaken = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0), lost = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    /// Tests hold the writer to fill the rings.
    let writerHeld = Atomic<Bool>(false)
    private let events = Mutex<[(beforeSample: Int, time: Instant, event: RecorderEvent)]>([])
    private let counts: Mutex<RecorderCounts>
    private let finished = DispatchSemaphore(value: 0)
    private var closed = false
    /// Used by the writer thread only.
    private let writer: DatasetWriter

    /// Creates the file (its header, schemas and `metadata`) and starts the writer thread, which runs (and
    /// keeps this recorder) until `finish`. Throws when the file cannot be created.
    public init(
        path: String, width: Int, height: Int, metadata: [String: String], tickCapacity: Int = 16_384,
        frameCapacity: Int = 64, flushInterval: Duration = .milliseconds(500)
    ) throws {
        precondition(width > 0 && height > 0 && tickCapacity > 0 && frameCapacity > 0, "recorder sizes")
        self.path = path
        self.width = width
        self.height = height
        self.tickCapacity = tickCapacity
        self.frameCapacity = frameCapacity
        self.flushInterval = flushInterval
        writer = try DatasetWriter(path: path, metadata: metadata, runLog: true)
        counts = Mutex(RecorderCounts(path: path))
        samples = .allocate(capacity: tickCapacity)
        samples.initialize(
            repeating: TickSample(
                tick: 0, time: .zero, proposed: ChannelVector(count: 0), hasProposal: false, origin: .autonomy,
                applied: ChannelVector(count: 0), state: .disarmed, faults: [], truth: nil))
        pixels = .allocate(byteCount: frameCapacity * width * height, alignment: 16)
        let thread = Thread { [self] in drain() }
        thread.name = "cerebellum-recorder"
        thread.start()
    }

    /// The writer thread holds the recorder until `finish`, so this runs only after it.
    deinit {
        samples.deallocate()
        pixels.deallocate()
    }

    // MARK: the loop thread

    /// Queues one tick and, when given, its new frame (of this recorder's size). Never blocks, never allocates.
    public func record(_ sample: TickSample, frame: Frame?) {
        let pushed = samplesPushed.load(ordering: .relaxed)
        guard pushed - samplesTaken.load(ordering: .acquiring) < tickCapacity else {
            lost.add(1, ordering: .relaxed)
            return
        }
        var s = sample
        s.frameSlot = -1
        if let frame, frame.width == width, frame.height == height {
            let f = framesPushed.load(ordering: .relaxed)
            if f - framesTaken.load(ordering: .acquiring) < frameCapacity {
                let slot = f % frameCapacity, bytes = width * height
                // The array is passed as a pointer, not through a closure (a capturing closure allocates in debug builds).
                (pixels.baseAddress! + slot * bytes).copyMemory(from: frame.pixels, byteCount: bytes)
                s.frameSlot = slot
                s.frameTimestamp = frame.timestamp
                framesPushed.store(f + 1, ordering: .releasing)
            } else {
                dropped.add(1, ordering: .relaxed)
            }
        }
        samples[pushed % tickCapacity] = s
        samplesPushed.store(pushed + 1, ordering: .releasing)
    }

    /// Queues an event; it is written after every tick recorded before this call and before any after it.
    /// Any thread; allocates.
    public func post(_ event: RecorderEvent, at time: Instant) {
        let before = samplesPushed.load(ordering: .acquiring)
        events.withLock { $0.append((before, time, event)) }
    }

    /// What has been written so far (and what was dropped).
    public var status: RecorderCounts {
        var c = counts.withLock { $0 }
        c.framesDropped = dropped.load(ordering: .relaxed)
        c.ticksLost = lost.load(ordering: .relaxed)
        return c
    }

    /// Writes everything queued, then `summary` as a metadata record, closes the file and stops the writer
    /// thread. Returns the final counts. A second call returns them again.
    @discardableResult
    public func finish(summary: [String: String]) -> RecorderCounts {
        if !closed {
            closed = true
            pendingSummary.withLock { $0 = summary }
            stopRequested.store(true, ordering: .releasing)
            finished.wait()
        }
        return status
    }

    private let pendingSummary = Mutex<[String: String]>([:])

    // MARK: the writer thread

    private func drain() {
        var current: Int?  // the episode being written
        var nextEpisode = 0
        var step = 0  // frames written in the current episode
        var lastFlush = DispatchTime.now().uptimeNanoseconds
        var lastTime = Instant(nanoseconds: 0)  // of the last tick written
        var failed = false
        func attempt(_ body: () throws -> Void) {
            guard !failed else { return }
            do { try body() } catch {
                failed = true
                counts.withLock { $0.failure = "\(error)" }
            }
        }
        func end(at time: Instant, info: [String: Double] = [:]) {
            guard let c = current else { return }
            attempt { try writer.endEpisode(c, at: time, info: info.merging(["frames": Double(step)]) { a, _ in a }) }
            current = nil
        }
        func begin(at time: Instant, info: [String: Double]) {
            end(at: time)
            current = nextEpisode
            nextEpisode += 1
            step = 0
            attempt { try writer.beginEpisode(current!, at: time, info: info) }
            counts.withLock { $0.episodes = nextEpisode }
        }
        func writeEvents(upTo limit: Int?) {
            let ready = events.withLock { queue -> [(beforeSample: Int, time: Instant, event: RecorderEvent)] in
                let n = limit.map { l in queue.prefix { $0.beforeSample <= l }.count } ?? queue.count
                let out = Array(queue.prefix(n))
                queue.removeFirst(n)
                return out
            }
            for e in ready {
                switch e.event {
                case .beginEpisode(let info): begin(at: e.time, info: info)
                case .endEpisode(let info): end(at: e.time, info: info)
                case .mark(let label, let note): attempt { try writer.event(kind: "mark", label: label, text: note, at: e.time) }
                case .note(let kind, let text): attempt { try writer.event(kind: kind, label: "", text: text, at: e.time) }
                case .goal(let name, let latent):
                    attempt { try writer.event(kind: "goal", label: name, text: GoalLatentText.encode(latent), at: e.time) }
                }
            }
        }
        while true {
            if writerHeld.load(ordering: .acquiring) && !stopRequested.load(ordering: .acquiring) {
                usleep(1000)
                continue
            }
            let pushed = samplesPushed.load(ordering: .acquiring)
            var taken = samplesTaken.load(ordering: .relaxed)
            if taken == pushed {
                writeEvents(upTo: pushed)
                if stopRequested.load(ordering: .acquiring) && samplesPushed.load(ordering: .acquiring) == taken {
                    break
                }
                let now = DispatchTime.now().uptimeNanoseconds
                if Int64(now - lastFlush) >= flushInterval.nanoseconds {
                    attempt { try writer.writer.sync() }
                    counts.withLock { $0.bytes = writer.writer.bytesWritten }
                    lastFlush = now
                }
                usleep(2000)
                continue
            }
            while taken < pushed {
                writeEvents(upTo: taken)
                let s = samples[taken % tickCapacity]
                lastTime = s.time
                // A tick outside an episode (before the first begin, or after an end) starts one.
                if current == nil { begin(at: s.time, info: [:]) }
                let episode = current!
                attempt { try writer.command(sample: s, episode: episode) }
                if s.frameSlot >= 0 {
                    let bytes = width * height
                    let image = UnsafeRawBufferPointer(start: pixels.baseAddress! + s.frameSlot * bytes, count: bytes)
                    attempt {
                        try writer.image(width: width, height: height, timestamp: s.frameTimestamp, pixels: image)
                        try writer.action(
                            ActionMessage(
                                episode: episode, step: step, efforts: s.applied.array, proposed: s.proposed.array,
                                state: s.state.rawValue), at: s.time)
                        if let t = s.truth {
                            try writer.truth(TruthMessage(episode: episode, step: step, x: t.x, y: t.y), at: s.frameTimestamp)
                        }
                    }
                    step += 1
                    framesTaken.add(1, ordering: .releasing)
                    if !failed { counts.withLock { $0.frames += 1 } }
                }
                if !failed { counts.withLock { $0.ticks += 1 } }
                taken += 1
                samplesTaken.store(taken, ordering: .releasing)
            }
        }
        writeEvents(upTo: nil)
        end(at: lastTime)
        let summary = pendingSummary.withLock { $0 }
        var final = summary
        final["frames_dropped"] = String(dropped.load(ordering: .relaxed))
        final["ticks_lost"] = String(lost.load(ordering: .relaxed))
        attempt { writer.writer.addMetadata(name: "cerebellum.run", final) }
        attempt { try writer.finish() }
        counts.withLock { $0.bytes = writer.writer.bytesWritten }
        finished.signal()
    }
}
