import Foundation
import RobotCore

/// MCAP record opcodes (mcap.dev specification, version 0).
public enum MCAPOpcode: UInt8, Sendable {
    case header = 0x01, footer = 0x02, schema = 0x03, channel = 0x04, message = 0x05, chunk = 0x06
    case messageIndex = 0x07, chunkIndex = 0x08, attachment = 0x09, attachmentIndex = 0x0A
    case statistics = 0x0B, metadata = 0x0C, metadataIndex = 0x0D, summaryOffset = 0x0E, dataEnd = 0x0F
}

public struct MCAPError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public init(path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// The 8-byte magic at both ends of an MCAP file.
let mcapMagic: [UInt8] = [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A]

/// Little-endian field encoding of MCAP records.
struct RecordBuilder {
    var bytes: [UInt8] = []

    /// A record's opening: its opcode and the body's length.
    static func header(_ op: MCAPOpcode, length: Int) -> [UInt8] {
        var r = RecordBuilder()
        r.u8(op.rawValue)
        r.u64(UInt64(length))
        return r.bytes
    }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes.append(contentsOf: u) }
    mutating func byteArray(_ b: [UInt8]) { u32(UInt32(b.count)); bytes.append(contentsOf: b) }
    mutating func stringMap(_ m: [String: String]) {
        var inner = RecordBuilder()
        for k in m.keys.sorted() { inner.string(k); inner.string(m[k]!) }
        byteArray(inner.bytes)
    }
}

/// Writes an MCAP file: unchunked messages in the data section, then a summary section (schemas,
/// channels, statistics, metadata index) with summary-offset records, so readers can seek. The data
/// and summary CRCs are computed. Records are buffered and written to the file in blocks.
/// Written here because no Swift MCAP package resolves for this build; the format is small (little-endian
/// records, mcap.dev v0), and what it writes is read back in the tests by Python's `mcap` package, an
/// independent implementation, as well as by `MCAPFile`.
public final class MCAPWriter {
    public let path: String
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var offset: UInt64 = 0
    private var dataCRC = CRC32()
    private var schemas: [(id: UInt16, record: [UInt8])] = []
    private var channels: [(id: UInt16, record: [UInt8])] = []
    private var metadataIndex: [(offset: UInt64, length: UInt64, name: String)] = []
    private var messageCount: UInt64 = 0
    private var channelCounts: [UInt16: UInt64] = [:]
    private var firstTime: UInt64 = .max, lastTime: UInt64 = 0
    private var finished = false

