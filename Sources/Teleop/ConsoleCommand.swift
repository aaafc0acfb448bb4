/// Who drives: the autonomy source, or the operator on the console.
public enum ControlMode: String, Sendable, Equatable {
    case auto, teleop
}

/// A console command, typed by a person or sent as a checksummed machine sentence.
public enum ConsoleCommand: Sendable, Equatable {
    case help
    case status
    case arm
    case disarm
    case estop
    /// Clear latched faults whose cause is gone (and release a console e-stop).
    case reset
    case mode(ControlMode)
    /// One channel's effort; the others keep the operator's last values.
    case set(channel: Int, value: Double)
    /// Every channel's effort, in board order.
    case drive([Double])
    /// Operator command to neutral (stays in teleop).
    case stop
    case goal(String)
    case limits
    /// Enter the single-key drive mode.
    case keys
    /// The signed link's session nonce (`$SESSION*CCCC`), for the operator's program to sign with.
    case session
    /// The run's recorder: start, stop, status, or a mark on the segment being recorded.
    case record(RecordCommand)
}

/// `record start [NAME] | stop | status | mark good|bad [NOTE]`.
public enum RecordCommand: Sendable, Equatable {
    /// Starts a recording file, `NAME.mcap` in the run's recording directory (a fresh numbered name without one).
    case start(name: String?)
    case stop
    case status
    /// Marks the segment being recorded "good" or "bad", with an optional note.
    case mark(label: String, note: String)

    /// A recording's name: 1–64 letters, digits, `-`, `_` or `.`, not starting with `.`.
    public static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.first != "."
            && s.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0)
            }
    }
}

/// The run's recorder as the console drives it; called on the console thread, never inside a tick.
public protocol RecordingControl: AnyObject, Sendable {
    /// Carries out `command`; `ok` false with the reason when it cannot (already recording, a bad name, a
    /// full disk). `machine` is the short form for sentence replies (`RECORDING`, `STOPPED`, …).
    func perform(_ command: RecordCommand) -> (ok: Bool, text: String, machine: String)
}

/// A parsed line: the command, and whether it came as a machine sentence (replies in kind).
public struct ConsoleLine: Sendable, Equatable {
    public var command: ConsoleCommand
    public var machine: Bool
}

/// Why a line was rejected; `description` is what the console prints.
public enum ConsoleLineError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknown(String)
    case usage(String)
    case badChecksum
    case malformedSentence(String)
    /// The link is signed (`serial_console.key_file`) and the command moves or arms: it must be signed.
    case unsigned
    /// A signed sentence whose tag is not the key's.
    case badSignature
    /// A signed sentence whose sequence number is not above the last accepted one (a replay).
    case staleSequence(got: UInt64, last: UInt64)
    /// A signed sentence on a link with no key.
    case signingNotConfigured

    public var description: String {
        switch self {
        case .unknown(let word): "unknown command \"\(word)\" (help lists them)"
        case .usage(let text): text
        case .badChecksum: "bad or missing checksum"
        case .malformedSentence(let why): "malformed sentence: \(why)"
        case .unsigned:
            "this link takes signed commands only (serial_console.key_file); estop, status, help, limits and session need no signature"
        case .badSignature: "bad signature"
        case .staleSequence(let got, let last): "sequence \(got) is not above the last accepted \(last): replay refused"
        case .signingNotConfigured: "this link has no key (serial_console.key_file): signed sentences are not accepted"
        }
    }

    /// The short code used in machine replies ($ERR,CODE).
    public var code: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .usage: "USAGE"
        case .badChecksum: "CHECKSUM"
        case .malformedSentence: "MALFORMED"
        case .unsigned: "UNSIGNED"
        case .badSignature: "SIGNATURE"
        case .staleSequence: "REPLAY"
        case .signingNotConfigured: "NOKEY"
        }
    }
}

