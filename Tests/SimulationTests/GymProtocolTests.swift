import RobotCore
import Testing
@testable import Simulation

/// Builds host replies the way scripts/gym_host.py does.
enum HostReply {
    static func ready(box n: Int, truth: Int, steps: UInt32 = 0, text: String = "test") -> [UInt8] {
        var b: [UInt8] = [0x81, 1, 0, 0, UInt8(n), 0]
        for _ in 0..<n { b += le(Double(-1).bitPattern) }
        for _ in 0..<n { b += le(Double(1).bitPattern) }
        b += le(UInt64(steps), bytes: 4) + [UInt8(truth)] + Array(text.utf8)
        return b
    }

    static func observation(h: Int, w: Int, c: Int, truth: [Double], flags: UInt8 = 0, pixelBytes: Int? = nil) -> [UInt8] {
        var b: [UInt8] = [0x82, flags] + le(Double(0.5).bitPattern)
        b += le(UInt64(h), bytes: 2) + le(UInt64(w), bytes: 2) + [UInt8(c), UInt8(truth.count)]
        for t in truth { b += le(t.bitPattern) }
        return b + [UInt8](repeating: 7, count: pixelBytes ?? h * w * c)
    }

    static func le(_ v: UInt64, bytes: Int = 8) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

@Suite("Gymnasium bridge protocol")
struct GymProtocolTests {
    @Test("requests carry a length header, the type, then little-endian fields")
    func requests() {
        #expect(GymProtocol.reset(seed: 0x0102, wantGoal: true) == [10, 0, 0, 0, 0x02, 2, 1, 0, 0, 0, 0, 0, 0, 1])
        let step = GymProtocol.step(.box([1, -0.5]))
        #expect(Array(step[0..<8]) == [12, 0, 0, 0, 0x03, 0, 2, 0])
        #expect(Array(step[8..<12]) == HostReply.le(UInt64(Float(1).bitPattern), bytes: 4))
        #expect(GymProtocol.step(.discrete(-1)) == [10, 0, 0, 0, 0x03, 1] + [UInt8](repeating: 255, count: 8))
        let hello = GymProtocol.hello(configJSON: "{}")
        #expect(hello == [5, 0, 0, 0, 0x01, 1, 0, UInt8(ascii: "{"), UInt8(ascii: "}")])
        #expect(GymProtocol.close() == [1, 0, 0, 0, 0x04])
    }

    @Test("READY and OBSERVATION decode to what the host sent")
    func decodes() throws {
        let ready = try GymReply.decode(HostReply.ready(box: 3, truth: 2, steps: 1000), truthCount: nil)
        #expect(
            ready
                == .ready(
                    GymReady(
                        actionSpace: .box(low: [-1, -1, -1], high: [1, 1, 1]), maxEpisodeSteps: 1000, truthCount: 2,
                        description: "test")))
        let o = try GymReply.decode(HostReply.observation(h: 2, w: 3, c: 3, truth: [1.5, -2], flags: 5), truthCount: 2)
        guard case .observation(let obs) = o else { Issue.record("\(o)"); return }
        #expect(obs.terminated && !obs.truncated && obs.isGoal && obs.reward == 0.5)
        #expect(obs.height == 2 && obs.width == 3 && obs.channels == 3 && obs.truth == [1.5, -2] && obs.pixels.count == 18)
        #expect(try GymReply.decode([0xFF] + Array("boom".utf8), truthCount: 0) == .error("boom"))
    }

