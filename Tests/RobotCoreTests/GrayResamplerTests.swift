import CAllocationCounter
import RobotCore
import Testing

@Suite struct GrayResamplerTests {
    func run(_ r: GrayResampler, _ src: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: r.outputWidth * r.outputHeight)
        src.withUnsafeBytes { s in out.withUnsafeMutableBufferPointer { r.resample(s, into: $0) } }
        return out
    }

    @Test func sameSizeGrayIsACopy() throws {
        let src = (0..<64).map { UInt8($0 * 3) }
        let r = try GrayResampler(
            sourceWidth: 8, sourceHeight: 8, bytesPerLine: 8, layout: .gray, crop: nil, outputWidth: 8, outputHeight: 8)
        #expect(run(r, src) == src)
    }

    @Test func areaAverageDownscale() throws {
        // 4×4 → 2×2: each output is the rounded mean of a 2×2 block.
        let src: [UInt8] = [
            0, 2, 10, 10,
            4, 6, 10, 11,
            100, 100, 255, 255,
            100, 101, 255, 255,
        ]
        let r = try GrayResampler(
            sourceWidth: 4, sourceHeight: 4, bytesPerLine: 4, layout: .gray, crop: nil, outputWidth: 2, outputHeight: 2)
        #expect(run(r, src) == [3, 10, 100, 255])
    }

    @Test func yuyvTakesLumaAndRowPaddingIsSkipped() throws {
        // 2×2 YUYV with 2 bytes of padding per row (bytes per line 6).
        let src: [UInt8] = [
            10, 128, 20, 128, 0xEE, 0xEE,
            30, 128, 40, 128, 0xEE, 0xEE,
        ]
        let r = try GrayResampler(
            sourceWidth: 2, sourceHeight: 2, bytesPerLine: 6, layout: .yuyv, crop: nil, outputWidth: 2, outputHeight: 2)
        #expect(run(r, src) == [10, 20, 30, 40])
        let u = try GrayResampler(
            sourceWidth: 2, sourceHeight: 2, bytesPerLine: 6, layout: .uyvy, crop: nil, outputWidth: 1, outputHeight: 1)
        #expect(run(u, src) == [128])
    }

    @Test func rgbUsesBT601Luma() throws {
        let src: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let r = try GrayResampler(
            sourceWidth: 4, sourceHeight: 1, bytesPerLine: 12, layout: .rgb24, crop: nil, outputWidth: 4, outputHeight: 1)
        #expect(run(r, src) == [77, 149, 29, 255])
        let b = try GrayResampler(
            sourceWidth: 4, sourceHeight: 1, bytesPerLine: 12, layout: .bgr24, crop: nil, outputWidth: 4, outputHeight: 1)
        #expect(run(b, src) == [29, 149, 77, 255])
    }

    @Test func defaultCropIsTheCentredSquare() throws {
        let c = GrayResampler.centredCrop(sourceWidth: 320, sourceHeight: 240, outputWidth: 64, outputHeight: 64)
        #expect(c == GrayResampler.Rect(x: 40, y: 0, width: 240, height: 240))
        let t = GrayResampler.centredCrop(sourceWidth: 240, sourceHeight: 320, outputWidth: 64, outputHeight: 64)
        #expect(t == GrayResampler.Rect(x: 0, y: 40, width: 240, height: 240))
        // Left half black, right half white, 8×4 → 4×4 centred crop sees columns 2...5.
        var src = [UInt8](repeating: 0, count: 32)
        for y in 0..<4 { for x in 4..<8 { src[y * 8 + x] = 200 } }
        let r = try GrayResampler(
            sourceWidth: 8, sourceHeight: 4, bytesPerLine: 8, layout: .gray, crop: nil, outputWidth: 4, outputHeight: 4)
        #expect(Array(run(r, src).prefix(4)) == [0, 0, 200, 200])
    }

    @Test func badCropsAreRejectedWithTheReason() {
        #expect(throws: ResamplerError.self) {
            _ = try GrayResampler(
                sourceWidth: 320, sourceHeight: 240, bytesPerLine: 640, layout: .yuyv,
                crop: .init(x: 200, y: 0, width: 240, height: 240), outputWidth: 64, outputHeight: 64)
        }
        #expect(throws: ResamplerError.self) {
            _ = try GrayResampler(
                sourceWidth: 320, sourceHeight: 240, bytesPerLine: 320, layout: .yuyv, crop: nil, outputWidth: 64, outputHeight: 64)
        }
    }
}

@Suite struct LimitedRangeTests {
    @Test func limitedRangeLumaIsStretchedToFullRange() throws {
        let src: [UInt8] = [16, 128, 235, 128, 0, 128, 255, 128, 126, 128, 125, 128]  // YUYV: Y = 16, 235, 0, 255, 126, 125
        let r = try GrayResampler(
            sourceWidth: 6, sourceHeight: 1, bytesPerLine: 12, layout: .yuyv, crop: nil,
            outputWidth: 6, outputHeight: 1, limitedRange: true)
        var out = [UInt8](repeating: 0, count: 6)
        src.withUnsafeBytes { s in out.withUnsafeMutableBufferPointer { r.resample(s, into: $0) } }
        #expect(out == [0, 255, 0, 255, 128, 127])
    }
}

@Suite struct ConversionAllocationTests {
    @Test func resamplingAFrameAllocatesNothing() throws {
        // A 640×480 YUYV camera image to the encoder's 64×64, as the V4L2 camera does every frame.
        let r = try GrayResampler(
            sourceWidth: 640, sourceHeight: 480, bytesPerLine: 1280, layout: .yuyv, crop: nil,
            outputWidth: 64, outputHeight: 64, limitedRange: true)
        let src = (0..<(1280 * 480)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let frame = Frame(width: 64, height: 64)
        src.withUnsafeBytes { s in frame.pixels.withUnsafeMutableBufferPointer { r.resample(s, into: $0) } }  // warm-up
        allocation_counter_start()
        var n = 0
        while n < 100 {  // not `for in`: a debug build's unspecialized iterator allocates on aarch64
            src.withUnsafeBytes { s in frame.pixels.withUnsafeMutableBufferPointer { r.resample(s, into: $0) } }
            n += 1
        }
        #expect(allocation_counter_stop() == 0)
        #expect(Set(frame.pixels).count > 10, "the conversion did real work")
    }
}
