import CKernels
import COpenBLAS
import Foundation
import RobotCore
import Synchronization

/// Pointwise nonlinearities.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case relu, gelu, silu

    /// f(x).
    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .relu: x > 0 ? x : 0
        case .gelu: 0.5 * x * (1 + erf(x * 0.70710678118654752))
        case .silu: x / (1 + exp(-x))
        }
    }
}

/// Geometry of a 2-D convolution or pooling window over an NHWC tensor.
public struct WindowGeometry: Equatable, Sendable {
    public var height, width, channels: Int
    public var kernel, stride, padding: Int

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Inputs per output pixel and channel (kernel² · channels).
    public var patchSize: Int { kernel * kernel * channels }
}

/// The fp32 and int8 kernels. Tensors are NHWC (batch, height, width, channels); convolution
/// weights are OHWI, linear weights [out][in]: each output's weights are one contiguous row in the
/// order the im2col patch reads the input.
enum Kernels {
    /// Unfolds sample windows into rows of a patch matrix: row (b, oy, ox) holds the kernel window in
    /// (ky, kx, c) order, zero where it hangs over the padding. `rowStride` ≥ patchSize.
    static func im2col(
        _ input: UnsafePointer<Float>, batch: Int, geometry g: WindowGeometry,
        into patches: UnsafeMutablePointer<Float>, rowStride: Int
    ) {
        ck_im2col_f32(
            input, Int32(batch), Int32(g.height), Int32(g.width), Int32(g.channels), Int32(g.kernel),
            Int32(g.stride), Int32(g.padding), patches, Int32(rowStride))
    }

    static func im2col(
        _ input: UnsafePointer<Int8>, batch: Int, geometry g: WindowGeometry,
        into patches: UnsafeMutablePointer<Int8>, rowStride: Int
    ) {
        ck_im2col_s8(
            input, Int32(batch), Int32(g.height), Int32(g.width), Int32(g.channels), Int32(g.kernel),
            Int32(g.stride), Int32(g.padding), patches, Int32(rowStride))
    }

    /// out[m][n] = Σ_k a[m][k] · w[n][k] through OpenBLAS (sgemv when m is 1).
    static func gemmABt(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>
    ) {
        if m == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w, Int32(k), a, 1, 0, out, 1)
        } else {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda),
                w, Int32(k), 0, out, Int32(n))
        }
    }

    /// Adds a per-column bias to `rows` rows of `columns` values and applies `activation`, in place.
    static func biasActivate(
        _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
        bias: UnsafePointer<Float>?, activation: Activation?
    ) {
        if activation == nil || activation == .relu {
            ck_bias_relu_f32(x, Int64(rows), Int32(columns), bias, activation == .relu ? 1 : 0)
            return
        }
        for r in 0..<rows {
            let row = x + r * columns
            if let bias { for j in 0..<columns { row[j] += bias[j] } }
            if let activation {
                if activation == .relu {
                    for j in 0..<columns where row[j] < 0 { row[j] = 0 }
                } else {
                    for j in 0..<columns { row[j] = activation.apply(row[j]) }
                }
            }
        }
    }

    /// out = a + b, elementwise.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// Copies the first `rows` rows of each part ([batch, F_b]) side by side into `out` ([batch, ΣF_b]).
    static func concatenateRows(_ parts: [Tensor<Float>], rows: Int, into out: Tensor<Float>) {
        let width = out.count / out.shape[0]
        var column = 0
        for b in 0..<parts.count {
            let part = parts[b], w = part.count / part.shape[0]
            for r in 0..<rows { (out.pointer + r * width + column).update(from: part.pointer + r * w, count: w) }
            column += w
        }
    }

    /// The reverse of `concatenateRows`: column block b of the first `rows` rows of `whole` into `parts[b]`.
    static func splitRows(_ whole: Tensor<Float>, rows: Int, into parts: [Tensor<Float>]) {
        let width = whole.count / whole.shape[0]
        var column = 0
        for b in 0..<parts.count {
            let part = parts[b], w = part.count / part.shape[0]
            for r in 0..<rows { (part.pointer + r * w).update(from: whole.pointer + r * width + column, count: w) }
            column += w
        }
    }

    /// Symmetric per-tensor quantization: q = round(clamp(x / scale, -127, 127)), ties to even.
    static func quantize(_ x: UnsafePointer<Float>, count: Int, inverseScale: Float, out: UnsafeMutablePointer<Int8>) {
        ck_quantize_f32(x, Int64(count), inverseScale, out)
    }
}