    @Test(
        "a reply that does not fit is refused with what was wrong, never trusted",
        arguments: [
            ([UInt8](), "ends inside its type"),
            ([0x42], "unknown reply type 0x42"),
            (Array(HostReply.ready(box: 2, truth: 0).prefix(12)), "ends inside its action low"),
            ([0x81, 2, 0], "protocol version 2"),
            ([0x81, 1, 0, 7], "action kind 7"),
            ([0x81, 1, 0, 0, 0, 0], "a Box action of 0 components"),
            (HostReply.observation(h: 4, w: 4, c: 1, truth: [1, 2], pixelBytes: 15), "15 image bytes for 4×4×1 = 16"),
            (HostReply.observation(h: 4, w: 4, c: 1, truth: [1, 2], pixelBytes: 17), "17 image bytes"),
            (HostReply.observation(h: 4, w: 4, c: 2, truth: [1, 2]), "C must be 1 or 3"),
            (HostReply.observation(h: 0, w: 4, c: 1, truth: [1, 2]), "an image of 0×4×1"),
            (HostReply.observation(h: 4, w: 4, c: 1, truth: [1]), "1 truth values, READY promised 2"),
        ] as [([UInt8], String)])
    func refusesMalformed(payload: [UInt8], reason: String) {
        #expect {
            _ = try GymReply.decode(payload, truthCount: 2)
        } throws: { e in (e as? GymProtocolError)?.message.contains(reason) == true }
    }

    @Test("a length header out of range is refused before anything is read")
    func lengthHeader() throws {
        #expect(try GymProtocol.payloadLength(header: [5, 0, 0, 0]) == 5)
        #expect(throws: GymProtocolError.self) { try GymProtocol.payloadLength(header: [0, 0, 0, 0]) }
        #expect(throws: GymProtocolError.self) { try GymProtocol.payloadLength(header: [0, 0, 0, 0x40]) }
    }

    @Test("truncating every valid reply at every byte gives an error, never a crash or a wrong value")
    func everyTruncation() {
        for full in [HostReply.ready(box: 2, truth: 3, text: ""), HostReply.observation(h: 3, w: 2, c: 3, truth: [1, 2])] {
            for n in 0..<full.count {
                #expect(throws: GymProtocolError.self) { try GymReply.decode(Array(full.prefix(n)), truthCount: 2) }
            }
        }
    }

    @Test("the action map: linear ranges (reversed too), pedal halves of one channel, constants, clamping to the Box")
    func boxMap() {
        let map = GymActionMap.box([
            .linear(channel: 0, low: 1, high: -1), .positive(channel: 1, low: 0, high: 1), .negative(channel: 1, low: 0, high: 0.8),
            .constant(2),
        ])
        let space = GymActionSpace.box(low: [-1, 0, 0, -1], high: [1, 1, 1, 1])
        #expect(map.action(drives: [1, 0.5], space: space) == .box([-1, 0.5, 0, 1]))
        #expect(map.action(drives: [-0.5, -0.5], space: space) == .box([0.5, 0, 0.4, 1]))
        #expect(map.action(drives: [3, -2], space: space) == .box([-1, 0, 0.8, 1]), "drives past ±1 are clamped")
        #expect(map.mismatch(with: space) == nil)
        #expect(map.mismatch(with: .box(low: [0], high: [1]))?.contains("4 components") == true)
        #expect(map.mismatch(with: .discrete(n: 3, start: 0)) != nil)
    }

    @Test("the Discrete map: first rule that holds, else idle; actions outside the space are refused")
    func discreteMap() {
        let map = GymActionMap.discrete(
            rules: [
                .init(channel: 0, above: 0.3, action: 2), .init(channel: 0, below: -0.3, action: 1),
                .init(channel: 1, above: 0.5, action: 3),
            ],
            idle: 0)
        let space = GymActionSpace.discrete(n: 4, start: 0)
        #expect(map.action(drives: [0.9, 0.9], space: space) == .discrete(2))
        #expect(map.action(drives: [-0.9, 0.9], space: space) == .discrete(1))
        #expect(map.action(drives: [0, 0.9], space: space) == .discrete(3))
        #expect(map.action(drives: [0.3, 0.5], space: space) == .discrete(0), "thresholds are strict")
        #expect(map.mismatch(with: space) == nil)
        #expect(map.mismatch(with: .discrete(n: 3, start: 0))?.contains("action 3") == true)
        let still = GymActionMap.discrete(rules: [.init(channel: 0, above: 0.3, action: 2)], idle: nil)
        #expect(still.action(drives: [0, 0], space: space) == nil, "no rule holds and no idle action: no step")
        #expect(still.action(drives: [0.5, 0], space: space) == .discrete(2))
    }
}
