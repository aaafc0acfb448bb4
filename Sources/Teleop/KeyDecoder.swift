/// A key from a terminal in raw mode.
public enum Key: Equatable, Sendable {
    case character(UInt8)
    case up, down, left, right
    case enter, backspace
    /// Ctrl-C (0x03).
    case interrupt
}

/// Turns the bytes of a terminal in raw mode into keys: printable ASCII, Enter, Backspace, Ctrl-C and
/// the arrow keys (ESC [ A…D and ESC O A…D). Anything else — other control bytes, other escape
/// sequences, non-ASCII — is dropped and counted, never misread as a key.
public struct KeyDecoder: Sendable {
    private var escape: [UInt8] = []
    /// Bytes that were not part of any key.
    public private(set) var garbageBytes = 0

    public init() {}

    /// The key this byte completes, if any.
    public mutating func feed(_ b: UInt8) -> Key? {
        if !escape.isEmpty || b == 0x1B {
            escape.append(b)
            if escape.count == 1 { return nil }
            if escape.count == 2 {
                if b == UInt8(ascii: "[") || b == UInt8(ascii: "O") { return nil }
                garbageBytes += 2
                escape.removeAll()
                return nil
            }
            // Parameter and intermediate bytes continue the sequence; a final byte ends it.
            if (0x20...0x3F).contains(b) {
                if escape.count > 8 {
                    garbageBytes += escape.count
                    escape.removeAll()
                }
                return nil
            }
            let length = escape.count
            escape.removeAll()
            switch (length, b) {
            case (3, UInt8(ascii: "A")): return .up
            case (3, UInt8(ascii: "B")): return .down
            case (3, UInt8(ascii: "C")): return .right
            case (3, UInt8(ascii: "D")): return .left
            default:
                garbageBytes += length
                return nil
            }
        }
        switch b {
        case 0x0D, 0x0A: return .enter
        case 0x08, 0x7F: return .backspace
        case 0x03: return .interrupt
        case 0x20...0x7E: return .character(b)
        default:
            garbageBytes += 1
            return nil
        }
    }
}
