import RobotCore

/// The Gymnasium bridge's wire protocol, version 1 (docs/gym-bridge.md): every message is a little-endian u32
/// payload length, then the payload, whose first byte is its type. The controller sends HELLO once, then
/// RESET and STEP; the host answers HELLO with READY, every RESET with an OBSERVATION (two, the goal's first,
/// when it asks for the goal), every STEP with one, and anything it cannot do with ERROR. Decoding checks every
/// length and range against what was asked: a reply that does not fit is a `GymProtocolError`, never a crash.
public enum GymProtocol {
    public static let version: UInt16 = 1
    /// Longest payload either side accepts, bytes.
    public static let maxMessageBytes = 64 << 20

    public enum MessageType: UInt8, Sendable {
        case hello = 0x01, reset = 0x02, step = 0x03, close = 0x04
        case ready = 0x81, observation = 0x82, error = 0xFF
    }

    /// HELLO: the protocol version and the environment's description (JSON text, docs/gym-bridge.md).
    public static func hello(configJSON: String) -> [UInt8] {
        var w = ByteWriter(.hello)
        w.u16(version)
        w.bytes(Array(configJSON.utf8))
        return w.message
    }

    /// RESET: start an episode with `seed`; `wantGoal` asks for the goal's observation first.
    public static func reset(seed: UInt64, wantGoal: Bool) -> [UInt8] {
        var w = ByteWriter(.reset)
        w.u64(seed)
        w.u8(wantGoal ? 1 : 0)
        return w.message
    }

    /// STEP with a Box action (one f32 per component) or a Discrete one.
    public static func step(_ action: GymAction) -> [UInt8] {
        var w = ByteWriter(.step)
        switch action {
        case .box(let values):
            w.u8(0)
            w.u16(UInt16(values.count))
            for v in values { w.u32(Float(v).bitPattern) }
        case .discrete(let a):
            w.u8(1)
            w.u64(UInt64(bitPattern: Int64(a)))
        }
        return w.message
    }

    public static func close() -> [UInt8] { ByteWriter(.close).message }

    /// The payload length a message header announces, or an error when it is out of range.
    public static func payloadLength(header: [UInt8]) throws(GymProtocolError) -> Int {
        precondition(header.count == 4)
        let n = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard n >= 1, n <= maxMessageBytes else { throw GymProtocolError("message length \(n) out of range 1…\(maxMessageBytes)") }
        return n
    }
}

/// An action as the environment takes it.
public enum GymAction: Sendable, Equatable {
    case box([Double])
    case discrete(Int)
}

/// The environment's action space, as READY describes it.
public enum GymActionSpace: Sendable, Equatable {
    /// A vector of `low.count` reals, each within its range.
    case box(low: [Double], high: [Double])
    /// Integers `start ..< start + n`.
    case discrete(n: Int, start: Int)
}

/// What READY tells: the action space, the environment's own step limit, the truth values each observation carries.
public struct GymReady: Sendable, Equatable {
    public var actionSpace: GymActionSpace
    /// The environment's `max_episode_steps` (nil: none).
    public var maxEpisodeSteps: Int?
    public var truthCount: Int
    /// The host's words about itself (environment id, Gymnasium version), for logs.
    public var description: String
}

/// One OBSERVATION: the image (H×W×C bytes, C 1 or 3), the step's reward and ending, and the truth values.
public struct GymObservation: Sendable, Equatable {
    public var terminated: Bool
    public var truncated: Bool
    /// This is the goal's observation (the first reply to a RESET that asked for it).
    public var isGoal: Bool
    public var reward: Double
    public var height: Int, width: Int, channels: Int
    /// Evaluation-only facts (`truth:` of the board), in its order; never shown to the controller.
    public var truth: [Double]
    public var pixels: [UInt8]
}

/// A reply the controller does not accept, with what was wrong.
public struct GymProtocolError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A decoded reply from the host.
public enum GymReply: Sendable, Equatable {
    case ready(GymReady)
    case observation(GymObservation)
    /// The host's own error (it exits after sending one).
    case error(String)

