import CAllocationCounter
import Foundation
import LiveView
import Recording
import RobotCore
import Safety
import Testing

/// A client frame as RFC 6455 requires it: masked.
private func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
    if payload.count < 126 {
        out.append(0x80 | UInt8(payload.count))
    } else {
        let length: [UInt8] = [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        out += length
    }
    out += mask
    out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    return out
}

private func request(_ headers: [String]) -> [UInt8] {
    Array((["GET / HTTP/1.1", "Host: robot"] + headers).joined(separator: "\r\n").utf8) + Array("\r\n\r\n".utf8)
}

private let good = [
    "Upgrade: websocket", "Connection: keep-alive, Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: other, foxglove.websocket.v1",
]

@Suite("WebSocket handshake and frames")
struct WebSocketTests {
    @Test("the accept key is RFC 6455's worked example")
    func acceptKey() {
        #expect(WebSocket.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("a WebSocket request offering the subprotocol is accepted with it; bytes after the request stay for the frames")
    func accepts() throws {
        let bytes = request(good) + [1, 2, 3]
        guard case .accepted(let response, let consumed) = WebSocket.handshake(bytes, subprotocol: "foxglove.websocket.v1") else {
            Issue.record("not accepted")
            return
        }
        let text = String(decoding: response, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(text.contains("Sec-WebSocket-Protocol: foxglove.websocket.v1\r\n") && text.hasSuffix("\r\n\r\n"))
        #expect(consumed == bytes.count - 3)
    }

    @Test(
        "an unfinished request waits; a wrong one is refused with an HTTP status and the reason",
        arguments: [
            ([String]?.none, "incomplete"),
            (["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"], "426"),
            (Array(good.dropLast()), "subprotocol"),
            (good.map { $0.replacingOccurrences(of: "Version: 13", with: "Version: 8") }, "version 13"),
            (good.map { $0.replacingOccurrences(of: "dGhlIHNhbXBsZSBub25jZQ==", with: "c2hvcnQ=") }, "Sec-WebSocket-Key"),
            (["no colon here"], "colon"),
        ])
    func refuses(headers: [String]?, expected: String) {
        let bytes = headers.map(request) ?? Array("GET / HTTP/1.1\r\nUpgrade: websocket\r\n".utf8)
        switch WebSocket.handshake(bytes, subprotocol: "foxglove.websocket.v1") {
        case .incomplete: #expect(expected == "incomplete")
        case .refused(let response, let reason):
            let text = String(decoding: response, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 4") && text.contains("Connection: close"))
            #expect((text + reason).contains(expected), "\(reason)")
        case .accepted: Issue.record("accepted \(expected)")
        }
    }

    @Test("a request whose headers never end is refused once it passes the limit")
    func endlessHeaders() {
        let bytes = Array("GET / HTTP/1.1\r\n".utf8) + [UInt8](repeating: 0x61, count: WebSocket.maxRequestBytes + 1)
        guard case .refused(let response, _) = WebSocket.handshake(bytes, subprotocol: "x") else {
            Issue.record("not refused")
            return
        }
        #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 431"))
    }

    @Test("server frames: the length forms of RFC 6455 §5.2, unmasked, FIN set")
    func serverFrames() {
        #expect(WebSocket.frame(.text, Array("hi".utf8)) == [0x81, 2, 0x68, 0x69])
        let mid = WebSocket.frame(.binary, [UInt8](repeating: 7, count: 300))
        #expect(Array(mid.prefix(4)) == [0x82, 126, 1, 44] && mid.count == 304)
        let big = WebSocket.binaryHeader(count: 70_000)
        #expect(big == [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70])
        #expect(WebSocket.closeFrame(code: 1001, reason: "bye") == [0x88, 5, 0x03, 0xE9, 0x62, 0x79, 0x65])
    }

    @Test("the reader unmasks, waits for whole frames, joins fragments and passes control frames between them")
    func reader() throws {
        var r = WebSocketReader()
        let text = Array("{\"op\":\"subscribe\"}".utf8)
        let frame = clientFrame(1, text)
        r.append(frame.prefix(5))
        #expect(try r.next() == nil)
        r.append(frame.dropFirst(5))
        let m = try r.next()
        #expect(m?.opcode == .text && m?.payload == text)
        let long = [UInt8](repeating: 0x41, count: 200)
        r.append(clientFrame(2, Array(long.prefix(150)), fin: false) + clientFrame(9, [1, 2]) + clientFrame(0, Array(long.dropFirst(150))))
        let ping = try r.next()
        #expect(ping?.opcode == .ping && ping?.payload == [1, 2])
        let joined = try r.next()
        #expect(joined?.opcode == .binary && joined?.payload == long)
        #expect(try r.next() == nil)
    }

    @Test(
        "frames that break the protocol are refused with the close code that says why",
        arguments: [
            ([0x81, 0x02, 0x68, 0x69], UInt16(1002), "not masked"),
            (clientFrame(3, []), 1002, "opcode"),
            (clientFrame(9, [UInt8](repeating: 0, count: 126)), 1002, "control frame"),
            (clientFrame(0, [1]), 1002, "continuation"),
            (clientFrame(1, [1], fin: false) + clientFrame(1, [2]), 1002, "before the fragmented one ended"),
            (clientFrame(0x41, [1]), 1002, "reserved"),
            (clientFrame(2, [UInt8](repeating: 0, count: 300)), 1009, "longer than"),
        ])
    func violations(bytes: [UInt8], code: UInt16, reason: String) {
        var r = WebSocketReader(maxMessageBytes: 256)
        r.append(bytes)
        do {
            while try r.next() != nil {}
            Issue.record("accepted: \(reason)")
        } catch {
            #expect(error.code == code && error.description.contains(reason), "\(error)")
        }
    }
}

@Suite("Live tap")
struct LiveTapTests {
    func tick(_ i: Int) -> LiveTick {
        LiveTick(
            command: TickSample(
                tick: i, time: Instant(nanoseconds: Int64(i) * 33_000_000), proposed: ChannelVector([0.1, -0.2]), hasProposal: true,
                origin: .autonomy, applied: ChannelVector([0.1, -0.2]), state: .armed, faults: [], truth: nil),
            surprise: 0.01, surpriseThreshold: 0.1, goalDistance: 1.5)
    }

    @Test("ticks, frames and plans come out in order; a full tap drops and counts; long plans are cut")
    func ring() {
        let tap = LiveTap(width: 2, height: 2, actionSize: 2, maxPlanSteps: 3, capacity: 4)
        let frame = Frame(width: 2, height: 2)
        let plan: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let forecast: [Float] = [9, 8, 7, 6]
        for i in 0..<6 {
            frame.pixels = [UInt8(i), 1, 2, 3]
            frame.timestamp = Instant(nanoseconds: Int64(i))
            plan.withUnsafeBufferPointer { p in
                forecast.withUnsafeBufferPointer { f in tap.push(tick(i), frame: i % 2 == 0 ? frame : nil, plan: p, forecast: f) }
            }
        }
        #expect(tap.droppedTicks == 2)
        var seen: [(Int, UInt8?, [Float], [Float])] = []
        tap.drain { t, f, p, d in seen.append((t.command.tick, f?.first, Array(p), Array(d))) }
        #expect(seen.map(\.0) == [0, 1, 2, 3] && seen.map(\.1) == [0, nil, 2, nil])
        #expect(seen.allSatisfy { $0.2 == [1, 2, 3, 4, 5, 6] && $0.3 == [9, 8, 7] })
        var again = 0
        tap.drain { _, _, _, _ in again += 1 }
        #expect(again == 0)
    }

    @Test("pushing a tick allocates nothing (the loop thread)")
    func pushDoesNotAllocate() {
        let tap = LiveTap(width: 64, height: 64, actionSize: 2, capacity: 8)
        let frame = Frame(width: 64, height: 64)
        let plan = [Float](repeating: 0.5, count: 96), forecast = [Float](repeating: 1, count: 48)
        let t = tick(1)
        // A counting loop, not `for in`: a debug build's unspecialized iterator allocates on aarch64.
        allocation_counter_start()
        var i = 0
        while i < 100 {
            plan.withUnsafeBufferPointer { p in
                forecast.withUnsafeBufferPointer { f in tap.push(t, frame: i % 3 == 0 ? nil : frame, plan: p, forecast: f) }
            }
            if i % 8 == 7 { tap.drain { _, _, _, _ in } }
            i += 1
        }
        let allocations = allocation_counter_stop()
        #expect(allocations == 0)
    }
}
