import Configuration
import Control
import Foundation
import RobotCore
import Simulation
import Testing
@testable import Recording
@testable import Reports

/// The repository root (for boards/ and scripts/).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("cerebellum-\(getpid())-\(name)").path
}

/// Records `episodes` exploration episodes of the default simulated board into `path`.
func recordSample(path: String, episodes: Int, steps: Int, seed: UInt64) throws -> [RecordedEpisode] {
    let board = try LoadedBoard.load(boardPath: "\(repoRoot)/boards/sim-two-rooms.yaml")
    let run = try ExplorationRun(board: board, seed: seed, stepsPerEpisode: steps)
    let writer = try DatasetWriter(path: path, metadata: ["board": board.profile.name, "calibration": board.calibration.path])
    var out: [RecordedEpisode] = []
    try run.run(episodes: episodes, writer: writer) { out.append($0) }
    try writer.finish()
    return out
}

@Suite struct MCAPTests {
    @Test func roundTripThroughOurReader() throws {
        let path = temporaryPath("rt.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorded = try recordSample(path: path, episodes: 3, steps: 12, seed: 5)
        let (meta, read) = try DatasetReader.episodes(path: path)
        #expect(meta["board"] == "sim-two-rooms")
        #expect(read.count == 3)
        for (a, b) in zip(recorded, read) {
            #expect(a.frames == b.frames)
            #expect(a.actions == b.actions)
            #expect(a.positions == b.positions)
            #expect(b.frameCount == 13)
            #expect(b.info["wall_x"] == a.info["wall_x"])
        }
    }

    /// The loop's timing: the action recorded with frame t is what moves the agent to frame t + 1
    /// (the displacement follows a_t closely, and a_t better than a_{t-1}).
    @Test func recordedActionsMoveTheAgentToTheNextFrame() throws {
        let path = temporaryPath("timing.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let e = try recordSample(path: path, episodes: 1, steps: 80, seed: 9)[0]
        let p = e.positions!
        func correlation(lag: Int) -> Double {
            var xs: [Double] = [], ys: [Double] = []
            for t in lag..<(e.frameCount - 1) {
                xs.append(Double(p[2 * t + 2] - p[2 * t])); ys.append(Double(e.actions[2 * (t - lag)]))
                xs.append(Double(p[2 * t + 3] - p[2 * t + 1])); ys.append(Double(e.actions[2 * (t - lag) + 1]))
            }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for i in xs.indices { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); syy += (ys[i] - my) * (ys[i] - my) }
            return sxy / (sxx * syy).squareRoot()
        }
        let now = correlation(lag: 0), before = correlation(lag: 1)
        #expect(now > 0.7, "displacement vs the action of the same tick: correlation \(now)")
        #expect(now > before + 0.1, "lag 0 \(now) vs lag 1 \(before)")
    }

    @Test func corruptFilesAreRejectedWithAReason() throws {
        let path = temporaryPath("bad.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try recordSample(path: path, episodes: 1, steps: 4, seed: 1)
        let good = [UInt8](FileManager.default.contents(atPath: path)!)
        func reason(_ bytes: [UInt8]) -> String {
            do { _ = try MCAPFile(bytes: bytes, path: "x.mcap"); return "accepted" } catch { return "\(error)" }
        }
        #expect(reason(Array(good.prefix(good.count - 100))).contains("truncated"))
        var flipped = good
        flipped[0] = 0
        #expect(reason(flipped).contains("bad magic"))
        // A flipped pixel deep in the data section: the CRC catches it.
        var pixel = good
        pixel[good.count / 3] ^= 0x55
        #expect(reason(pixel).contains("CRC") || reason(pixel).contains("runs past"))
        #expect(reason(good) == "accepted")
    }

    /// Python's `mcap` package (an independent implementation) reads the recording, validates its
    /// CRCs and summary, and decodes the CDR images and JSON actions to the same values.
    @Test func pythonMcapReadsTheRecording() throws {
        let path = temporaryPath("py.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorded = try recordSample(path: path, episodes: 2, steps: 10, seed: 3)
        let pixelSum = recorded.reduce(0) { $0 + $1.frames.reduce(0) { $0 + Int($1) } }
        let actionSum = recorded.reduce(0.0) { $0 + $1.actions.reduce(0.0) { $0 + Double($1) } }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "\(repoRoot)/scripts/mcap-readback.py", path]
        let pipe = Pipe(), err = Pipe()
        p.standardOutput = pipe
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "mcap-readback.py failed (is Python's mcap installed? make deps-python): \(errText)")
        let fields = Dictionary(uniqueKeysWithValues: out.split(separator: "\n").compactMap { line -> (String, String)? in
            let kv = line.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        })
        #expect(fields["images"] == "22")
        #expect(fields["episodes"] == "2")
        #expect(fields["size"] == "64x64 mono8")
        #expect(fields["pixel_sum"] == String(pixelSum))
        #expect(abs((Double(fields["action_sum"] ?? "") ?? .nan) - actionSum) < 1e-4)
        #expect(fields["board"] == "sim-two-rooms")
    }
}

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
        do { _ = try GrayImage.decodePNG(truncated); Issue.record("accepted a truncated PNG") } catch let e as ImageError { #expect(e.description.contains("IEND")) }
        do { _ = try GrayImage.readPNG(path: "/nonexistent/goal.png"); Issue.record("read a missing file") } catch let e as ImageError { #expect(e.description.hasPrefix("/nonexistent/goal.png")) }
    }

    @Test func compressionHelpsOnPlots() {
        let chart = LineChart(title: "t", xLabel: "x", yLabel: "y")
        var c = chart
        c.add(name: "a", points: (0..<100).map { (Double($0), sin(Double($0) / 10)) })
        let png = c.render(width: 400, height: 300).pngData()
        #expect(png.count < 400 * 300 * 3 / 10)
    }
}

/// Runs a Python script with arguments; returns its standard output.
func runPython(_ script: String, _ arguments: String...) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    p.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
}

