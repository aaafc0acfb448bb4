import Foundation
import RobotCore

/// How Cerebellum lays out what a robot saw and did in an MCAP file (datasets and logs alike):
///
/// | topic | schema | encoding | one message per |
/// |---|---|---|---|
/// | `/camera/image` | `sensor_msgs/msg/Image` (ros2msg) | cdr | frame, `mono8` |
/// | `/cerebellum/action` | `cerebellum.Action` (jsonschema) | json | tick: the efforts applied after that frame, and those proposed |
/// | `/cerebellum/truth` | `cerebellum.Truth` (jsonschema) | json | frame, simulated robots only: the agent's true position |
/// | `/cerebellum/episode` | `cerebellum.Episode` (jsonschema) | json | episode begin and end |
/// | `/cerebellum/command` | `cerebellum.Command` (jsonschema) | json | tick (run recordings): proposal, origin, efforts, state, faults |
/// | `/cerebellum/event` | `cerebellum.Event` (jsonschema) | json | run recordings: marks, faults with reasons, mode changes |
///
/// A metadata record `cerebellum` names the board, calibration, world and seed. Foxglove shows
/// the images and plots the JSON fields; Python's `mcap` package reads it all back.
public enum DatasetTopics {
    public static let image = "/camera/image"
    public static let action = "/cerebellum/action"
    public static let truth = "/cerebellum/truth"
    public static let episode = "/cerebellum/episode"
    public static let command = "/cerebellum/command"
    public static let event = "/cerebellum/event"
}

/// The `/cerebellum/command` message: one per tick of a run recording, frame or not.
public struct CommandMessage: Codable, Sendable, Equatable {
    public var episode: Int
    public var tick: Int
    /// Efforts the source proposed (empty when it proposed nothing this tick).
    public var proposed: [Double]
    /// "autonomy", "teleop", …
    public var origin: String
    public var applied: [Double]
    public var state: String
    /// Latched faults, by name ("none" when there are none).
    public var faults: String

    /// A tick as the recorder and the live view write it.
    public init(sample s: TickSample, episode: Int) {
        self.episode = episode
        tick = s.tick
        proposed = s.hasProposal ? s.proposed.array : []
        origin = s.origin.description
        applied = s.applied.array
        state = s.state.rawValue
        faults = s.faults.isEmpty ? "none" : s.faults.description
    }
}

/// The `/cerebellum/event` message.
public struct EventMessage: Codable, Sendable, Equatable {
    /// "mark", "fault", "mode", "goal" (label: the goal's name, text: its latent, `GoalLatentText`), …
    public var kind: String
    /// A mark's label ("good", "bad"); empty for other kinds.
    public var label: String
    public var text: String
}

/// A goal event's text: the latent's values, space-separated, each in the shortest form that reads back
/// to the same `Float`.
public enum GoalLatentText {
    public static func encode(_ latent: [Float]) -> String { latent.map { "\($0)" }.joined(separator: " ") }

    /// Nil unless every value reads back as a finite `Float`.
    public static func decode(_ text: Substring) -> [Float]? {
        var out: [Float] = []
        for word in text.split(separator: " ") {
            guard let v = Float(word), v.isFinite else { return nil }
            out.append(v)
        }
        return out.isEmpty ? nil : out
    }
}

/// The `/cerebellum/action` message.
public struct ActionMessage: Codable, Sendable, Equatable {
    public var episode: Int
    public var step: Int
    /// Efforts the governor let through, per channel, in [-1, 1].
    public var efforts: [Double]
    /// What the command source proposed.
    public var proposed: [Double]
    /// Governor state ("armed", "disarmed", "faulted").
    public var state: String

    public init(episode: Int, step: Int, efforts: [Double], proposed: [Double], state: String) {
        (self.episode, self.step, self.efforts, self.proposed, self.state) = (episode, step, efforts, proposed, state)
    }
}

/// The `/cerebellum/truth` message (simulation ground truth; never given to the model).
public struct TruthMessage: Codable, Sendable, Equatable {
    public var episode: Int
    public var step: Int
    public var x: Double
    public var y: Double

    public init(episode: Int, step: Int, x: Double, y: Double) {
        (self.episode, self.step, self.x, self.y) = (episode, step, x, y)
    }
}

