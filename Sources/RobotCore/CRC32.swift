import CZlib

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by PNG, gzip and MCAP, computed by
/// zlib's `crc32_z` (the PNG files are deflated by zlib anyway).
public struct CRC32: Sendable {
    private var state: UInt = 0

    public init() {}

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let done = bytes.withContiguousStorageIfAvailable({ add($0) }) {
            state = done
        } else {
            state = Array(bytes).withUnsafeBufferPointer { add($0) }
        }
    }

    private func add(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return state }
        return crc32_z(state, base, bytes.count)
    }

    public var value: UInt32 { UInt32(truncatingIfNeeded: state) }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c = CRC32()
        c.update(bytes)
        return c.value
    }
}
