import CZlib
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

/// A zlib stream (RFC 1950) of `data`, compressed by zlib at its default level.
public func zlibCompress(_ data: [UInt8]) -> [UInt8] {
    var size = compressBound(uLong(data.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let status = out.withUnsafeMutableBufferPointer { o in
        data.withUnsafeBufferPointer { d in compress2(o.baseAddress, &size, d.baseAddress, uLong(d.count), Z_DEFAULT_COMPRESSION) }
    }
    // compress2 fails only without memory or with a buffer below compressBound, which this is not.
    precondition(status == Z_OK, "zlib compress2 failed (\(status))")
    return Array(out[0..<Int(size)])
}