/// The `/cerebellum/episode` message.
public struct EpisodeMessage: Codable, Sendable, Equatable {
    public var episode: Int
    /// "begin" or "end".
    public var event: String
    /// Free-form facts: world layout (wall_x, door_y), steps, ending.
    public var info: [String: Double]
}

/// One episode read back from a recording.
public struct RecordedEpisode: Sendable {
    public var index: Int
    public var width: Int
    public var height: Int
    /// frames × width × height bytes.
    public var frames: [UInt8]
    /// Per frame, in the order recorded: the applied efforts of every channel (`channels` per frame).
    public var actions: [Float]
    /// Efforts recorded per frame: the board's channel count (0 before the first action).
    public var channels: Int
    /// Per frame: true (x, y), when the recording has truth.
    public var positions: [Float]?
    public var info: [String: Double]
    public var source: String
    public var frameCount: Int { width * height == 0 ? 0 : frames.count / (width * height) }

    public init(
        index: Int, width: Int, height: Int, frames: [UInt8], actions: [Float], channels: Int, positions: [Float]?,
        info: [String: Double], source: String
    ) {
        self.channels = channels
        self.index = index
        self.width = width
        self.height = height
        self.frames = frames
        self.actions = actions
        self.positions = positions
        self.info = info
        self.source = source
    }
}

/// Writes a dataset recording, one episode at a time.
public final class DatasetWriter {
    public let writer: MCAPWriter
    private var sequence: [UInt16: UInt32] = [:]
    private let encoder = JSONEncoder()
    public private(set) var messages = 0

    /// `metadata`: board, calibration, world, seed … (stored in a `cerebellum` metadata record). A `runLog`
    /// adds the command and event channels of a run recording.
    public init(path: String, metadata: [String: String], runLog: Bool = false) throws {
        writer = try MCAPWriter(path: path, profile: "", library: "cerebellum")
        writer.addSchema(id: 1, name: "sensor_msgs/msg/Image", encoding: "ros2msg", data: Array(CDRImage.schemaText.utf8))
        writer.addSchema(id: 2, name: "cerebellum.Action", encoding: "jsonschema", data: Array(Self.actionSchema.utf8))
        writer.addSchema(id: 3, name: "cerebellum.Truth", encoding: "jsonschema", data: Array(Self.truthSchema.utf8))
        writer.addSchema(id: 4, name: "cerebellum.Episode", encoding: "jsonschema", data: Array(Self.episodeSchema.utf8))
        writer.addChannel(id: 1, schemaID: 1, topic: DatasetTopics.image, messageEncoding: "cdr")
        writer.addChannel(id: 2, schemaID: 2, topic: DatasetTopics.action, messageEncoding: "json")
        writer.addChannel(id: 3, schemaID: 3, topic: DatasetTopics.truth, messageEncoding: "json")
        writer.addChannel(id: 4, schemaID: 4, topic: DatasetTopics.episode, messageEncoding: "json")
        if runLog {
            writer.addSchema(id: 5, name: "cerebellum.Command", encoding: "jsonschema", data: Array(Self.commandSchema.utf8))
            writer.addSchema(id: 6, name: "cerebellum.Event", encoding: "jsonschema", data: Array(Self.eventSchema.utf8))
            writer.addChannel(id: 5, schemaID: 5, topic: DatasetTopics.command, messageEncoding: "json")
            writer.addChannel(id: 6, schemaID: 6, topic: DatasetTopics.event, messageEncoding: "json")
        }
        writer.addMetadata(name: "cerebellum", metadata)
        encoder.outputFormatting = [.sortedKeys]
    }

    private func put(_ channel: UInt16, _ time: Instant, _ data: [UInt8]) throws {
        let t = UInt64(max(0, time.nanoseconds))
        let s = sequence[channel, default: 0]
        sequence[channel] = s &+ 1
        try writer.write(channel: channel, sequence: s, logTime: t, publishTime: t, data: data)
        messages += 1
    }

    public func beginEpisode(_ index: Int, at time: Instant, info: [String: Double]) throws {
        try put(4, time, Array(try encoder.encode(EpisodeMessage(episode: index, event: "begin", info: info))))
    }

