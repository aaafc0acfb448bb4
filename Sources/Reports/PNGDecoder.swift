import Foundation
import RobotCore

/// A PNG file that cannot be used, with the reason.
public struct ImageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An 8-bit gray image, row-major.
public struct GrayImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    /// Reads a PNG file (8-bit gray, gray+alpha, RGB or RGBA; not interlaced) as gray
    /// (ITU-R BT.601 luma for colour). Errors name the file and what is wrong.
    public static func readPNG(path: String) throws -> GrayImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw ImageError("\(path): cannot read the file") }
        do { return try decodePNG([UInt8](data)) } catch let e as ImageError { throw ImageError("\(path): \(e.description)") }
    }

    /// Largest width and height accepted: a PNG is untrusted input (a goal image), and its size is
    /// memory this process allocates (4096² RGBA inflates to 64 MiB at most).
    public static let maxSide = 4096

    public static func decodePNG(_ bytes: [UInt8]) throws -> GrayImage {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw ImageError("not a PNG file (bad signature)") }
        var at = 8
        var width = 0, height = 0, colorType = -1
        var idat: [UInt8] = []
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var sawEnd = false
        while at + 12 <= bytes.count {
            let length = u32(at)
            guard length <= bytes.count - at - 12 else { throw ImageError("chunk at byte \(at) runs past the end of the file") }
            let type = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
            let body = at + 8
            var crc = CRC32()
            crc.update(Array(bytes[(at + 4)..<(body + length)]))
            guard crc.value == UInt32(u32(body + length)) else { throw ImageError("\(type) chunk at byte \(at): CRC mismatch") }
            switch type {
            case "IHDR":
                guard length == 13 else { throw ImageError("IHDR has \(length) bytes, expected 13") }
                width = u32(body); height = u32(body + 4)
                let depth = Int(bytes[body + 8]); colorType = Int(bytes[body + 9])
                guard depth == 8 else { throw ImageError("bit depth \(depth) is not supported (8 only)") }
                guard [0, 2, 4, 6].contains(colorType) else {
                    throw ImageError("colour type \(colorType) is not supported (gray, RGB, with or without alpha)")
                }
                guard bytes[body + 12] == 0 else { throw ImageError("interlaced PNGs are not supported") }
                guard width > 0, height > 0, width <= GrayImage.maxSide, height <= GrayImage.maxSide else {
                    throw ImageError("size \(width)×\(height) is out of range (1...\(GrayImage.maxSide) per side)")
                }
            case "IDAT": idat += bytes[body..<(body + length)]
            case "IEND": sawEnd = true
            default: break
            }
            at = body + length + 4
            if sawEnd { break }
        }
        guard colorType >= 0 else { throw ImageError("no IHDR chunk") }
        guard sawEnd else { throw ImageError("no IEND chunk (truncated file?)") }
        let channels = [0: 1, 2: 3, 4: 2, 6: 4][colorType]!
        let stride = width * channels
        // The image data inflates to exactly this; a stream that would give more is refused as it inflates.
        let raw = try zlibDecompress(idat, maxOutput: height * (stride + 1))
        guard raw.count >= height * (stride + 1) else {
            throw ImageError("image data holds \(raw.count) bytes, \(height * (stride + 1)) needed")
        }
        var previous = [UInt8](repeating: 0, count: stride), row = [UInt8](repeating: 0, count: stride)
        var gray = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            let base = y * (stride + 1), filter = raw[base]
            for i in 0..<stride {
                let x = raw[base + 1 + i]
                let a = i >= channels ? row[i - channels] : 0, b = previous[i], c = i >= channels ? previous[i - channels] : 0
                switch filter {
                case 0: row[i] = x
                case 1: row[i] = x &+ a
                case 2: row[i] = x &+ b
                case 3: row[i] = x &+ UInt8((Int(a) + Int(b)) / 2)
                case 4:
                    let p = Int(a) + Int(b) - Int(c), pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
                    row[i] = x &+ (pa <= pb && pa <= pc ? a : (pb <= pc ? b : c))
                default: throw ImageError("row \(y) has unknown filter type \(filter)")
                }
            }
            for x in 0..<width {
                let p = x * channels
                if channels >= 3 {
                    let r: Int = 299 * Int(row[p]), g: Int = 587 * Int(row[p + 1]), b: Int = 114 * Int(row[p + 2])
                    gray[y * width + x] = UInt8(min(255, (r + g + b + 500) / 1000))
                } else {
                    gray[y * width + x] = row[p]
                }
            }
            swap(&previous, &row)
        }
        return GrayImage(width: width, height: height, pixels: gray)
    }
}

