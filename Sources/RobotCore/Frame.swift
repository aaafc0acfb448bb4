/// A camera frame: 8-bit grayscale, row-major, `width × height` bytes. Allocated once and reused:
/// a frame source writes into it, so capturing allocates nothing.
public final class Frame {
    public let width: Int
    public let height: Int
    /// Row-major luminance, 0 (black) ... 255 (white).
    public var pixels: [UInt8]
    /// When the image was exposed, on the shared monotonic clock.
    public var timestamp: Instant
    /// The source's frame counter; gaps mean dropped frames.
    public var sequence: UInt64
    /// False until a source has written an image into it.
    public var isValid: Bool

    public init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "frame size must be positive")
        self.width = width
        self.height = height
        self.pixels = [UInt8](repeating: 0, count: width * height)
        self.timestamp = .zero
        self.sequence = 0
        self.isValid = false
    }

    public subscript(x: Int, y: Int) -> UInt8 {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Copies size, pixels and metadata from another frame of the same size.
    public func copy(from other: Frame) {
        precondition(other.width == width && other.height == height, "frame sizes differ")
        pixels.withUnsafeMutableBufferPointer { dst in
            other.pixels.withUnsafeBufferPointer { src in _ = dst.update(fromContentsOf: src) }
        }
        timestamp = other.timestamp
        sequence = other.sequence
        isValid = other.isValid
    }
}