    public func endEpisode(_ index: Int, at time: Instant, info: [String: Double]) throws {
        try put(4, time, Array(try encoder.encode(EpisodeMessage(episode: index, event: "end", info: info))))
    }

    /// One tick: the frame, the action applied after it, and (simulation) the true position.
    public func step(frame: Frame, action: ActionMessage, truth: TruthMessage?, at time: Instant) throws {
        try put(1, frame.timestamp, CDRImage.encode(frame, frameID: "camera"))
        try self.action(action, at: time)
        if let truth { try self.truth(truth, at: frame.timestamp) }
    }

    /// A gray image of `width × height` bytes taken at `timestamp`.
    public func image(width: Int, height: Int, timestamp: Instant, pixels: UnsafeRawBufferPointer) throws {
        try put(1, timestamp, CDRImage.encode(width: width, height: height, timestamp: timestamp, pixels: pixels, frameID: "camera"))
    }

    /// The action applied after the frame written last.
    public func action(_ action: ActionMessage, at time: Instant) throws { try put(2, time, Array(try encoder.encode(action))) }

    /// The true position in the frame written last (simulated boards).
    public func truth(_ truth: TruthMessage, at time: Instant) throws { try put(3, time, Array(try encoder.encode(truth))) }

    /// A tick's command (run recordings).
    public func command(sample s: TickSample, episode: Int) throws {
        try put(5, s.time, Array(try encoder.encode(CommandMessage(sample: s, episode: episode))))
    }

    /// An event (run recordings).
    public func event(kind: String, label: String, text: String, at time: Instant) throws {
        try put(6, time, Array(try encoder.encode(EventMessage(kind: kind, label: label, text: text))))
    }

    public func finish() throws { try writer.finish() }

