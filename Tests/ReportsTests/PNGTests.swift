import Foundation
import RobotCore
import TestSupport
import Testing
@testable import Reports

@Suite struct PNGTests {
    /// Python's zlib inflates our deflate stream back to the image rows, and the CRCs check.
    @Test func pythonDecodesOurPNG() throws {
        var img = RGBImage(width: 37, height: 23)
        for y in 0..<23 { for x in 0..<37 { img.set(x, y, RGB(UInt8(x * 6), UInt8(y * 11), UInt8((x * y) % 256))) } }
        img.fillRect(x: 2, y: 2, width: 30, height: 5, .black)
        img.text("R2 0.97", x: 1, y: 12, .white)
        let path = temporaryPath("t.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try img.writePNG(path: path)
        let script = """
            import sys, zlib, struct
            d = open(sys.argv[1], 'rb').read()
            assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
            pos, idat = 8, b''
            while pos < len(d):
                n, = struct.unpack('>I', d[pos:pos+4]); t = d[pos+4:pos+8]; body = d[pos+8:pos+8+n]
                crc, = struct.unpack('>I', d[pos+8+n:pos+12+n]); assert zlib.crc32(t + body) == crc, t
                if t == b'IHDR': w, h = struct.unpack('>II', body[:8])
                if t == b'IDAT': idat += body
                pos += 12 + n
            raw = zlib.decompress(idat)
            rows = [raw[y*(3*w+1)+1:(y+1)*(3*w+1)] for y in range(h)]
            sys.stdout.write('%dx%d %d' % (w, h, sum(sum(r) for r in rows)))
            """
        let out = try runPython(script, path)
        #expect(out == "37x23 \(img.pixels.reduce(0) { $0 + Int($1) })")
    }

    @Test func ourDecoderReadsOurPNGBack() throws {
        var gray = [UInt8](repeating: 0, count: 64 * 64)
        for i in gray.indices { gray[i] = UInt8((i * 7 + i / 64 * 13) % 256) }
        let decoded = try GrayImage.decodePNG(RGBImage(gray: gray, width: 64, height: 64).pngData())
        #expect(decoded == GrayImage(width: 64, height: 64, pixels: gray))
    }

    /// zlib's own encoder (dynamic Huffman blocks at level 9, every PNG row filter) through our inflate.
    @Test func ourDecoderReadsZlibPNGs() throws {
        let path = temporaryPath("z.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import sys, zlib, struct
            w, h = 29, 17
            def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
            raw = b''
            for y in range(h):
                raw += bytes([y % 5]) + bytes(((x * 9 + y * 31) * (x ^ y)) % 256 for x in range(w))
            png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
            png += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
            open(sys.argv[1], 'wb').write(png)
            # Undo the filters in Python to print the expected pixel sum.
            prev, total = [0] * w, 0
            for y in range(h):
                f, row = raw[y * (w + 1)], list(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
                for x in range(w):
                    a = row[x - 1] if x else 0; b = prev[x]; c = prev[x - 1] if x else 0
                    if f == 1: row[x] = (row[x] + a) % 256
                    elif f == 2: row[x] = (row[x] + b) % 256
                    elif f == 3: row[x] = (row[x] + (a + b) // 2) % 256
                    elif f == 4:
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        row[x] = (row[x] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) % 256
                total += sum(row); prev = row
            sys.stdout.write(str(total))
            """
        let expected = Int(try runPython(script, path))
        let image = try GrayImage.readPNG(path: path)
        #expect(image.width == 29 && image.height == 17)
        #expect(image.pixels.reduce(0) { $0 + Int($1) } == expected)
    }

    @Test func corruptPNGsAreRejectedWithAReason() throws {
        var bytes = RGBImage(gray: [UInt8](repeating: 9, count: 16), width: 4, height: 4).pngData()
        bytes[40] ^= 0xFF
        #expect(throws: ImageError.self) { try GrayImage.decodePNG(bytes) }
        do { _ = try GrayImage.decodePNG(bytes) } catch let e as ImageError { #expect(e.description.contains("CRC mismatch")) }
        let truncated = Array(RGBImage(gray: [UInt8](repeating: 9, count: 16), width: 4, height: 4).pngData().dropLast(12))
        do { _ = try GrayImage.decodePNG(truncated); Issue.record("accepted a truncated PNG") } catch let e as ImageError {
            #expect(e.description.contains("IEND"))
        }
        do { _ = try GrayImage.readPNG(path: "/nonexistent/goal.png"); Issue.record("read a missing file") } catch let e as ImageError {
            #expect(e.description.hasPrefix("/nonexistent/goal.png"))
        }
    }

    @Test func compressionHelpsOnPlots() {
        let chart = LineChart(title: "t", xLabel: "x", yLabel: "y")
        var c = chart
        c.add(name: "a", points: (0..<100).map { (Double($0), sin(Double($0) / 10)) })
        let png = c.render(width: 400, height: 300).pngData()
        #expect(png.count < 400 * 300 * 3 / 10)
    }
}

@Suite struct UntrustedImageTests {
    /// A gray PNG whose IHDR says `width`×`height` and whose IDAT holds `raw` (filter bytes included).
    func png(width: Int, height: Int, raw: [UInt8]) -> [UInt8] {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            var crc = CRC32()
            crc.update(Array(type.utf8) + body)
            return bigEndian(UInt32(body.count)) + Array(type.utf8) + body + bigEndian(crc.value)
        }
        let ihdr = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 0, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", zlibCompress(raw)) + chunk("IEND", [])
    }

    @Test("image data that inflates past what the header's size holds is refused while inflating")
    func inflationBomb() throws {
        // 8×8 gray holds 8 × 9 = 72 bytes; this stream inflates to 4 MiB of zeros (a few KiB compressed).
        let bomb = png(width: 8, height: 8, raw: [UInt8](repeating: 0, count: 4 << 20))
        #expect(bomb.count < 100_000)
        let e = #expect(throws: ImageError.self) { try GrayImage.decodePNG(bomb) }
        #expect(e?.description.contains("inflates past 72 bytes") == true, "\(String(describing: e))")
        #expect(throws: ImageError.self) { try zlibDecompress(zlibCompress([UInt8](repeating: 7, count: 1 << 20)), maxOutput: 1000) }
        // The right amount still decodes.
        #expect(try GrayImage.decodePNG(png(width: 8, height: 8, raw: [UInt8](repeating: 0, count: 72))).pixels.count == 64)
    }

    @Test("zlib round trip: exactly the limit inflates, one byte over is refused, a stream cut short is refused")
    func inflateBounds() throws {
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 ^ $0 >> 5) }
        let stream = zlibCompress(data)
        #expect(try zlibDecompress(stream, maxOutput: data.count) == data)
        #expect(try zlibDecompress(zlibCompress([]), maxOutput: 0) == [])
        let over = #expect(throws: ImageError.self) { try zlibDecompress(stream, maxOutput: data.count - 1) }
        #expect(over?.description.contains("inflates past") == true)
        let cut = #expect(throws: ImageError.self) { try zlibDecompress(Array(stream.prefix(stream.count / 2))) }
        #expect(cut?.description.contains("ends before its end marker") == true, "\(String(describing: cut))")
        var corrupt = stream
        corrupt[stream.count / 2] ^= 0xFF
        #expect(throws: ImageError.self) { try zlibDecompress(corrupt) }
    }

    @Test("a side past 4096 pixels is refused before anything is inflated")
    func hugeSides() throws {
        let e = #expect(throws: ImageError.self) { try GrayImage.decodePNG(png(width: 100_000, height: 100_000, raw: [0])) }
        #expect(e?.description.contains("out of range") == true)
    }
}
