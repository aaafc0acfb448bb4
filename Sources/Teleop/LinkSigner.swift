import Crypto
import Foundation

/// Shared-key authentication for a console link that is not a wire (a radio, a USB bridge), after
/// MAVLink 2's message signing: each command that moves or arms the robot is a signed sentence
///
///     $S,SEQ,TAG,BODY*CCCC
///
/// where BODY is an ordinary sentence body (`DRIVE,0.3,0.3`), SEQ a decimal counter that must grow with
/// every sentence of the session, TAG the first 8 bytes (16 upper-case hex digits) of
/// HMAC-SHA256(key, "cerebellum-console-1" ‖ session nonce ‖ SEQ ‖ BODY), nonce and SEQ as 8 bytes
/// big-endian, and CCCC the sentence's CRC-16. The session nonce is random, new each time the link
/// opens, and told to the operator's program (`$SESSION,NONCE*CCCC`), so a sentence recorded in one
/// session is worthless in the next, and within a session a replay carries an old SEQ.
public struct LinkSigner: Sendable {
    private let key: [UInt8]
    /// Shortest key accepted, bytes.
    public static let minimumKeyBytes = 16
    static let domain = Array("cerebellum-console-1".utf8)

    public init(key: [UInt8]) throws {
        guard key.count >= Self.minimumKeyBytes else {
            throw LinkKeyError("the key has \(key.count) bytes; at least \(Self.minimumKeyBytes) are needed (32 recommended)")
        }
        self.key = key
    }

    /// Reads a key file: the key as hex digits (whitespace ignored), as `cerebellum console-key` writes it.
    public static func load(keyFile path: String) throws -> LinkSigner {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LinkKeyError("\(path): cannot read the key file")
        }
        let digits = text.filter { !$0.isWhitespace }
        guard digits.count % 2 == 0, digits.allSatisfy(\.isHexDigit) else {
            throw LinkKeyError("\(path): the key file must hold hex digits only")
        }
        var key: [UInt8] = []
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(i, offsetBy: 2)
            key.append(UInt8(digits[i..<j], radix: 16)!)
            i = j
        }
        do { return try LinkSigner(key: key) } catch let e as LinkKeyError { throw LinkKeyError("\(path): \(e.message)") }
    }

    /// A new random key as the hex text of a key file.
    public static func newKeyText(bytes: Int = 32) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in hex(UInt64(UInt8.random(in: 0...255, using: &g)), digits: 2) }.joined() + "\n"
    }

    /// The tag of `body` under `nonce` and `sequence`: 16 upper-case hex digits.
    public func tag(body: some StringProtocol, nonce: UInt64, sequence: UInt64) -> String {
        var message = Self.domain
        message += bigEndian(nonce) + bigEndian(sequence)
        message += Array(body.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return mac.prefix(8).map { hex(UInt64($0), digits: 2) }.joined()
    }

    /// The whole signed sentence for `body`.
    public func sign(body: String, nonce: UInt64, sequence: UInt64) -> String {
        Sentence.make("S,\(sequence),\(tag(body: body, nonce: nonce, sequence: sequence)),\(body)")
    }

    /// Checks the fields of a signed sentence's body (`SEQ,TAG,BODY`, after `S,`): the inner body, or why not.
    func verify(_ fields: Substring, nonce: UInt64, after lastSequence: UInt64) -> Result<
        (sequence: UInt64, body: Substring), ConsoleLineError
    > {
        let parts = fields.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let sequence = UInt64(parts[0]), parts[1].count == 16 else {
            return .failure(.malformedSentence("a signed sentence is S,SEQ,TAG,BODY"))
        }
        // Compared in full whatever differs first, so the time taken says nothing about the tag.
        let expected = Array(tag(body: parts[2], nonce: nonce, sequence: sequence).utf8), given = Array(parts[1].uppercased().utf8)
        var difference: UInt8 = 0
        for i in 0..<16 { difference |= expected[i] ^ given[i] }
        guard difference == 0 else { return .failure(.badSignature) }
        guard sequence > lastSequence else { return .failure(.staleSequence(got: sequence, last: lastSequence)) }
        return .success((sequence, parts[2]))
    }
}

/// Why a key file or key was refused.
public struct LinkKeyError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }

/// `v` as `digits` upper-case hex digits, zero-padded.
func hex(_ v: UInt64, digits: Int) -> String {
    let h = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, digits - h.count)) + h
}