    static let actionSchema = #"""
        {"type":"object","title":"cerebellum.Action","properties":{"episode":{"type":"integer"},"step":{"type":"integer"},\#
        "efforts":{"type":"array","items":{"type":"number"},"description":"applied efforts per channel, -1..1"},\#
        "proposed":{"type":"array","items":{"type":"number"}},"state":{"type":"string"}}}
        """#
    static let truthSchema = #"""
        {"type":"object","title":"cerebellum.Truth","properties":{"episode":{"type":"integer"},"step":{"type":"integer"},\#
        "x":{"type":"number","description":"px"},"y":{"type":"number","description":"px"}}}
        """#
    public static let commandSchema = #"""
        {"type":"object","title":"cerebellum.Command","properties":{"episode":{"type":"integer"},"tick":{"type":"integer"},\#
        "proposed":{"type":"array","items":{"type":"number"},"description":"efforts the source proposed,\#
         -1..1; empty when it proposed nothing"},"origin":{"type":"string"},"applied":{"type":"array",\#
        "items":{"type":"number"},"description":"efforts the governor let through"},"state":{"type":"string"},\#
        "faults":{"type":"string"}}}
        """#
    static let eventSchema = #"""
        {"type":"object","title":"cerebellum.Event","properties":{"kind":{"type":"string"},"label":{"type":"string"},\#
        "text":{"type":"string"}}}
        """#
    static let episodeSchema = #"""
        {"type":"object","title":"cerebellum.Episode","properties":{"episode":{"type":"integer"},"event":{"type":"string",\#
        "enum":["begin","end"]},"info":{"type":"object","additionalProperties":{"type":"number"}}}}
        """#
}

/// Reads the episodes of a dataset recording. Every error names the file and the message.
public enum DatasetReader {
    /// Most efforts an action message may hold (a PCA9685 has 16 channels).
    public static let maxChannels = 16

    public static func episodes(path: String) throws -> (metadata: [String: String], episodes: [RecordedEpisode]) {
        try episodes(in: MCAPFile(path: path))
    }

    /// The episodes of a recording already read.
    public static func episodes(in file: MCAPFile) throws -> (metadata: [String: String], episodes: [RecordedEpisode]) {
        let path = file.path
        let meta = file.metadata.first { $0.name == "cerebellum" }?.values ?? [:]
        var topic: [UInt16: String] = [:]
        for (id, c) in file.channels { topic[id] = c.topic }
        for need in [DatasetTopics.image, DatasetTopics.action, DatasetTopics.episode] where !topic.values.contains(need) {
            throw MCAPError(path: path, "no \(need) channel: not a cerebellum recording")
        }
        let decoder = JSONDecoder()
        var out: [RecordedEpisode] = []
        var current: RecordedEpisode?
        var hasTruth = false
        var channels = 0
        for (n, m) in file.messages.enumerated() {
            let where_ = "message \(n) (\(topic[m.channel] ?? "?"))"
            func json<T: Decodable>(_ t: T.Type) throws -> T {
                do { return try decoder.decode(t, from: Data(file.payload(m))) } catch {
                    throw MCAPError(path: path, "\(where_): bad JSON: \(error)")
                }
            }
            switch topic[m.channel] {
            case DatasetTopics.episode:
                let e = try json(EpisodeMessage.self)
                if e.event == "begin" {
                    current = RecordedEpisode(
                        index: e.episode, width: 0, height: 0, frames: [], actions: [], channels: 0, positions: [],
                        info: e.info, source: "\(path)#\(e.episode)")
                    hasTruth = false
                } else if e.event == "end", var c = current {
                    if !hasTruth { c.positions = nil }
                    let n = c.frameCount
                    // An episode of fewer than two frames holds no transition (a recording started and stopped at
                    // once): nothing to learn from, and nothing wrong with the file.
                    guard n >= 2 else {
                        current = nil
                        continue
                    }
                    guard c.channels > 0, c.actions.count == c.channels * n else {
                        throw MCAPError(
                            path: path,
                            "\(where_): episode \(c.index) has \(n) frames but \(c.channels == 0 ? 0 : c.actions.count / c.channels) "
                                + "actions (one per frame)"
                        )
                    }
                    if let p = c.positions, p.count != 2 * n {
                        throw MCAPError(path: path, "\(where_): episode \(c.index) has \(n) frames but \(p.count / 2) truth positions")
                    }
                    c.info.merge(e.info) { _, new in new }
                    out.append(c)
                    current = nil
                }
            case DatasetTopics.image:
                guard current != nil else { throw MCAPError(path: path, "\(where_): frame outside an episode") }
                let img = try CDRImage.decode(file.payload(m), path: path, message: n)
                if current!.width == 0 { current!.width = img.width; current!.height = img.height }
                guard img.width == current!.width, img.height == current!.height else {
                    throw MCAPError(path: path, "\(where_): frame size \(img.width)×\(img.height) changed within an episode")
                }
                current!.frames.append(contentsOf: img.pixels)
            case DatasetTopics.action:
                guard current != nil else { throw MCAPError(path: path, "\(where_): action outside an episode") }
                let a = try json(ActionMessage.self)
                guard (1...maxChannels).contains(a.efforts.count) else {
                    throw MCAPError(
                        path: path, "\(where_): action has \(a.efforts.count) efforts, expected 1…\(maxChannels) (one per channel)")
                }
                if channels == 0 { channels = a.efforts.count }
                guard a.efforts.count == channels else {
                    throw MCAPError(path: path, "\(where_): action has \(a.efforts.count) efforts, the recording's first had \(channels)")
                }
                current!.channels = channels
                for e in a.efforts { current!.actions.append(Float(e)) }
            case DatasetTopics.truth:
                guard current != nil else { throw MCAPError(path: path, "\(where_): truth outside an episode") }
                let t = try json(TruthMessage.self)
                current!.positions!.append(Float(t.x))
                current!.positions!.append(Float(t.y))
                hasTruth = true
            default:
                break
            }
        }
        return (meta, out)
    }
}

/// `sensor_msgs/msg/Image` in CDR (little-endian), mono8 only: what ROS 2 tools and Foxglove show.
public enum CDRImage {
    /// The ros2msg schema with its dependencies, in the concatenated form ROS 2 bags use.
    public static let schemaText = """
        std_msgs/Header header
        uint32 height
        uint32 width
        string encoding
        uint8 is_bigendian
        uint32 step
        uint8[] data
        ================================================================================
        MSG: std_msgs/Header
        builtin_interfaces/Time stamp
        string frame_id
        ================================================================================
        MSG: builtin_interfaces/Time
        int32 sec
        uint32 nanosec

