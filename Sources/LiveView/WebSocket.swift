import Crypto
import Foundation

/// The server side of RFC 6455 that the live view needs: the opening handshake (with one required
/// subprotocol), frames as the server sends them, and an incremental reader of the client's frames.
public enum WebSocket {
    /// The GUID that RFC 6455 §1.3 appends to the client's key.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The most an opening request may hold, bytes (a longer one is refused).
    public static let maxRequestBytes = 8192

    public enum Opcode: UInt8, Sendable {
        case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
    }

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`: base64(SHA-1(key ‖ GUID)).
    public static func acceptKey(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + guid).utf8))).base64EncodedString()
    }

    /// What the opening request asked for.
    public enum Handshake: Equatable, Sendable {
        /// More bytes are needed.
        case incomplete
        /// Refuse with this HTTP status and the reason (the response, ready to send, then close).
        case refused(response: [UInt8], reason: String)
        /// Switch protocols: send `response`; the request took `consumed` bytes.
        case accepted(response: [UInt8], consumed: Int)
    }

    /// Reads the client's opening request from `bytes` and answers it: a GET with `Upgrade: websocket`,
    /// `Connection: Upgrade`, version 13, a 16-byte key, and `subprotocol` among those it offers.
    public static func handshake(_ bytes: [UInt8], subprotocol: String) -> Handshake {
        let end: [UInt8] = [13, 10, 13, 10]
        guard let stop = (0...max(0, bytes.count - 4)).first(where: { bytes.count >= 4 && Array(bytes[$0..<$0 + 4]) == end }) else {
            return bytes.count > maxRequestBytes
                ? refuse(431, "the request's headers are longer than \(maxRequestBytes) bytes") : .incomplete
        }
        guard let text = String(bytes: bytes[0..<stop], encoding: .utf8) else { return refuse(400, "the request is not UTF-8") }
        var lines = text.components(separatedBy: "\r\n")
        let request = lines.removeFirst().split(separator: " ")
        guard request.count == 3, request[0] == "GET", request[2].hasPrefix("HTTP/1.") else {
            return refuse(400, "not an HTTP/1.1 GET request")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return refuse(400, "a header line without a colon") }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        func tokens(_ name: String) -> [String] {
            (headers[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        }
        guard tokens("upgrade").contains("websocket"), tokens("connection").contains("upgrade") else {
            return refuse(426, "this is a WebSocket server (\(subprotocol)): connect with a WebSocket client such as Foxglove")
        }
        guard headers["sec-websocket-version"] == "13" else { return refuse(400, "WebSocket version 13 only") }
        guard let key = headers["sec-websocket-key"], Data(base64Encoded: key)?.count == 16 else {
            return refuse(400, "no valid Sec-WebSocket-Key")
        }
        guard tokens("sec-websocket-protocol").contains(subprotocol.lowercased()) else {
            return refuse(400, "the client must offer the subprotocol \(subprotocol)")
        }
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(acceptKey(for: key))\r\nSec-WebSocket-Protocol: \(subprotocol)\r\n\r\n"
        return .accepted(response: Array(response.utf8), consumed: stop + 4)
    }

    private static func refuse(_ status: Int, _ reason: String) -> Handshake {
        let phrase = [400: "Bad Request", 426: "Upgrade Required", 431: "Request Header Fields Too Large"][status] ?? "Error"
        let body = reason + "\n"
        let response =
            "HTTP/1.1 \(status) \(phrase)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: "
            + "close\r\n\r\n\(body)"
        return .refused(response: Array(response.utf8), reason: reason)
    }

    /// One whole frame as a server sends it (FIN set, not masked).
    public static func frame(_ opcode: Opcode, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode.rawValue]
        out.reserveCapacity(payload.count + 10)
        appendLength(payload.count, to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// The header of a binary frame whose payload of `count` bytes follows it.
    public static func binaryHeader(count: Int) -> [UInt8] {
        var out: [UInt8] = [0x80 | Opcode.binary.rawValue]
        appendLength(count, to: &out)
        return out
    }

    private static func appendLength(_ n: Int, to out: inout [UInt8]) {
        if n < 126 {
            out.append(UInt8(n))
        } else if n <= 0xFFFF {
            out.append(126)
            out.append(UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
        } else {
            out.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((UInt64(n) >> UInt64(shift)) & 0xFF)) }
        }
    }

    /// A close frame with a status code (RFC 6455 §7.4) and a reason.
    public static func closeFrame(code: UInt16, reason: String) -> [UInt8] {
        frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(120)))
    }
}

/// Why a client's frames are refused; the connection is closed with `code`.
public struct WebSocketViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1002 protocol error, 1009 message too big.
    public let code: UInt16
    public let description: String
}

/// Reads a client's frames from the bytes as they arrive, and puts fragmented messages back together.
/// Client frames must be masked (RFC 6455 §5.1); control frames are short and whole; a message longer than
/// `maxMessageBytes` is refused.
public struct WebSocketReader: Sendable {
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var fragments: [UInt8] = []
    private var fragmentOpcode: WebSocket.Opcode?

    public init(maxMessageBytes: Int = 65_536) { self.maxMessageBytes = maxMessageBytes }

    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next whole message or control frame, nil when more bytes are needed.
    public mutating func next() throws(WebSocketViolation) -> (opcode: WebSocket.Opcode, payload: [UInt8])? {
        while true {
            guard buffer.count >= 2 else { return nil }
            let fin = buffer[0] & 0x80 != 0
            guard buffer[0] & 0x70 == 0 else {
                throw WebSocketViolation(code: 1002, description: "reserved bits set (no extension was agreed)")
            }
            guard let opcode = WebSocket.Opcode(rawValue: buffer[0] & 0x0F) else {
                throw WebSocketViolation(code: 1002, description: "unknown opcode \(buffer[0] & 0x0F)")
            }
            guard buffer[1] & 0x80 != 0 else { throw WebSocketViolation(code: 1002, description: "a client frame that is not masked") }
            var length = Int(buffer[1] & 0x7F)
            var at = 2
            if length == 126 {
                guard buffer.count >= 4 else { return nil }
                length = Int(buffer[2]) << 8 | Int(buffer[3])
                at = 4
            } else if length == 127 {
                guard buffer.count >= 10 else { return nil }
                var n: UInt64 = 0
                for i in 2..<10 { n = n << 8 | UInt64(buffer[i]) }
                guard n <= UInt64(maxMessageBytes) else {
                    throw WebSocketViolation(code: 1009, description: "a frame of \(n) bytes (at most \(maxMessageBytes))")
                }
                length = Int(n)
                at = 10
            }
            let control = opcode.rawValue >= 8
            if control && (!fin || length > 125) {
                throw WebSocketViolation(code: 1002, description: "a control frame that is fragmented or longer than 125 bytes")
            }
            guard length <= maxMessageBytes, fragments.count + length <= maxMessageBytes else {
                throw WebSocketViolation(code: 1009, description: "a message longer than \(maxMessageBytes) bytes")
            }
            guard buffer.count >= at + 4 + length else { return nil }
            let mask = Array(buffer[at..<at + 4])
            var payload = Array(buffer[(at + 4)..<(at + 4 + length)])
            for i in 0..<payload.count { payload[i] ^= mask[i & 3] }
            buffer.removeFirst(at + 4 + length)
            if control { return (opcode, payload) }
            switch (opcode, fragmentOpcode) {
            case (.continuation, nil):
                throw WebSocketViolation(code: 1002, description: "a continuation frame with no message to continue")
            case (.continuation, let first?):
                fragments.append(contentsOf: payload)
                if fin {
                    defer { fragments = []; fragmentOpcode = nil }
                    return (first, fragments)
                }
            case (_, .some):
                throw WebSocketViolation(code: 1002, description: "a new message before the fragmented one ended")
            case (_, nil):
                if fin { return (opcode, payload) }
                fragmentOpcode = opcode
                fragments = payload
            }
        }
    }
}
