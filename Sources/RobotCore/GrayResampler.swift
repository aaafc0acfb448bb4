/// Turns a camera image (gray, packed YUV, the Y plane of planar YUV, or RGB) into the encoder's
/// gray input: crop a rectangle, then area-average it down (or nearest-sample it up) to the output
/// size. All tables are built once; `resample` allocates nothing.
public struct GrayResampler: Sendable {
    /// How luminance is laid out in one source row.
    public enum Layout: String, Sendable {
        /// One byte per pixel: GREY, or the Y plane of YUV420 / NV12.
        case gray
        /// Y0 U Y1 V: luminance every other byte, first.
        case yuyv
        /// U Y0 V Y1: luminance every other byte, second.
        case uyvy
        /// R G B, 3 bytes per pixel (BT.601 luma).
        case rgb24
        case bgr24
    }

    /// A rectangle in source pixels.
    public struct Rect: Sendable, Equatable, CustomStringConvertible {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x; self.y = y; self.width = width; self.height = height
        }
        public var description: String { "\(width)×\(height)+\(x)+\(y)" }
    }

    public let sourceWidth: Int, sourceHeight: Int, bytesPerLine: Int
    public let layout: Layout
    public let crop: Rect
    public let outputWidth: Int, outputHeight: Int
    /// True when the source's luma is limited range (16…235, as YUV from most cameras): it is stretched
    /// to 0…255 so the encoder sees the same image whatever format the camera negotiated.
    public let limitedRange: Bool
    private let levels: [UInt8]
    /// Per output column: first source column and count; per output row the same.
    private let xStart: [Int32], xCount: [Int32], yStart: [Int32], yCount: [Int32]

    /// The largest centred rectangle of the output's aspect ratio (the default crop).
    public static func centredCrop(sourceWidth: Int, sourceHeight: Int, outputWidth: Int, outputHeight: Int) -> Rect {
        // Compare w/h with ow/oh in integers.
        if sourceWidth * outputHeight > sourceHeight * outputWidth {
            let w = sourceHeight * outputWidth / outputHeight
            return Rect(x: (sourceWidth - w) / 2, y: 0, width: w, height: sourceHeight)
        }
        let h = sourceWidth * outputHeight / outputWidth
        return Rect(x: 0, y: (sourceHeight - h) / 2, width: sourceWidth, height: h)
    }

    /// Fails (with the reason) when the crop does not fit the source or sizes are not positive.
    public init(
        sourceWidth: Int, sourceHeight: Int, bytesPerLine: Int, layout: Layout, crop: Rect?,
        outputWidth: Int, outputHeight: Int, limitedRange: Bool = false
    ) throws(ResamplerError) {
        guard sourceWidth > 0, sourceHeight > 0, outputWidth > 0, outputHeight > 0 else {
            throw ResamplerError(message: "image sizes must be positive")
        }
        let bpp = layout.bytesPerPixel
        guard bytesPerLine >= sourceWidth * bpp else {
            throw ResamplerError(message: "bytes per line \(bytesPerLine) < width \(sourceWidth) × \(bpp)")
        }
        let c =
            crop
            ?? GrayResampler.centredCrop(
                sourceWidth: sourceWidth, sourceHeight: sourceHeight,
                outputWidth: outputWidth, outputHeight: outputHeight)
        guard c.x >= 0, c.y >= 0, c.width > 0, c.height > 0, c.x + c.width <= sourceWidth, c.y + c.height <= sourceHeight else {
            throw ResamplerError(message: "crop \(c) does not fit the \(sourceWidth)×\(sourceHeight) image")
        }
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.bytesPerLine = bytesPerLine
        self.layout = layout
        self.crop = c
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        self.limitedRange = limitedRange
        levels = (0..<256).map { v in
            guard limitedRange else { return UInt8(v) }
            return UInt8(max(0, min(255, ((v - 16) * 255 + 109) / 219)))
        }
        func spans(_ origin: Int, _ length: Int, _ out: Int) -> ([Int32], [Int32]) {
            var s = [Int32](), n = [Int32]()
            for i in 0..<out {
                let a = origin + i * length / out
                let b = max(a + 1, origin + (i + 1) * length / out)
                s.append(Int32(a))
                n.append(Int32(b - a))
            }
            return (s, n)
        }
        (xStart, xCount) = spans(c.x, c.width, outputWidth)
        (yStart, yCount) = spans(c.y, c.height, outputHeight)
    }

    /// Bytes one source image needs at least.
    public var minimumSourceBytes: Int { bytesPerLine * (sourceHeight - 1) + sourceWidth * layout.bytesPerPixel }

    /// Writes `outputWidth × outputHeight` gray bytes into `dst` from the source image at `src`.
    public func resample(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableBufferPointer<UInt8>) {
        precondition(src.count >= minimumSourceBytes && dst.count >= outputWidth * outputHeight, "buffer too small")
        let base = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for oy in 0..<outputHeight {
            let y0 = Int(yStart[oy]), ny = Int(yCount[oy])
            for ox in 0..<outputWidth {
                let x0 = Int(xStart[ox]), nx = Int(xCount[ox])
                var sum = 0
                for y in y0..<(y0 + ny) {
                    let row = base + y * bytesPerLine
                    switch layout {
                    case .gray: for x in x0..<(x0 + nx) { sum += Int(row[x]) }
                    case .yuyv: for x in x0..<(x0 + nx) { sum += Int(row[2 * x]) }
                    case .uyvy: for x in x0..<(x0 + nx) { sum += Int(row[2 * x + 1]) }
                    case .rgb24: for x in x0..<(x0 + nx) { sum += GrayResampler.luma(row[3 * x], row[3 * x + 1], row[3 * x + 2]) }
                    case .bgr24: for x in x0..<(x0 + nx) { sum += GrayResampler.luma(row[3 * x + 2], row[3 * x + 1], row[3 * x]) }
                    }
                }
                let n = nx * ny
                dst[oy * outputWidth + ox] = levels[(sum + n / 2) / n]
            }
        }
    }

    /// BT.601 luma of an RGB pixel, 0...255 (fixed point: 77 R + 150 G + 29 B over 256).
    @inline(__always) static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        (77 * Int(r) + 150 * Int(g) + 29 * Int(b) + 128) >> 8
    }
}

extension GrayResampler.Layout {
    public var bytesPerPixel: Int {
        switch self {
        case .gray: 1
        case .yuyv, .uyvy: 2
        case .rgb24, .bgr24: 3
        }
    }
}

public struct ResamplerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