/// OpenBLAS settings.
public enum BLAS {
    private static let configured = Atomic<Bool>(false)

    /// Threads OpenBLAS may use for one call, for the whole process. The engine sets 1 when the
    /// first network is built unless this was called before: inference in the control loop runs on
    /// the loop's own core (and OpenBLAS's thread hand-off allocates). Training may use every core.
    public static func setThreads(_ n: Int) {
        configured.store(true, ordering: .sequentiallyConsistent)
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Applies the single-thread default once, if nobody chose a thread count.
    static func applyDefault() {
        if configured.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            openblas_set_num_threads(1)
        }
    }

    /// OpenBLAS's build configuration (version, threading, the kernels it was built with).
    public static var configuration: String { openblas_get_config().map { String(cString: $0) } ?? "?" }

    /// OpenBLAS's build configuration and the core type it chose.
    public static var description: String { "\(configuration) (core \(coreName))" }

    /// The core type whose kernels OpenBLAS runs (its CPU detection, or OPENBLAS_CORETYPE).
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "?" }

    /// x86 core types whose kernels use AVX2 and FMA (OpenBLAS's names, lower case).
    static let avx2CoreTypes: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"]

    /// The core type to ask for on an x86 CPU with AVX2 + FMA when OpenBLAS fell back: its AVX2 kernels
    /// run on every such CPU.
    public static let safeAVX2CoreType = "Haswell"

    /// Why OpenBLAS runs slower kernels than this CPU can take: it chose a generic core type (an old
    /// library that does not know the CPU, or an OPENBLAS_CORETYPE) on a CPU with AVX2 + FMA. nil when it
    /// did not fall back (or on other architectures).
    public static var fallback: String? {
        #if arch(x86_64)
            guard ck_cpu_features() & Int32(CK_FEATURE_AVX2) != 0 else { return nil }
            let core = coreName
            guard !avx2CoreTypes.contains(core.lowercased()) else { return nil }
            return "OpenBLAS runs its \(core) kernels (generic, no AVX2) on a CPU with AVX2 + FMA"
        #else
            return nil
        #endif
    }

    /// The largest difference between OpenBLAS's SGEMM and the portable dense kernel on the shapes the
    /// world model uses (planner rows, encoder patches, training batches), relative to the largest
    /// output: a core type that computes wrongly on this CPU shows here (about 1e-6 when both are right).
    public static func disagreementWithPortable() -> Float {
        var rng = SeededGenerator(seed: 0xB1A5)
        var worst: Float = 0
        for (m, n, k) in [(32, 128, 34), (64, 128, 128), (256, 32, 144), (1, 32, 128), (17, 45, 77)] {
            let a = Tensor<Float>(shape: [m, k]), w = Tensor<Float>(shape: [n, k]), out = Tensor<Float>(shape: [m, n])
            for i in 0..<a.count { a[i] = Float(rng.uniform(-1, 1)) }
            for i in 0..<w.count { w[i] = Float(rng.uniform(-1, 1)) }
            Kernels.gemmABt(m: m, n: n, k: k, a: a.pointer, lda: k, w: w.pointer, out: out.pointer)
            let packed = Tensor<Float>(shape: [Int(ck_dense_packed_count(Int32(n), Int32(k)))])
            let reference = Tensor<Float>(shape: [m, n])
            ck_pack_f32(Int32(n), Int32(k), w.pointer, packed.pointer)
            _ = ck_dense_f32(
                CK_DENSE_PORTABLE, Int32(m), a.pointer, Int32(k), Int32(k), packed.pointer, Int32(n), nil, 0,
                reference.pointer, Int32(n))
            var diff: Float = 0, scale: Float = 1e-12
            for i in 0..<out.count {
                guard out[i].isFinite else { return .infinity }
                diff = max(diff, abs(out[i] - reference[i]))
                scale = max(scale, abs(reference[i]))
            }
            worst = max(worst, diff / scale)
        }
        return worst
    }
}
