/// What the console saw that it did not act on, shown by `status`.
public struct ConsoleCounters: Sendable, Equatable {
    /// Bytes received.
    public var bytes = 0
    /// Complete lines (non-empty).
    public var lines = 0
    /// Lines that were not a valid command (unknown, wrong arguments).
    public var badLines = 0
    /// Machine sentences whose checksum was missing or wrong.
    public var badChecksums = 0
    /// Bytes dropped: control characters, non-ASCII, stray escape sequences.
    public var garbageBytes = 0
    /// Lines longer than `LineEditor.maxLineLength`, dropped whole.
    public var overlongLines = 0
    /// Lines dropped whole because a byte of them was dropped (garbage never forms a command: `a\0r\u{1}m`
    /// is not `arm`).
    public var taintedLines = 0
    /// Lines refused because `ConsoleSession.maxQueued` lines were already waiting for the loop.
    public var queueFull = 0
    /// On a signed link: lines refused for a missing or bad signature or a replayed sequence number.
    public var refusedUnsigned = 0

    public init() {}
}

/// Turns a raw byte stream from a serial terminal into lines: printable ASCII is kept, backspace
/// and DEL erase, CR, LF and CR LF each end a line, escape sequences (arrow keys) and every other
/// control or non-ASCII byte are dropped and counted, and a line that had any byte dropped, or is
/// overlong, is dropped whole: what is left of a line with garbage in it is never a command. It also
/// produces the echo a terminal in raw mode expects (none for machine sentences, `$…`).
public struct LineEditor: Sendable {
    public static let maxLineLength = 120

    private var buffer: [UInt8] = []
    private var overflowed = false
    /// A byte of the current line was dropped.
    private var tainted = false
    private var afterCR = false
    private var escape = EscapeState.none

    enum EscapeState: Sendable { case none, started, sequence }

    public init() { buffer.reserveCapacity(Self.maxLineLength) }

    /// True while the current line is a machine sentence (starts with `$`): not echoed.
    private var silent: Bool { buffer.first == UInt8(ascii: "$") }

    /// Feeds one byte; returns a completed line, and appends any echo to `echo`.
    public mutating func feed(_ byte: UInt8, counters: inout ConsoleCounters, echo: inout [UInt8]) -> String? {
        counters.bytes += 1
        let wasCR = afterCR
        afterCR = false
        // Escape sequences (arrow keys: ESC [ A) are dropped. Only bytes that can belong to one are
        // swallowed; anything else (a CR, a control byte) ends the sequence and counts as itself.
        switch escape {
        case .started:
            escape = .none
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") {
                escape = .sequence
                counters.garbageBytes += 1
                tainted = true
                return nil
            }
        case .sequence:
            if (0x20...0x7E).contains(byte) {
                if byte >= 0x40 { escape = .none }
                counters.garbageBytes += 1
                tainted = true
                return nil
            }
            escape = .none
        case .none:
            break
        }
        switch byte {
        case 0x0D:
            afterCR = true
            return finish(counters: &counters, echo: &echo)
        case 0x0A:
            if wasCR { return nil }
            return finish(counters: &counters, echo: &echo)
        case 0x08, 0x7F:
            if !buffer.isEmpty {
                let quiet = silent
                buffer.removeLast()
                if !quiet && !overflowed { echo += [0x08, 0x20, 0x08] }
            }
            return nil
        case 0x1B:
            escape = .started
            counters.garbageBytes += 1
            tainted = true
            return nil
        case 0x20...0x7E:
            if buffer.count >= Self.maxLineLength {
                overflowed = true
                return nil
            }
            buffer.append(byte)
            if !silent { echo.append(byte) }
            return nil
        default:
            counters.garbageBytes += 1
            tainted = true
            return nil
        }
    }

    private mutating func finish(counters: inout ConsoleCounters, echo: inout [UInt8]) -> String? {
        defer {
            buffer.removeAll(keepingCapacity: true)
            overflowed = false
            tainted = false
        }
        if !silent { echo += [0x0D, 0x0A] }
        if overflowed {
            counters.overlongLines += 1
            return nil
        }
        if tainted {
            counters.taintedLines += 1
            if !silent { echo += Array("line dropped: it held bytes that are not printable ASCII\r\n".utf8) }
            return nil
        }
        guard !buffer.isEmpty else { return nil }
        counters.lines += 1
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Forgets a partial line (the link dropped).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        overflowed = false
        tainted = false
        afterCR = false
        escape = .none
    }
}
