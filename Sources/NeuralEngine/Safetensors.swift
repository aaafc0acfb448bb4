import Foundation

/// Why a safetensors file was rejected; `description` names the file and the reason.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// A safetensors file (huggingface.co/docs/safetensors): an 8-byte little-endian header length,
/// a JSON header mapping each tensor name to `dtype`, `shape` and `data_offsets` (relative to the
/// start of the data), an optional `__metadata__` map of strings, then the packed data.
public struct SafetensorsFile: Sendable {
    public var tensors: [String: AnyTensor]
    public var metadata: [String: String]

    public init(tensors: [String: AnyTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Largest header accepted, bytes (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    /// Tensor `name` as `S`, or an error naming the tensor, its dtype and its shape.
    public func tensor<S: TensorScalar>(_ name: String, _: S.Type, shape: [Int]? = nil, path: String = "") throws -> Tensor<S> {
        guard let any = tensors[name] else {
            throw SafetensorsError(path: path, reason: "missing tensor \"\(name)\"")
        }
        guard let t = any.as(S.self) else {
            throw SafetensorsError(path: path, reason: "tensor \"\(name)\" is \(any.dtype.rawValue), expected \(S.dtype.rawValue)")
        }
        if let shape, shape != t.shape {
            throw SafetensorsError(path: path, reason: "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
        }
        return t
    }

    // MARK: reading

    public static func read(path: String) throws -> SafetensorsFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SafetensorsError(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, path: path)
    }

    /// Parses and validates a whole file held in memory.
    public static func parse(_ data: Data, path: String = "<memory>") throws -> SafetensorsFile {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, the 8-byte header length is missing") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maxHeaderBytes) else { throw fail("header length \(headerLength) exceeds \(maxHeaderBytes) bytes") }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= bytes.count else {
            throw fail("truncated: header says \(headerLength) bytes but only \(bytes.count - 8) follow the length")
        }
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw fail("header is not JSON: it must be an object starting with '{'")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) } catch {
            throw fail("header is not JSON: \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not JSON object") }
        let dataCount = bytes.count - headerEnd

        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let map = meta as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (key, value) in map {
                guard let s = value as? String else { throw fail("__metadata__.\(key) is not a string") }
                metadata[key] = s
            }
        }

        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any] else { throw fail("tensor \"\(name)\": entry is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("tensor \"\(name)\": missing dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                let known = ["BOOL", "U8", "I16", "U16", "F16", "BF16", "U32", "I64", "U64", "F64", "F8_E4M3", "F8_E5M2"]
                if known.contains(dtypeName) {
                    throw fail("tensor \"\(name)\": dtype \(dtypeName) is not supported (F32, I8, I32 are)")
                }
                throw fail("tensor \"\(name)\": unknown dtype \"\(dtypeName)\"")
            }
            guard let shapeValues = info["shape"] as? [Any] else { throw fail("tensor \"\(name)\": missing shape") }
            var shape: [Int] = []
            for v in shapeValues {
                guard let n = exactInt(v), n >= 0 else {
                    throw fail("tensor \"\(name)\": shape \(shapeValues) is not a list of non-negative integers")
                }
                shape.append(n)
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]), begin >= 0, end >= begin
            else { throw fail("tensor \"\(name)\": data_offsets must be [begin, end] with 0 ≤ begin ≤ end") }
            guard end <= dataCount else {
                throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] out of range (data is \(dataCount) bytes; file truncated?)")
            }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \"\(name)\": shape \(shape) overflows") }
                elements = p
            }
            let (bytes, tooBig) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !tooBig, bytes == end - begin else {
                throw fail(
                    "tensor \"\(name)\": shape \(shape) × \(dtype.rawValue) is \(tooBig ? "more than Int.max" : "\(bytes)") bytes but "
                        + "data_offsets span \(end - begin)"
                )
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected = 0
        for (i, e) in entries.enumerated() {
            if e.begin < expected {
                let prev = entries[i - 1]
                throw fail("tensors \"\(prev.name)\" [\(prev.begin), \(prev.end)] and \"\(e.name)\" [\(e.begin), \(e.end)] overlap")
            }
            if e.begin > expected { throw fail("gap in data: bytes [\(expected), \(e.begin)) belong to no tensor") }
            expected = e.end
        }
        if expected != dataCount { throw fail("data has \(dataCount - expected) trailing bytes that belong to no tensor") }

        var tensors: [String: AnyTensor] = [:]
        bytes.withUnsafeBytes { raw in
            for e in entries {
                let src = UnsafeRawBufferPointer(rebasing: raw[(headerEnd + e.begin)..<(headerEnd + e.end)])
                switch e.dtype {
                case .f32: tensors[e.name] = .f32(load(src, shape: e.shape))
                case .i8: tensors[e.name] = .i8(load(src, shape: e.shape))
                case .i32: tensors[e.name] = .i32(load(src, shape: e.shape))
                }
            }
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    private static func load<S: TensorScalar>(_ src: UnsafeRawBufferPointer, shape: [Int]) -> Tensor<S> {
        let t = Tensor<S>(shape: shape)
        if src.count > 0 { UnsafeMutableRawPointer(t.pointer).copyMemory(from: src.baseAddress!, byteCount: src.count) }
        return t
    }

    /// An integral JSON number as Int (nil for fractions, strings, or values past 2^53).
    private static func exactInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return n.intValue
    }

    // MARK: writing

    /// The file's bytes: tensors sorted by name, header padded with spaces to a multiple of 8.
    public func serialized() throws -> Data {
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        var offset = 0
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.byteCount]] as [String: Any]
            offset += t.byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names { tensors[name]!.withRawBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes the file atomically (a temporary file renamed over `path`).
    public func write(path: String) throws {
        try serialized().write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
