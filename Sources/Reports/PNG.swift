import Foundation
import RobotCore

/// An RGB image, 8 bits per channel, row-major.
public struct RGBImage: Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: RGB = .white) {
        precondition(width > 0 && height > 0, "image size must be positive")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.r; pixels[3 * i + 1] = fill.g; pixels[3 * i + 2] = fill.b }
    }

    /// A gray image (e.g. a camera frame), each pixel scaled up `scale` times.
    public init(gray: [UInt8], width: Int, height: Int, scale: Int = 1) {
        self.init(width: width * scale, height: height * scale)
        for y in 0..<(height * scale) {
            for x in 0..<(width * scale) {
                let v = gray[(y / scale) * width + x / scale]
                let i = 3 * (y * self.width + x)
                pixels[i] = v; pixels[i + 1] = v; pixels[i + 2] = v
            }
        }
    }

    /// The PNG file bytes (8-bit RGB, deflate with fixed Huffman codes and LZ77 matching).
    public func pngData() -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity(height * (width * 3 + 1))
        for y in 0..<height {
            raw.append(0)  // filter: none
            raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ body: [UInt8]) {
            out += bigEndian(UInt32(body.count))
            let t = Array(type.utf8)
            out += t + body
            var crc = CRC32()
            crc.update(t)
            crc.update(body)
            out += bigEndian(crc.value)
        }
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        chunk("IDAT", zlibCompress(raw))
        chunk("IEND", [])
        return out
    }

    public func writePNG(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(pngData())) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// A zlib stream (RFC 1950) around one deflate block (RFC 1951) with the fixed Huffman codes and
/// greedy LZ77 matches found through a hash of the next three bytes (32 KiB window).
public func zlibCompress(_ data: [UInt8]) -> [UInt8] {
    var bits = BitWriter()
    bits.bytes = [0x78, 0x01]
    bits.write(1, count: 1)  // BFINAL
    bits.write(1, count: 2)  // BTYPE = 01, fixed Huffman
    var head = [Int](repeating: -1, count: 1 << 15)
    func hash(_ i: Int) -> Int { (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & 0x7FFF }
    var i = 0
    let n = data.count
    while i < n {
        var bestLen = 0, bestDist = 0
        if i + 2 < n {
            let h = hash(i)
            let cand = head[h]
            head[h] = i
            if cand >= 0 && i - cand <= 32768 {
                var l = 0
                while l < 258 && i + l < n && data[cand + l] == data[i + l] { l += 1 }
                if l >= 3 { bestLen = l; bestDist = i - cand }
            }
        }
        if bestLen >= 3 {
            bits.writeLength(bestLen)
            bits.writeDistance(bestDist)
            // Index the skipped positions so later matches can find them.
            for j in (i + 1)..<min(i + bestLen, n - 2) { head[hash(j)] = j }
            i += bestLen
        } else {
            bits.writeLiteral(Int(data[i]))
            i += 1
        }
    }
    bits.writeLiteral(256)  // end of block
    bits.flush()
    var a: UInt32 = 1, b: UInt32 = 0
    for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    return bits.bytes + bigEndian(b << 16 | a)
}

/// Deflate's bit order: values LSB first, Huffman codes MSB first.
struct BitWriter {
    var bytes: [UInt8] = []
    private var acc: UInt32 = 0
    private var used = 0

    mutating func write(_ value: Int, count: Int) {
        acc |= UInt32(value) << UInt32(used)
        used += count
        while used >= 8 { bytes.append(UInt8(acc & 0xFF)); acc >>= 8; used -= 8 }
    }

    mutating func writeCode(_ code: Int, length: Int) {
        var rev = 0
        for k in 0..<length { rev |= ((code >> k) & 1) << (length - 1 - k) }
        write(rev, count: length)
    }

    /// A literal/length symbol 0…285 with the fixed code.
    mutating func writeLiteral(_ s: Int) {
        switch s {
        case 0...143: writeCode(0x30 + s, length: 8)
        case 144...255: writeCode(0x190 + s - 144, length: 9)
        case 256...279: writeCode(s - 256, length: 7)
        default: writeCode(0xC0 + s - 280, length: 8)
        }
    }

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
        4097, 6145, 8193, 12289, 16385, 24577,
    ]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    mutating func writeLength(_ len: Int) {
        var c = Self.lengthBase.count - 1
        while Self.lengthBase[c] > len { c -= 1 }
        writeLiteral(257 + c)
        write(len - Self.lengthBase[c], count: Self.lengthExtra[c])
    }

    mutating func writeDistance(_ d: Int) {
        var c = Self.distBase.count - 1
        while Self.distBase[c] > d { c -= 1 }
        writeCode(c, length: 5)
        write(d - Self.distBase[c], count: Self.distExtra[c])
    }

    mutating func flush() {
        if used > 0 { bytes.append(UInt8(acc & 0xFF)) }
        acc = 0
        used = 0
    }
}