/// Untrusted files that once crashed the process: each is rejected with the file and a reason.
@Suite struct UntrustedRecordingTests {
    let seed = "\(repoRoot)/Tests/Fuzz/corpus/mcap/two-steps-4x4.mcap"

    @Test("the fuzz seed is a valid recording")
    func seedReads() throws {
        let (meta, episodes) = try DatasetReader.episodes(path: seed)
        #expect(meta["board"] == "sim-two-rooms")
        #expect(episodes.count == 1 && episodes[0].frameCount == 3 && episodes[0].width == 4)
    }

    @Test("junk before the closing magic is a truncated record, not a trap")
    func junkBeforeClosingMagic() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: seed)))
        for junk in [[UInt8(0x01)], [0x05, 0xFF, 0xFF], [UInt8](repeating: 0xEE, count: 7)] {
            var b = bytes
            b.insert(contentsOf: junk, at: b.count - 8)
            #expect(throws: MCAPError.self) { try MCAPFile(bytes: b, path: "junk.mcap") }
        }
        bytes.removeLast(9)
        bytes += mcapMagic
        #expect(throws: MCAPError.self) { try MCAPFile(bytes: bytes, path: "cut.mcap") }
    }

    @Test("a CDR image of 2³²−1 × 2³²−1 pixels is refused by its size")
    func hugeCDRImage() throws {
        var c = CDRBuilder()
        c.u32(0); c.u32(0); c.string("cam")  // header: stamp, frame id
        c.u32(UInt32.max); c.u32(UInt32.max)  // height, width
        c.string("mono8"); c.u8(0); c.u32(UInt32.max); c.u32(0)
        let e = #expect(throws: MCAPError.self) { try CDRImage.decode(ArraySlice(c.bytes), path: "huge.mcap", message: 3) }
        #expect(e?.description.contains("outside 1...4096") == true, "\(String(describing: e))")
    }

    @Test("an episode with no frames, or with actions that do not match its frames, is refused")
    func episodeWithoutFrames() throws {
        let path = temporaryPath("empty-episode.mcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try DatasetWriter(path: path, metadata: ["board": "test"])
        try writer.beginEpisode(0, at: .zero, info: [:])
        try writer.endEpisode(0, at: .zero, info: [:])
        try writer.finish()
        let e = #expect(throws: MCAPError.self) { try DatasetReader.episodes(path: path) }
        #expect(e?.description.contains("episode 0 has 0 frame(s)") == true, "\(String(describing: e))")
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

    @Test("a side past 4096 pixels is refused before anything is inflated")
    func hugeSides() throws {
        let e = #expect(throws: ImageError.self) { try GrayImage.decodePNG(png(width: 100_000, height: 100_000, raw: [0])) }
        #expect(e?.description.contains("out of range") == true)
    }
}