    /// Creates (truncates) `path` and writes the magic and header.
    public init(path: String, profile: String = "", library: String = "cerebellum") throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw MCAPError(path: path, "cannot create the file")
        }
        handle = h
        emit(mcapMagic)
        var r = RecordBuilder()
        r.string(profile)
        r.string(library)
        record(.header, r.bytes)
    }

    private func emit(_ b: [UInt8]) {
        pending.append(contentsOf: b)
        offset += UInt64(b.count)
    }

    @discardableResult
    private func record(_ op: MCAPOpcode, _ body: [UInt8]) -> (offset: UInt64, length: UInt64) {
        let start = offset
        emit(RecordBuilder.header(op, length: body.count))
        emit(body)
        return (start, offset - start)
    }

    /// Bytes handed to the file so far.
    public private(set) var bytesWritten: UInt64 = 0

    /// Writes what is buffered to the file and has the kernel put it on the storage (fsync): a recorder calls
    /// it every half second, so a recording cut by a crash or a power loss loses at most that much.
    public func sync() throws {
        try flush()
        do { try handle.synchronize() } catch { throw MCAPError(path: path, "fsync failed: \(error.localizedDescription)") }
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        if !finished { dataCRC.update(pending) }
        do { try handle.write(contentsOf: pending) } catch { throw MCAPError(path: path, "write failed: \(error.localizedDescription)") }
        bytesWritten += UInt64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Registers a schema (e.g. name "sensor_msgs/msg/Image", encoding "ros2msg").
    public func addSchema(id: UInt16, name: String, encoding: String, data: [UInt8]) {
        var r = RecordBuilder()
        r.u16(id); r.string(name); r.string(encoding); r.byteArray(data)
        schemas.append((id, r.bytes))
        record(.schema, r.bytes)
    }

    /// Registers a channel (a topic with a message encoding such as "cdr" or "json").
    public func addChannel(id: UInt16, schemaID: UInt16, topic: String, messageEncoding: String, metadata: [String: String] = [:]) {
        var r = RecordBuilder()
        r.u16(id); r.u16(schemaID); r.string(topic); r.string(messageEncoding); r.stringMap(metadata)
        channels.append((id, r.bytes))
        record(.channel, r.bytes)
    }

    /// Writes one message; times are nanoseconds.
    public func write(channel: UInt16, sequence: UInt32, logTime: UInt64, publishTime: UInt64, data: [UInt8]) throws {
        var r = RecordBuilder()
        r.bytes.reserveCapacity(22 + data.count)
        r.u16(channel); r.u32(sequence); r.u64(logTime); r.u64(publishTime)
        r.bytes.append(contentsOf: data)
        record(.message, r.bytes)
        messageCount += 1
        channelCounts[channel, default: 0] += 1
        firstTime = min(firstTime, logTime)
        lastTime = max(lastTime, logTime)
        if pending.count > 1 << 20 { try flush() }
    }

    /// A named key-value record (e.g. the board and calibration a dataset was recorded with).
    public func addMetadata(name: String, _ values: [String: String]) {
        var r = RecordBuilder()
        r.string(name); r.stringMap(values)
        let (o, l) = record(.metadata, r.bytes)
        metadataIndex.append((o, l, name))
    }

    /// Ends the data section, writes the summary and footer, and closes the file.
    public func finish() throws {
        precondition(!finished, "MCAP writer finished twice")
        try flush()
        var end = RecordBuilder()
        end.u32(dataCRC.value)
        record(.dataEnd, end.bytes)
        finished = true
        try flush()

        let summaryStart = offset
        var summaryCRC = CRC32()
        var groups: [(MCAPOpcode, UInt64, UInt64)] = []
        func group(_ op: MCAPOpcode, _ bodies: [[UInt8]]) {
            guard !bodies.isEmpty else { return }
            let start = offset
            for b in bodies { record(op, b) }
            groups.append((op, start, offset - start))
        }
        group(.schema, schemas.sorted { $0.id < $1.id }.map(\.record))
        group(.channel, channels.sorted { $0.id < $1.id }.map(\.record))
        var stats = RecordBuilder()
        stats.u64(messageCount); stats.u16(UInt16(schemas.count)); stats.u32(UInt32(channels.count))
        stats.u32(0); stats.u32(UInt32(metadataIndex.count)); stats.u32(0)
        stats.u64(messageCount == 0 ? 0 : firstTime); stats.u64(lastTime)
        var counts = RecordBuilder()
        for k in channelCounts.keys.sorted() { counts.u16(k); counts.u64(channelCounts[k]!) }
        stats.byteArray(counts.bytes)
        group(.statistics, [stats.bytes])
        group(
            .metadataIndex,
            metadataIndex.map { m in
                var r = RecordBuilder(); r.u64(m.offset); r.u64(m.length); r.string(m.name); return r.bytes
            })
        let summaryOffsetStart = offset
        for (op, start, length) in groups {
            var r = RecordBuilder(); r.u8(op.rawValue); r.u64(start); r.u64(length)
            record(.summaryOffset, r.bytes)
        }
        var footerHead = RecordBuilder()
        footerHead.u8(MCAPOpcode.footer.rawValue); footerHead.u64(20); footerHead.u64(summaryStart); footerHead.u64(summaryOffsetStart)
        summaryCRC.update(pending)
        summaryCRC.update(footerHead.bytes)
        var footer = footerHead
        footer.u32(summaryCRC.value)
        emit(footer.bytes)
        emit(mcapMagic)
        try flush()
        try handle.close()
    }
}

/// One message as read back.
public struct MCAPMessage: Sendable {
    public var channel: UInt16
    public var sequence: UInt32
    public var logTime: UInt64
    public var publishTime: UInt64
    /// Byte range of the payload in the file's data.
    public var payload: Range<Int>
}

public struct MCAPChannel: Sendable, Equatable {
    public var id: UInt16
    public var schemaID: UInt16
    public var topic: String
    public var messageEncoding: String
}

public struct MCAPSchema: Sendable, Equatable {
    public var id: UInt16
    public var name: String
    public var encoding: String
    /// Byte range of the schema's data (its definition) in the file's data.
    public var data: Range<Int> = 0..<0
}

/// Reads a whole MCAP file written without chunks (what `MCAPWriter` writes), checking the magic,
/// every record's length, and the data-section CRC. Errors name the file and the byte offset.
public struct MCAPFile: Sendable {
    public let path: String
    public let data: [UInt8]
    public var schemas: [UInt16: MCAPSchema] = [:]
    public var channels: [UInt16: MCAPChannel] = [:]
    public var messages: [MCAPMessage] = []
    public var metadata: [(name: String, values: [String: String])] = []
    public var profile = ""