/// Inflates a zlib stream (RFC 1950 / 1951: stored, fixed and dynamic Huffman blocks); checks Adler-32.
/// A stream that inflates past `maxOutput` bytes is refused (a decompression bomb).
public func zlibDecompress(_ data: [UInt8], maxOutput: Int = 64 << 20) throws -> [UInt8] {
    guard data.count >= 6, (Int(data[0]) << 8 | Int(data[1])) % 31 == 0, data[0] & 0x0F == 8 else { throw ImageError("bad zlib header") }
    guard data[1] & 0x20 == 0 else { throw ImageError("zlib preset dictionaries are not supported") }
    var reader = BitReader(bytes: data, position: 2)
    var out: [UInt8] = []
    var final = false
    while !final {
        final = try reader.bits(1) == 1
        switch try reader.bits(2) {
        case 0:
            reader.alignToByte()
            let len = try reader.bits(16), nlen = try reader.bits(16)
            guard len == (~nlen & 0xFFFF) else { throw ImageError("stored block length check failed") }
            guard out.count + len <= maxOutput else { throw inflatesPast(maxOutput) }
            for _ in 0..<len { out.append(UInt8(try reader.bits(8))) }
        case 1:
            try inflateBlock(
                &reader, &out, literals: Huffman(lengths: Huffman.fixedLiteralLengths),
                distances: Huffman(lengths: Huffman.fixedDistanceLengths), maxOutput: maxOutput)
        case 2:
            let hlit = try reader.bits(5) + 257, hdist = try reader.bits(5) + 1, hclen = try reader.bits(4) + 4
            let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
            var codeLengths = [Int](repeating: 0, count: 19)
            for i in 0..<hclen { codeLengths[order[i]] = try reader.bits(3) }
            let lengthCode = try Huffman(lengths: codeLengths)
            var lengths: [Int] = []
            while lengths.count < hlit + hdist {
                let sym = try lengthCode.decode(&reader)
                switch sym {
                case 0...15: lengths.append(sym)
                case 16:
                    guard let last = lengths.last else { throw ImageError("repeat with no previous code length") }
                    lengths += [Int](repeating: last, count: 3 + (try reader.bits(2)))
                case 17: lengths += [Int](repeating: 0, count: 3 + (try reader.bits(3)))
                default: lengths += [Int](repeating: 0, count: 11 + (try reader.bits(7)))
                }
            }
            guard lengths.count == hlit + hdist else { throw ImageError("code lengths overrun") }
            try inflateBlock(
                &reader, &out, literals: Huffman(lengths: Array(lengths[0..<hlit])),
                distances: Huffman(lengths: Array(lengths[hlit...])), maxOutput: maxOutput)
        default: throw ImageError("reserved deflate block type")
        }
    }
    reader.alignToByte()
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in out { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    var expected: UInt32 = 0
    for _ in 0..<4 { expected = (expected << 8) | UInt32(try reader.bits(8)) }
    guard expected == (b << 16 | a) else { throw ImageError("Adler-32 checksum mismatch") }
    return out
}

private let lengthBase = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
]
private let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
private let distanceBase = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577,
]
private let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

private func inflatesPast(_ limit: Int) -> ImageError {
    ImageError("compressed data inflates past \(limit) bytes (the most this image can hold)")
}

private func inflateBlock(_ r: inout BitReader, _ out: inout [UInt8], literals: Huffman, distances: Huffman, maxOutput: Int) throws {
    while true {
        let sym = try literals.decode(&r)
        guard sym == 256 || out.count < maxOutput else { throw inflatesPast(maxOutput) }
        if sym < 256 { out.append(UInt8(sym)); continue }
        if sym == 256 { return }
        let li = sym - 257
        guard li < lengthBase.count else { throw ImageError("bad length symbol \(sym)") }
        let length = lengthBase[li] + (try r.bits(lengthExtra[li]))
        let di = try distances.decode(&r)
        guard di < distanceBase.count else { throw ImageError("bad distance symbol \(di)") }
        let distance = distanceBase[di] + (try r.bits(distanceExtra[di]))
        guard distance <= out.count else { throw ImageError("distance \(distance) reaches before the start of the data") }
        guard out.count + length <= maxOutput else { throw inflatesPast(maxOutput) }
        let start = out.count - distance
        for k in 0..<length { out.append(out[start + k]) }
    }
}

/// Reads bits least-significant first, as deflate packs them.
private struct BitReader {
    let bytes: [UInt8]
    var position: Int
    var bit = 0

    mutating func bits(_ n: Int) throws -> Int {
        var v = 0
        for i in 0..<n {
            guard position < bytes.count else { throw ImageError("compressed data ends early") }
            v |= Int((bytes[position] >> UInt8(bit)) & 1) << i
            bit += 1
            if bit == 8 { bit = 0; position += 1 }
        }
        return v
    }

    mutating func alignToByte() { if bit != 0 { bit = 0; position += 1 } }
}

/// A canonical Huffman code (RFC 1951 §3.2.2), decoded bit by bit with per-length counts.
private struct Huffman {
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [Int] = []

    init(lengths: [Int]) throws {
        for l in lengths { counts[l] += 1 }
        counts[0] = 0
        var offsets = [Int](repeating: 0, count: 16)
        for l in 1..<16 { offsets[l] = offsets[l - 1] + counts[l - 1] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (s, l) in lengths.enumerated() where l > 0 { symbols[offsets[l]] = s; offsets[l] += 1 }
        var left = 1
        for l in 1..<16 {
            left <<= 1
            left -= counts[l]
            guard left >= 0 else { throw ImageError("over-subscribed Huffman code") }
        }
    }

    func decode(_ r: inout BitReader) throws -> Int {
        var code = 0, first = 0, index = 0
        for l in 1..<16 {
            code |= try r.bits(1)
            let count = counts[l]
            if code - first < count { return symbols[index + code - first] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw ImageError("invalid Huffman code")
    }

    /// The fixed code's lengths (RFC 1951 §3.2.6).
    static let fixedLiteralLengths =
        [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112)
        + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8)
    static let fixedDistanceLengths = [Int](repeating: 5, count: 30)
}
