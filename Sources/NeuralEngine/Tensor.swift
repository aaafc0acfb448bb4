import RobotCore

/// Element types a tensor can hold, with their safetensors dtype.
public protocol TensorScalar: BitwiseCopyable, Equatable, Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
    /// The tensor in the dtype-tagged form safetensors files hold.
    static func tagged(_ tensor: Tensor<Self>) -> AnyTensor
}

/// The safetensors dtypes this engine reads and writes.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case i8 = "I8"
    case i32 = "I32"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32, .i32: 4
        case .i8: 1
        }
    }
}

extension Float: TensorScalar {
    public static var dtype: DType { .f32 }
    public static func tagged(_ tensor: Tensor<Float>) -> AnyTensor { .f32(tensor) }
}
extension Int8: TensorScalar {
    public static var dtype: DType { .i8 }
    public static func tagged(_ tensor: Tensor<Int8>) -> AnyTensor { .i8(tensor) }
}
extension Int32: TensorScalar {
    public static var dtype: DType { .i32 }
    public static func tagged(_ tensor: Tensor<Int32>) -> AnyTensor { .i32(tensor) }
}

/// Owns one 64-byte-aligned block of elements. Allocated once; tensors viewing it share it.
final class TensorStorage<Scalar: TensorScalar>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Scalar>
    let capacity: Int

    /// `slack` extra zeroed bytes after the elements, for kernels that read a little past the end.
    init(count: Int, slack: Int = 0) {
        let bytes = max(count * MemoryLayout<Scalar>.stride + slack, 64)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        base = raw.bindMemory(to: Scalar.self, capacity: count)
        capacity = count
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// A dense row-major tensor with an explicit shape.
///
/// A `Tensor` is a reference: it is allocated once (workspaces are made before inference starts)
/// and written in place by the kernels, so inference never allocates. `reshaped` gives another
/// view of the same elements; `copy` makes an independent one.
public final class Tensor<Scalar: TensorScalar>: @unchecked Sendable {
    public let shape: [Int]
    /// Number of elements (the product of the shape).
    public let count: Int
    let storage: TensorStorage<Scalar>

    /// A zero-filled tensor. `slack` adds readable zero bytes after the last element.
    public init(shape: [Int], slack: Int = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = TensorStorage(count: count, slack: slack)
    }

    /// A tensor holding `scalars`, which must have `shape`'s element count.
    public convenience init(shape: [Int], scalars: [Scalar]) {
        self.init(shape: shape)
        precondition(scalars.count == count, "\(scalars.count) values for shape \(shape)")
        scalars.withUnsafeBufferPointer { src in
            storage.base.update(from: src.baseAddress!, count: count)
        }
    }

    init(shape: [Int], storage: TensorStorage<Scalar>) {
        self.shape = shape
        count = shape.reduce(1, *)
        precondition(count <= storage.capacity)
        self.storage = storage
    }

    /// Another view of the same elements with a shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// An independent copy.
    public func copy() -> Tensor {
        let t = Tensor(shape: shape)
        t.storage.base.update(from: storage.base, count: count)
        return t
    }

    /// Element at flat (row-major) index `i`.
    public subscript(i: Int) -> Scalar {
        get {
            precondition(i >= 0 && i < count)
            return storage.base[i]
        }
        set {
            precondition(i >= 0 && i < count)
            storage.base[i] = newValue
        }
    }

    /// All elements, row-major.
    public var scalars: [Scalar] {
        Array(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Copies `count` elements from `source` (same element count, any shape).
    public func assign(from source: Tensor) {
        precondition(source.count == count, "assign: \(source.shape) into \(shape)")
        storage.base.update(from: source.storage.base, count: count)
    }

    /// Sets every element to `value`.
    public func fill(_ value: Scalar) {
        storage.base.update(repeating: value, count: count)
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// The element pointer, for kernels in this module.
    var pointer: UnsafeMutablePointer<Scalar> { storage.base }

    /// Bytes the elements occupy.
    public var byteCount: Int { count * MemoryLayout<Scalar>.stride }
}

/// A tensor of any supported dtype, as read from or written to a safetensors file.
public enum AnyTensor: Sendable {
    case f32(Tensor<Float>)
    case i8(Tensor<Int8>)
    case i32(Tensor<Int32>)

    public var dtype: DType {
        switch self {
        case .f32: .f32
        case .i8: .i8
        case .i32: .i32
        }
    }

    public var shape: [Int] {
        switch self {
        case .f32(let t): t.shape
        case .i8(let t): t.shape
        case .i32(let t): t.shape
        }
    }

    public var byteCount: Int {
        switch self {
        case .f32(let t): t.byteCount
        case .i8(let t): t.byteCount
        case .i32(let t): t.byteCount
        }
    }

    public init<S: TensorScalar>(_ tensor: Tensor<S>) { self = S.tagged(tensor) }

    /// The tensor if it has element type `S`.
    public func `as`<S: TensorScalar>(_: S.Type) -> Tensor<S>? {
        switch self {
        case .f32(let t): t as? Tensor<S>
        case .i8(let t): t as? Tensor<S>
        case .i32(let t): t as? Tensor<S>
        }
    }

    func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .f32(let t): try body(UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount))
        case .i8(let t): try body(UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount))
        case .i32(let t): try body(UnsafeRawBufferPointer(start: t.pointer, count: t.byteCount))
        }
    }
}

extension Tensor where Scalar == Float {
    /// A [1, height, width, 1] tensor of the frame's gray pixels scaled to [0, 1].
    public convenience init(gray8 frame: Frame) {
        self.init(shape: [1, frame.height, frame.width, 1])
        assignGray8(frame.pixels)
    }

    /// Writes 8-bit gray pixels scaled to [0, 1], starting at element `offset` (a sample's slot).
    public func assignGray8(_ pixels: [UInt8], offset: Int = 0) {
        precondition(offset + pixels.count <= count, "\(pixels.count) pixels at \(offset) into \(shape)")
        let dst = storage.base + offset
        pixels.withUnsafeBufferPointer { src in
            for i in 0..<src.count { dst[i] = Float(src[i]) * (1 / 255) }
        }
    }
}

/// Cosine similarity of two vectors (accumulated in Double); 0-length or zero vectors give 0.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "cosine of \(a.count) and \(b.count) values")
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in 0..<a.count {
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

extension Tensor where Scalar == Float {
    /// The first element that is NaN or infinite, with its flat index (nil when every element is finite).
    public var firstNonFinite: (index: Int, value: Float)? {
        for i in 0..<count where !storage.base[i].isFinite { return (i, storage.base[i]) }
        return nil
    }
}