    /// Decodes one payload (type byte first). `truthCount` is what READY promised (nil before READY).
    public static func decode(_ payload: [UInt8], truthCount: Int?) throws(GymProtocolError) -> GymReply {
        var r = ByteReader(payload)
        let kind = try r.u8("type")
        switch GymProtocol.MessageType(rawValue: kind) {
        case .ready?:
            let version = try r.u16("version")
            guard version == GymProtocol.version else {
                throw GymProtocolError("the host speaks protocol version \(version), this controller \(GymProtocol.version)")
            }
            let space: GymActionSpace
            switch try r.u8("action kind") {
            case 0:
                let n = Int(try r.u16("action size"))
                guard (1...64).contains(n) else { throw GymProtocolError("a Box action of \(n) components (1…64 are supported)") }
                var low: [Double] = [], high: [Double] = []
                for _ in 0..<n { low.append(try r.f64("action low")) }
                for _ in 0..<n { high.append(try r.f64("action high")) }
                for i in 0..<n where !(low[i] <= high[i]) || low[i].isNaN {
                    throw GymProtocolError("action component \(i) has low \(low[i]) above high \(high[i])")
                }
                space = .box(low: low, high: high)
            case 1:
                let n = Int(try r.u16("action count"))
                let start = Int(Int64(bitPattern: try r.u64("action start")))
                guard n >= 1, start > -(1 << 40), start < 1 << 40 else {
                    throw GymProtocolError("a Discrete space of \(n) actions from \(start)")
                }
                space = .discrete(n: n, start: start)
            case let k: throw GymProtocolError("action kind \(k) (0 Box or 1 Discrete)")
            }
            let steps = Int(try r.u32("max episode steps"))
            let truth = Int(try r.u8("truth count"))
            let text = String(decoding: r.rest(), as: UTF8.self)
            return .ready(GymReady(actionSpace: space, maxEpisodeSteps: steps == 0 ? nil : steps, truthCount: truth, description: text))
        case .observation?:
            guard let truthCount else { throw GymProtocolError("an observation before READY") }
            let flags = try r.u8("flags")
            let reward = try r.f64("reward")
            let h = Int(try r.u16("height")), w = Int(try r.u16("width")), c = Int(try r.u8("channels"))
            guard h >= 1, w >= 1, c == 1 || c == 3 else { throw GymProtocolError("an image of \(h)×\(w)×\(c) (C must be 1 or 3)") }
            let n = Int(try r.u8("truth count"))
            guard n == truthCount else { throw GymProtocolError("\(n) truth values, READY promised \(truthCount)") }
            var truth: [Double] = []
            for _ in 0..<n { truth.append(try r.f64("truth")) }
            let pixels = r.rest()
            guard pixels.count == h * w * c else {
                throw GymProtocolError("\(pixels.count) image bytes for \(h)×\(w)×\(c) = \(h * w * c)")
            }
            return .observation(
                GymObservation(
                    terminated: flags & 1 != 0, truncated: flags & 2 != 0, isGoal: flags & 4 != 0, reward: reward,
                    height: h, width: w, channels: c, truth: truth, pixels: pixels))
        case .error?:
            return .error(String(decoding: r.rest(), as: UTF8.self))
        default:
            throw GymProtocolError("unknown reply type 0x\(String(kind, radix: 16))")
        }
    }
}

/// Little-endian fields after a message type, then the length header in front.
struct ByteWriter {
    private var body: [UInt8]
    init(_ type: GymProtocol.MessageType) { body = [type.rawValue] }
    mutating func u8(_ v: UInt8) { body.append(v) }
    mutating func u16(_ v: UInt16) { for k in 0..<2 { body.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func u32(_ v: UInt32) { for k in 0..<4 { body.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func u64(_ v: UInt64) { for k in 0..<8 { body.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func bytes(_ b: [UInt8]) { body += b }
    var message: [UInt8] {
        let n = UInt32(body.count)
        return (0..<4).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + body
    }
}

/// Reads little-endian fields; running out names the field.
struct ByteReader {
    private let bytes: [UInt8]
    private var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func take(_ n: Int, _ field: String) throws(GymProtocolError) -> UInt64 {
        guard at + n <= bytes.count else { throw GymProtocolError("the reply ends inside its \(field)") }
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(bytes[at + k]) << (8 * k) }
        at += n
        return v
    }
    mutating func u8(_ f: String) throws(GymProtocolError) -> UInt8 { UInt8(try take(1, f)) }
    mutating func u16(_ f: String) throws(GymProtocolError) -> UInt16 { UInt16(try take(2, f)) }
    mutating func u32(_ f: String) throws(GymProtocolError) -> UInt32 { UInt32(try take(4, f)) }
    mutating func u64(_ f: String) throws(GymProtocolError) -> UInt64 { try take(8, f) }
    mutating func f64(_ f: String) throws(GymProtocolError) -> Double { Double(bitPattern: try take(8, f)) }
    mutating func rest() -> [UInt8] {
        defer { at = bytes.count }
        return Array(bytes[at...])
    }
}
