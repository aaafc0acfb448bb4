import CZlib
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

/// Inflates a zlib stream (RFC 1950) with zlib, which checks the stream and its Adler-32. A stream that
/// inflates past `maxOutput` bytes is refused while inflating (a decompression bomb): zlib writes into a
/// buffer of `maxOutput` + 1 bytes and is stopped when it fills.
public func zlibDecompress(_ data: [UInt8], maxOutput: Int = 64 << 20) throws -> [UInt8] {
    guard data.count >= 6 else { throw ImageError("zlib stream of \(data.count) bytes is too short") }
    var stream = z_stream()
    guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw ImageError("zlib: cannot start inflating")
    }
    defer { inflateEnd(&stream) }
    let capacity = min(maxOutput, Int(UInt32.max) - 1) + 1
    var out = [UInt8](repeating: 0, count: min(capacity, 1 << 16))
    var input = data
    var status = Z_OK
    try input.withUnsafeMutableBufferPointer { inBuf in
        stream.next_in = inBuf.baseAddress
        stream.avail_in = uInt(inBuf.count)
        while true {
            if Int(stream.total_out) == out.count {
                guard out.count < capacity else { throw inflatesPast(maxOutput) }
                out += [UInt8](repeating: 0, count: min(capacity - out.count, out.count))  // doubling, up to the cap
            }
            let written = Int(stream.total_out)
            status = out.withUnsafeMutableBufferPointer { o in
                stream.next_out = o.baseAddress! + written
                stream.avail_out = uInt(o.count - written)
                return inflate(&stream, Z_NO_FLUSH)
            }
            if status == Z_STREAM_END { break }
            // No progress with room left and nothing more to read: the stream was cut short. (With the buffer
            // full, zlib may still hold output: the loop grows the buffer first.)
            if status == Z_BUF_ERROR && stream.avail_in == 0 && stream.avail_out > 0 {
                throw ImageError("zlib stream ends before its end marker")
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                let why = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ImageError("zlib: \(why)")
            }
        }
    }
    guard Int(stream.total_out) <= maxOutput else { throw inflatesPast(maxOutput) }
    return Array(out[0..<Int(stream.total_out)])
}

private func inflatesPast(_ limit: Int) -> ImageError {
    ImageError("compressed data inflates past \(limit) bytes (the most this image can hold)")
}