/// NMEA-style sentences: `$BODY*HH`, HH the XOR of the body's bytes in hex.
/// Machine sentences: `$BODY*CCCC`, where CCCC is the CRC-16/CCITT-FALSE of the bytes between `$` and `*`
/// (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR; "123456789" gives 29B1) as four
/// upper-case hex digits. A CRC-16 catches every burst of up to 16 bits and every odd number of flipped
/// bits, where an 8-bit XOR lets two changed digits that cancel through (`0.9,0.9` for `0.1,0.1`).
public enum Sentence {
    public static func checksum<S: Sequence>(_ body: S) -> UInt16 where S.Element == UInt8 {
        var crc: UInt16 = 0xFFFF
        for byte in body {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    /// The checksum as a sentence spells it: four upper-case hex digits.
    public static func hex(_ c: UInt16) -> String { Teleop.hex(UInt64(c), digits: 4) }

    /// `$BODY*CCCC` with the checksum filled in.
    public static func make(_ body: String) -> String { "$\(body)*\(hex(checksum(Array(body.utf8))))" }

    /// The body of a well-formed sentence with a correct checksum.
    static func body(of line: String) -> Result<Substring, ConsoleLineError> {
        guard line.first == "$", let star = line.lastIndex(of: "*") else { return .failure(.badChecksum) }
        let body = line[line.index(after: line.startIndex)..<star]
        let digits = line[line.index(after: star)...]
        guard digits.count == 4, digits.allSatisfy(\.isHexDigit), let given = UInt16(digits, radix: 16) else {
            return .failure(.badChecksum)
        }
        guard given == checksum(Array(body.utf8)) else { return .failure(.badChecksum) }
        return .success(body)
    }
}

/// Parses one console line. `channels` are the board's actuator names (for `set NAME` and the
/// number of values `drive` takes).
public func parseConsoleLine(_ line: String, channels: [String]) -> Result<ConsoleLine, ConsoleLineError> {
    if line.hasPrefix("$") {
        switch Sentence.body(of: line) {
        case .failure(let e): return .failure(e)
        case .success(let body): return parseSentenceBody(body, channels: channels)
        }
    }
    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String($0) }
    guard !words.isEmpty else { return .failure(.unknown("")) }
    return parseWords(words, channels: channels, machine: false).map { ConsoleLine(command: $0, machine: false) }
}

/// A machine sentence's body (between `$` and `*`, checksum already checked).
func parseSentenceBody(_ body: Substring, channels: [String]) -> Result<ConsoleLine, ConsoleLineError> {
    let fields = body.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
    return parseWords(fields, channels: channels, machine: true).map { ConsoleLine(command: $0, machine: true) }
}

private func parseWords(_ words: [String], channels: [String], machine: Bool) -> Result<ConsoleCommand, ConsoleLineError> {
    let verb = words[0].lowercased()
    let args = Array(words.dropFirst())
    func noArgs(_ c: ConsoleCommand) -> Result<ConsoleCommand, ConsoleLineError> {
        args.isEmpty ? .success(c) : .failure(.usage("\(verb) takes no arguments"))
    }
    func effort(_ s: String) -> Double? {
        guard let v = Double(s), v.isFinite, v >= -1, v <= 1 else { return nil }
        return v
    }
    switch verb {
    case "help": return noArgs(.help)
    case "status": return noArgs(.status)
    case "arm": return noArgs(.arm)
    case "disarm": return noArgs(.disarm)
    case "estop": return noArgs(.estop)
    case "reset": return noArgs(.reset)
    case "stop": return noArgs(.stop)
    case "limits": return noArgs(.limits)
    case "session": return noArgs(.session)
    case "keys": return machine ? .failure(.usage("keys is for people")) : noArgs(.keys)
    case "mode":
        guard args.count == 1, let m = ControlMode(rawValue: args[0].lowercased()) else {
            return .failure(.usage("usage: mode auto|teleop"))
        }
        return .success(.mode(m))
    case "set":
        let names = channels.map { $0.lowercased() }
        guard args.count == 2 else {
            return .failure(.usage("usage: set CHANNEL VALUE (channels: \(channels.joined(separator: ", ")); value in -1…1)"))
        }
        let ch = names.firstIndex(of: args[0].lowercased()) ?? Int(args[0]).flatMap { $0 >= 0 && $0 < channels.count ? $0 : nil }
        guard let ch else { return .failure(.usage("no channel \"\(args[0])\" (channels: \(channels.joined(separator: ", ")))")) }
        guard let v = effort(args[1]) else { return .failure(.usage("value must be a number in -1…1")) }
        return .success(.set(channel: ch, value: v))
    case "drive":
        guard args.count == channels.count else {
            return .failure(.usage("usage: drive " + channels.joined(separator: " ") + " (\(channels.count) values in -1…1)"))
        }
        var values: [Double] = []
        for a in args {
            guard let v = effort(a) else { return .failure(.usage("drive values must be numbers in -1…1")) }
            values.append(v)
        }
        return .success(.drive(values))
    case "goal":
        guard args.count == 1, !args[0].isEmpty else { return .failure(.usage("usage: goal NAME")) }
        return .success(.goal(args[0]))
    case "record":
        let usage = ConsoleLineError.usage("usage: record start [NAME] | stop | status | mark good|bad [NOTE]")
        guard let sub = args.first?.lowercased() else { return .failure(usage) }
        let rest = Array(args.dropFirst())
        switch sub {
        case "start":
            guard rest.count <= 1 else { return .failure(usage) }
            if let name = rest.first, !RecordCommand.isValidName(name) {
                return .failure(.usage("a recording name is 1–64 letters, digits, - _ or . (not starting with .)"))
            }
            return .success(.record(.start(name: rest.first)))
        case "stop": return rest.isEmpty ? .success(.record(.stop)) : .failure(usage)
        case "status": return rest.isEmpty ? .success(.record(.status)) : .failure(usage)
        case "mark":
            guard let label = rest.first?.lowercased(), label == "good" || label == "bad" else { return .failure(usage) }
            let note = rest.dropFirst().joined(separator: " ")
            guard note.count <= 200 else { return .failure(.usage("a mark's note is at most 200 characters")) }
            return .success(.record(.mark(label: label, note: note)))
        default: return .failure(usage)
        }
    default:
        return .failure(machine ? .malformedSentence("unknown sentence \(words[0])") : .unknown(words[0]))
    }
}
