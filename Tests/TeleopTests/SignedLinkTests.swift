import RobotCore
import Safety
import Testing
@testable import Teleop

/// A session on a signed link, with the commands it carried out.
private final class SignedSession {
    let signer: LinkSigner
    let session: ConsoleSession
    var executed: [ConsoleCommand] = []

    init(key: [UInt8] = Array(0..<32)) throws {
        signer = try LinkSigner(key: key)
        session = ConsoleSession(
            settings: ConsoleSettings(channels: ["vx", "vy"], signer: signer), link: TeleopLink(), limitsText: [],
            now: { Instant(nanoseconds: 1_000_000_000) })
        session.onExecute = { [unowned self] in executed.append($0) }
    }

    @discardableResult
    func send(_ line: String) -> String { String(decoding: session.receive(Array((line + "\r\n").utf8)), as: UTF8.self) }
}

@Suite("signed console link")
struct SignedLinkTests {
    @Test("the tag is HMAC-SHA256 over domain, nonce, sequence and body, truncated to 8 bytes (Python's hmac agrees)")
    func knownAnswer() throws {
        // python3: hmac.new(bytes(range(32)), b"cerebellum-console-1" + struct.pack(">QQ", nonce, 7) + b"DRIVE,0.3,-0.2",
        //                   hashlib.sha256).hexdigest()[:16].upper()
        let signer = try LinkSigner(key: Array(0..<32))
        #expect(signer.tag(body: "DRIVE,0.3,-0.2", nonce: 0x0011_2233_AABB_CCDD, sequence: 7) == "82FC7F235BA7F47D")
        #expect(signer.sign(body: "ARM", nonce: 1, sequence: 2).hasPrefix("$S,2,"))
        #expect(throws: LinkKeyError.self) { try LinkSigner(key: Array(repeating: 1, count: 15)) }
    }

    @Test("on a signed link only signed sentences move or arm; estop, status, help, limits and session need none")
    func unsignedCommandsAreRefused() throws {
        let s = try SignedSession()
        for line in [
            "arm", "drive 0.5 0.5", "$DRIVE,0.5,0.5*" + Sentence.hex(Sentence.checksum(Array("DRIVE,0.5,0.5".utf8))), "keys", "mode teleop",
        ] {
            #expect(s.send(line).contains(line.hasPrefix("$") ? "ERR,UNSIGNED" : "signed commands only"), "\(line)")
        }
        #expect(s.executed.isEmpty)
        #expect(s.session.counters.refusedUnsigned == 5)
        s.send("estop")
        s.send("status")
        #expect(s.executed == [.estop, .status])
        #expect(s.send("$SESSION*" + Sentence.hex(Sentence.checksum(Array("SESSION".utf8)))).contains(hex(s.session.nonce, digits: 16)))
    }

    @Test("a signed sentence is carried out once; a replay, another key, a changed body or another session is refused")
    func signedSentences() throws {
        let s = try SignedSession()
        let drive = s.signer.sign(body: "DRIVE,0.3,-0.2", nonce: s.session.nonce, sequence: 5)
        s.send(drive)
        #expect(s.executed == [.drive([0.3, -0.2])])
        #expect(s.send(drive).contains("ERR,REPLAY"))
        #expect(s.send(s.signer.sign(body: "ARM", nonce: s.session.nonce, sequence: 5)).contains("ERR,REPLAY"))
        let other = try LinkSigner(key: Array(repeating: 9, count: 32))
        #expect(s.send(other.sign(body: "ARM", nonce: s.session.nonce, sequence: 6)).contains("ERR,SIGNATURE"))
        // The body changed after signing, the CRC made to fit: the tag no longer matches.
        let tag = s.signer.tag(body: "DRIVE,0.1,0.1", nonce: s.session.nonce, sequence: 7)
        #expect(s.send(Sentence.make("S,7,\(tag),DRIVE,0.9,0.9")).contains("ERR,SIGNATURE"))
        #expect(s.executed == [.drive([0.3, -0.2])])
        // A new link opening is a new session: what was signed for the old one is worthless.
        let old = s.signer.sign(body: "ARM", nonce: s.session.nonce, sequence: 100)
        _ = s.session.greeting()
        #expect(s.send(old).contains("ERR,SIGNATURE"))
        s.send(s.signer.sign(body: "ARM", nonce: s.session.nonce, sequence: 1))
        #expect(s.executed.last == .arm)
        #expect(s.session.counters.refusedUnsigned == 5)
    }

    @Test("a link without a key refuses signed sentences rather than pretend to check them")
    func unsignedLinkRefusesSignedSentences() throws {
        let session = ConsoleSession(
            settings: ConsoleSettings(channels: ["vx", "vy"]), link: TeleopLink(), limitsText: [],
            now: { .zero })
        let signer = try LinkSigner(key: Array(0..<32))
        let out = String(decoding: session.receive(Array((signer.sign(body: "ARM", nonce: 1, sequence: 1) + "\r\n").utf8)), as: UTF8.self)
        #expect(out.contains("ERR,NOKEY"))
    }
}
