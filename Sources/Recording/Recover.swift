import Foundation
import RobotCore

/// What `recoverRecording` found and kept.
public struct RecoveryReport: Sendable, Equatable {
    /// Bytes of the cut file, and how many of them were kept.
    public var originalBytes: Int
    public var keptBytes: Int
    public var messages: Int
    /// Frames kept; a frame written without its action at the cut is dropped with it.
    public var frames: Int
    /// Episodes in the recovered file; an episode open at the cut is closed with an end marker.
    public var episodes: Int
    public var closedEpisode: Bool
    /// The file already ended properly: nothing to recover.
    public var wasComplete: Bool
}

/// Closes a dataset recording that was cut short (the process killed, the power lost): keeps every
/// complete record up to the last point where each episode's frames and actions pair up, closes the episode
/// open there, and ends the file with a data-end record and a footer (no summary section, which MCAP
/// allows), so `MCAPFile`, Python's `mcap` and `train` read it. A file that ended properly is left as it is.
/// Returns the recovered bytes; throws when the file is not an MCAP recording at all.
public func recoverRecording(_ bytes: [UInt8], path: String) throws -> (bytes: [UInt8], report: RecoveryReport) {
    guard bytes.count >= 8, Array(bytes[0..<8]) == mcapMagic else { throw MCAPError(path: path, "not an MCAP file (bad magic)") }
    if bytes.count >= 16, Array(bytes[(bytes.count - 8)...]) == mcapMagic, let file = try? MCAPFile(bytes: bytes, path: path) {
        let episodes = (try? DatasetReader.episodes(in: file))?.episodes ?? []
        return (
            bytes,
            RecoveryReport(
                originalBytes: bytes.count, keptBytes: bytes.count, messages: file.messages.count,
                frames: episodes.reduce(0) { $0 + $1.frameCount }, episodes: episodes.count, closedEpisode: false, wasComplete: true)
        )
    }
    var topics: [UInt16: String] = [:]
    var episodeChannel: UInt16?
    var episodeSequence: UInt32 = 0
    // Per open episode: frames, actions and truths so far; a cut is clean where they pair up.
    var open: Int?
    var images = 0, actions = 0, truths = 0
    var cut = 8, cutMessages = 0, cutFrames = 0, cutEpisodes = 0, cutOpen: Int?, cutTime: UInt64 = 0
    var messages = 0, frames = 0, episodes = 0, lastTime: UInt64 = 0
    var pos = 8
    let decoder = JSONDecoder()
    scan: while pos + 9 <= bytes.count {
        let op = bytes[pos]
        let len = MCAPFile.u64(bytes, pos + 1)
        let start = pos + 9
        guard len <= UInt64(bytes.count - start) else { break }  // cut inside this record
        let end = start + Int(len)
        var f = FieldReader(bytes: bytes, pos: start, end: end, path: path)
        switch MCAPOpcode(rawValue: op) {
        case .channel?:
            guard let id = try? f.u16(), (try? f.u16()) != nil, let topic = try? f.string() else { break scan }
            topics[id] = topic
            if topic == DatasetTopics.episode { episodeChannel = id }
        case .message?:
            guard let ch = try? f.u16(), let seq = try? f.u32(), let time = try? f.u64(), (try? f.u64()) != nil else { break scan }
            messages += 1
            lastTime = max(lastTime, time)
            switch topics[ch] {
            case DatasetTopics.episode?:
                episodeSequence = max(episodeSequence, seq &+ 1)
                guard let e = try? decoder.decode(EpisodeMessage.self, from: Data(bytes[f.pos..<end])) else { break scan }
                if e.event == "begin" {
                    open = e.episode
                    images = 0; actions = 0; truths = 0
                } else {
                    open = nil
                    episodes += 1
                }
            case DatasetTopics.image?: images += 1; frames += 1
            case DatasetTopics.action?: actions += 1
            case DatasetTopics.truth?: truths += 1
            default: break
            }
        case .dataEnd?, .footer?:
            break scan
        default:
            break
        }
        pos = end
        if images == actions && (truths == 0 || truths == images) {
            (cut, cutMessages, cutFrames, cutEpisodes, cutOpen, cutTime) = (pos, messages, frames, episodes, open, lastTime)
        }
    }
    var out = Array(bytes[0..<cut])
    var closed = false
    if let episode = cutOpen, let channel = episodeChannel {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = Array(try encoder.encode(EpisodeMessage(episode: episode, event: "end", info: ["recovered": 1])))
        var r = RecordBuilder()
        r.u16(channel); r.u32(episodeSequence); r.u64(cutTime); r.u64(cutTime)
        r.bytes.append(contentsOf: body)
        out += RecordBuilder.header(.message, length: r.bytes.count) + r.bytes
        cutMessages += 1
        cutEpisodes += 1
        closed = true
    }
    var dataEnd = RecordBuilder()
    dataEnd.u32(0)  // no data CRC: allowed, and a reader skips the check
    out += RecordBuilder.header(.dataEnd, length: dataEnd.bytes.count) + dataEnd.bytes
    var footer = RecordBuilder()
    footer.u64(0); footer.u64(0); footer.u32(0)  // no summary section
    out += RecordBuilder.header(.footer, length: footer.bytes.count) + footer.bytes
    out += mcapMagic
    return (
        out,
        RecoveryReport(
            originalBytes: bytes.count, keptBytes: cut, messages: cutMessages, frames: cutFrames, episodes: cutEpisodes,
            closedEpisode: closed, wasComplete: false)
    )
}