        """

    /// Encodes a gray frame; the stamp is the frame's timestamp on the robot's monotonic clock.
    public static func encode(_ frame: Frame, frameID: String) -> [UInt8] {
        frame.pixels.withUnsafeBytes {
            encode(width: frame.width, height: frame.height, timestamp: frame.timestamp, pixels: $0, frameID: frameID)
        }
    }

    /// Encodes `width × height` gray bytes taken at `timestamp`.
    public static func encode(width: Int, height: Int, timestamp: Instant, pixels: UnsafeRawBufferPointer, frameID: String) -> [UInt8] {
        var c = CDRBuilder()
        let ns = max(0, timestamp.nanoseconds)
        c.u32(UInt32(truncatingIfNeeded: ns / 1_000_000_000))
        c.u32(UInt32(ns % 1_000_000_000))
        c.string(frameID)
        c.u32(UInt32(height))
        c.u32(UInt32(width))
        c.string("mono8")
        c.u8(0)
        c.u32(UInt32(width))
        c.u32(UInt32(pixels.count))
        c.bytes.append(contentsOf: pixels)
        return c.bytes
    }

    /// Largest image side accepted from a recording (a recording is input from elsewhere).
    public static let maxSide = 4096

    public static func decode(_ payload: ArraySlice<UInt8>, path: String, message: Int) throws -> (
        width: Int, height: Int, pixels: ArraySlice<UInt8>
    ) {
        var r = CDRReader(bytes: payload, path: path, message: message)
        try r.header()
        _ = try r.u32(); _ = try r.u32()
        _ = try r.string()
        let h = Int(try r.u32()), w = Int(try r.u32())
        guard (1...maxSide).contains(w), (1...maxSide).contains(h) else {
            throw MCAPError(path: path, "message \(message): image \(w)×\(h) is outside 1...\(maxSide) per side")
        }
        let enc = try r.string()
        guard enc == "mono8" else { throw MCAPError(path: path, "message \(message): image encoding \(enc), only mono8 is supported") }
        _ = try r.u8()
        let step = Int(try r.u32())
        let n = Int(try r.u32())
        guard step == w, n == w * h else {
            throw MCAPError(path: path, "message \(message): image \(w)×\(h) with step \(step) and \(n) bytes")
        }
        return (w, h, try r.take(n))
    }
}

/// CDR writer: 4-byte encapsulation header (CDR_LE), then fields aligned to their size relative to
/// the end of the header.
struct CDRBuilder {
    var bytes: [UInt8] = [0x00, 0x01, 0x00, 0x00]
    mutating func align(_ n: Int) { while (bytes.count - 4) % n != 0 { bytes.append(0) } }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { align(4); withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Length including the terminating NUL, then the bytes and the NUL.
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count + 1)); bytes.append(contentsOf: u); bytes.append(0) }
}

struct CDRReader {
    let bytes: ArraySlice<UInt8>
    var pos: Int
    let path: String
    let message: Int
    init(bytes: ArraySlice<UInt8>, path: String, message: Int) {
        self.bytes = bytes
        pos = bytes.startIndex
        self.path = path
        self.message = message
    }
    func fail(_ why: String) -> MCAPError { MCAPError(path: path, "message \(message): CDR \(why)") }
    mutating func header() throws {
        let h = try take(4)
        guard h[h.startIndex] == 0, h[h.startIndex + 1] == 1 else { throw fail("encapsulation is not little-endian CDR") }
    }
    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, pos + n <= bytes.endIndex else { throw fail("runs past the end at offset \(pos - bytes.startIndex)") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }
    mutating func align(_ n: Int) { while (pos - bytes.startIndex - 4) % n != 0 { pos += 1 } }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u32() throws -> UInt32 {
        align(4)
        let b = try take(4)
        var v: UInt32 = 0
        for (i, x) in b.enumerated() { v |= UInt32(x) << (8 * UInt32(i)) }
        return v
    }
    mutating func string() throws -> String {
        let n = Int(try u32())
        guard n >= 1 else { throw fail("string without its NUL") }
        let b = try take(n)
        return String(decoding: b.dropLast(), as: UTF8.self)
    }
}
