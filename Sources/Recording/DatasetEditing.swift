import Foundation
import RobotCore

/// What a recording holds, episode by episode (`cerebellum data info`).
public struct RecordingInfo: Sendable {
    public struct Episode: Sendable {
        public var index: Int
        public var frames = 0
        /// From the first frame to the last, s.
        public var seconds = 0.0
        /// Ticks per command origin ("autonomy", "teleop") in run recordings.
        public var origins: [String: Int] = [:]
        /// Operator marks: label, note, seconds from the recording's start.
        public var marks: [(label: String, note: String, at: Double)] = []
        /// The begin and end markers' facts (world layout, success, steps).
        public var info: [String: Double] = [:]
        /// The end marker was seen (false: the recording was cut inside this episode).
        public var ended = false
        var firstFrame: UInt64?
        var lastFrame: UInt64 = 0
    }
    public var path: String
    public var metadata: [String: String]
    public var episodes: [Episode] = []
    public var messages = 0
    public var frames: Int { episodes.reduce(0) { $0 + $1.frames } }
    /// From the first message to the last, s.
    public var seconds = 0.0
    public var hasTruth = false
    public var hasCommands = false
}

/// Reads what `RecordingInfo` says of `file`. Throws (naming the file) on a message it cannot decode.
public func recordingInfo(_ file: MCAPFile) throws -> RecordingInfo {
    var out = RecordingInfo(path: file.path, metadata: file.metadata.first { $0.name == "cerebellum" }?.values ?? [:])
    let topics = Dictionary(uniqueKeysWithValues: file.channels.values.map { ($0.id, $0.topic) })
    let decoder = JSONDecoder()
    let first = file.messages.map(\.logTime).min() ?? 0, last = file.messages.map(\.logTime).max() ?? 0
    out.messages = file.messages.count
    out.seconds = Double(last &- first) / 1e9
    var current: Int?
    func json<T: Decodable>(_ t: T.Type, _ m: MCAPMessage, _ n: Int) throws -> T {
        do { return try decoder.decode(t, from: Data(file.payload(m))) } catch {
            throw MCAPError(path: file.path, "message \(n) (\(topics[m.channel] ?? "?")): bad JSON: \(error)")
        }
    }
    for (n, m) in file.messages.enumerated() {
        switch topics[m.channel] {
        case DatasetTopics.episode:
            let e = try json(EpisodeMessage.self, m, n)
            if e.event == "begin" {
                out.episodes.append(RecordingInfo.Episode(index: e.episode, info: e.info))
                current = out.episodes.count - 1
            } else if let c = current {
                out.episodes[c].info.merge(e.info) { _, new in new }
                out.episodes[c].ended = true
                current = nil
            }
        case DatasetTopics.image:
            guard let c = current else { continue }
            out.episodes[c].frames += 1
            out.episodes[c].firstFrame = out.episodes[c].firstFrame ?? m.logTime
            out.episodes[c].lastFrame = m.logTime
            out.episodes[c].seconds = Double(m.logTime &- out.episodes[c].firstFrame!) / 1e9
        case DatasetTopics.truth:
            out.hasTruth = true
        case DatasetTopics.command:
            out.hasCommands = true
            guard let c = current else { continue }
            out.episodes[c].origins[try json(CommandMessage.self, m, n).origin, default: 0] += 1
        case DatasetTopics.event:
            let e = try json(EventMessage.self, m, n)
            if e.kind == "mark", let c = current {
                out.episodes[c].marks.append((e.label, e.text, Double(m.logTime &- first) / 1e9))
            }
        default:
            break
        }
    }
    return out
}

/// What `writeWindow` kept.
public struct WindowReport: Sendable, Equatable {
    public var frames = 0
    public var episodes = 0
    public var messages = 0
}

/// Writes the part of `file` whose messages fall in `window` (nanoseconds on the recording's clock) to
/// `path`: a frame is kept when its image is in the window, and its action and truth go with it; commands
/// and events by their own time. An episode cut by the window starts at its first kept frame and is closed at
/// its last one (its end marker says `trimmed`). Schemas, channels and metadata are copied; a `cerebellum.edit`
/// metadata record names the source and the window.
@discardableResult
public func writeWindow(of file: MCAPFile, window: Range<UInt64>, path: String) throws -> WindowReport {
    let writer = try MCAPWriter(path: path, profile: file.profile, library: "cerebellum")
    for s in file.schemas.values.sorted(by: { $0.id < $1.id }) {
        writer.addSchema(id: s.id, name: s.name, encoding: s.encoding, data: Array(file.data[s.data]))
    }
    for c in file.channels.values.sorted(by: { $0.id < $1.id }) {
        writer.addChannel(id: c.id, schemaID: c.schemaID, topic: c.topic, messageEncoding: c.messageEncoding)
    }
    for m in file.metadata { writer.addMetadata(name: m.name, m.values) }
    writer.addMetadata(
        name: "cerebellum.edit",
        ["source": file.path, "from_ns": String(window.lowerBound), "to_ns": String(window.upperBound)])
    let topics = Dictionary(uniqueKeysWithValues: file.channels.values.map { ($0.id, $0.topic) })
    let episodeChannel = file.channels.values.first { $0.topic == DatasetTopics.episode }?.id
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var report = WindowReport()
    var pendingBegin: (message: MCAPMessage, episode: Int)?  // the open episode's begin marker, not yet written
    var openIndex: Int?  // the open episode, once its begin is written
    var lastKept: UInt64 = window.lowerBound
    var frameKept = false
    func put(_ m: MCAPMessage, at time: UInt64? = nil) throws {
        let t = time ?? m.logTime
        try writer.write(channel: m.channel, sequence: m.sequence, logTime: t, publishTime: t, data: Array(file.payload(m)))
        report.messages += 1
    }
    func closeOpen(at time: UInt64) throws {
        guard let index = openIndex, let channel = episodeChannel else { return }
        let body = Array(try encoder.encode(EpisodeMessage(episode: index, event: "end", info: ["trimmed": 1])))
        try writer.write(channel: channel, sequence: 0, logTime: time, publishTime: time, data: body)
        report.messages += 1
        report.episodes += 1
        openIndex = nil
    }
    let decoder = JSONDecoder()
    for m in file.messages {
        let inside = window.contains(m.logTime)
        switch topics[m.channel] {
        case DatasetTopics.episode:
            guard let e = try? decoder.decode(EpisodeMessage.self, from: Data(file.payload(m))) else { continue }
            if e.event == "begin" {
                try closeOpen(at: lastKept)
                pendingBegin = (m, e.episode)
            } else if openIndex != nil {
                if inside {
                    try put(m)
                    openIndex = nil
                    report.episodes += 1
                } else {
                    try closeOpen(at: lastKept)
                }
            } else {
                pendingBegin = nil
            }
        case DatasetTopics.image:
            frameKept = inside && (pendingBegin != nil || openIndex != nil)
            guard frameKept else { continue }
            if let begin = pendingBegin {
                try put(begin.message, at: m.logTime)
                openIndex = begin.episode
                pendingBegin = nil
            }
            try put(m)
            report.frames += 1
            lastKept = m.logTime
        case DatasetTopics.action, DatasetTopics.truth:
            if frameKept { try put(m) }
        default:
            if inside { try put(m) }
        }
    }
    try closeOpen(at: lastKept)
    try writer.finish()
    return report
}