    public init(path: String) throws {
        guard let d = FileManager.default.contents(atPath: path) else { throw MCAPError(path: path, "cannot read the file") }
        try self.init(bytes: [UInt8](d), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        self.path = path
        data = bytes
        guard bytes.count >= 16, Array(bytes[0..<8]) == mcapMagic else { throw MCAPError(path: path, "not an MCAP file (bad magic)") }
        guard Array(bytes[(bytes.count - 8)...]) == mcapMagic else {
            throw MCAPError(
                path: path, "truncated: no closing magic (the recording did not finish; `cerebellum recover \(path)` closes it)")
        }
        var pos = 8
        var dataCRC = CRC32()  // over everything before the DataEnd record, the opening magic included
        dataCRC.update(bytes[0..<8])
        var sawDataEnd = false
        while pos < bytes.count - 8 {
            guard pos + 9 <= bytes.count else { throw MCAPError(path: path, "record header cut off at byte \(pos)") }
            let op = bytes[pos]
            let len = Self.u64(bytes, pos + 1)
            let start = pos + 9
            guard start <= bytes.count - 8, len <= UInt64(bytes.count - 8 - start) else {
                throw MCAPError(path: path, "record at byte \(pos) (opcode 0x\(String(op, radix: 16))) runs past the end")
            }
            let end = start + Int(len)
            var f = FieldReader(bytes: bytes, pos: start, end: end, path: path)
            if !sawDataEnd, op != MCAPOpcode.dataEnd.rawValue { dataCRC.update(bytes[pos..<end]) }
            switch MCAPOpcode(rawValue: op) {
            case .header?:
                profile = try f.string()
            case .schema? where !sawDataEnd:
                let id = try f.u16(), name = try f.string(), enc = try f.string()
                let n = Int(try f.u32())
                schemas[id] = MCAPSchema(id: id, name: name, encoding: enc, data: try f.take(n))
            case .channel? where !sawDataEnd:
                let id = try f.u16(), sid = try f.u16(), topic = try f.string(), enc = try f.string()
                guard sid == 0 || schemas[sid] != nil else {
                    throw MCAPError(path: path, "channel \(topic) at byte \(pos) names unknown schema \(sid)")
                }
                channels[id] = MCAPChannel(id: id, schemaID: sid, topic: topic, messageEncoding: enc)
            case .message?:
                let ch = try f.u16(), seq = try f.u32(), lt = try f.u64(), pt = try f.u64()
                guard channels[ch] != nil else { throw MCAPError(path: path, "message at byte \(pos) on unknown channel \(ch)") }
                messages.append(MCAPMessage(channel: ch, sequence: seq, logTime: lt, publishTime: pt, payload: f.pos..<end))
            case .metadata? where !sawDataEnd:
                let name = try f.string()
                metadata.append((name, try f.stringMap()))
            case .chunk?:
                throw MCAPError(path: path, "chunked MCAP (record at byte \(pos)) is not supported by this reader")
            case .dataEnd?:
                let crc = try f.u32()
                if crc != 0, crc != dataCRC.value {
                    throw MCAPError(path: path, "data section CRC mismatch (stored \(crc), computed \(dataCRC.value)): the file is corrupt")
                }
                sawDataEnd = true
            case .footer?:
                pos = end
                continue
            default:
                break  // other records (summary, indexes, attachments) are not needed to read messages
            }
            pos = end
        }
        if pos != bytes.count - 8 { throw MCAPError(path: path, "records do not end at the closing magic") }
    }

    public func payload(_ m: MCAPMessage) -> ArraySlice<UInt8> { data[m.payload] }

    static func u64(_ b: [UInt8], _ p: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[p + i]) << (8 * UInt64(i)) }
        return v
    }
}

/// Reads little-endian fields inside one record, failing at the record's end.
struct FieldReader {
    let bytes: [UInt8]
    var pos: Int
    let end: Int
    let path: String

    mutating func take(_ n: Int) throws -> Range<Int> {
        guard n >= 0, pos + n <= end else { throw MCAPError(path: path, "field runs past its record at byte \(pos)") }
        defer { pos += n }
        return pos..<(pos + n)
    }
    mutating func u16() throws -> UInt16 { let r = try take(2); return UInt16(bytes[r.lowerBound]) | UInt16(bytes[r.lowerBound + 1]) << 8 }
    mutating func u32() throws -> UInt32 {
        let r = try take(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[r.lowerBound + i]) << (8 * UInt32(i)) }
        return v
    }
    mutating func u64() throws -> UInt64 { let r = try take(8); return MCAPFile.u64(bytes, r.lowerBound) }
    mutating func string() throws -> String {
        let n = Int(try u32())
        let r = try take(n)
        guard let s = String(validating: bytes[r], as: UTF8.self) else {
            throw MCAPError(path: path, "invalid UTF-8 at byte \(r.lowerBound)")
        }
        return s
    }
    mutating func stringMap() throws -> [String: String] {
        let n = Int(try u32())
        let stop = pos + n
        guard stop <= end else { throw MCAPError(path: path, "map runs past its record at byte \(pos)") }
        var out: [String: String] = [:]
        while pos < stop { let k = try string(); out[k] = try string() }
        return out
    }
}
