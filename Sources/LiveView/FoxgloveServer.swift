import Foundation
import Glibc
import LinuxHardware
import Recording
import RobotCore
import Safety
import Synchronization

/// A channel the live view advertises (Foxglove WebSocket `advertise`).
public struct LiveChannel: Sendable {
    public var id: UInt32
    public var topic: String
    public var encoding: String
    public var schemaName: String
    public var schema: String
    public var schemaEncoding: String
}

/// What the live view did, for the run's summary.
public struct LiveViewCounters: Sendable, Codable, Equatable {
    public var clientsAccepted = 0
    /// Connections refused: not a WebSocket request, the wrong subprotocol, or too many clients.
    public var clientsRefused = 0
    /// Clients dropped because they read nothing for `slowClientSeconds` while data waited for them.
    public var slowClientsDropped = 0
    /// Clients that broke the protocol (unmasked frames, oversized messages) and were closed.
    public var protocolViolations = 0
    public var messagesSent = 0
    /// Messages not queued for a client whose backlog was full.
    public var messagesDropped = 0
    /// Ticks the loop handed over, and those the tap dropped because this thread was behind.
    public var ticksSeen = 0
    public var ticksDropped = 0
}

/// A Foxglove WebSocket server (subprotocol `foxglove.websocket.v1`) on a thread of its own: it advertises
/// the camera image (`sensor_msgs/msg/Image`, CDR), every tick's command before and after the governor with
/// the governor's state and faults (`cerebellum.Command`, JSON), and the planner's view (`cerebellum.Plan`:
/// surprise, latent distance to the goal, the planned efforts and their forecast goal distances), and streams
/// what clients subscribe to. The loop only pushes into a `LiveTap`; encoding and sending happen here. Every
/// socket is non-blocking: a client's backlog is capped at `backlogBytes` (further messages are dropped and
/// counted) and a client that reads nothing for `slowClientSeconds` while data waits is dropped. Read-only:
/// clients can subscribe, not publish.
public final class FoxgloveServer: @unchecked Sendable {
    public static let subprotocol = "foxglove.websocket.v1"
    public static let imageChannel: UInt32 = 1, commandChannel: UInt32 = 2, planChannel: UInt32 = 3

    public let listener: TCPListener
    public let tap: LiveTap
    public let name: String
    public let metadata: [String: String]
    public let maxClients: Int
    public let backlogBytes: Int
    public let slowClientSeconds: Double
    public let channels: [LiveChannel]
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let counters = Mutex(LiveViewCounters())
    private var started = false
    /// Wall clock minus the robot's monotonic clock at start, ns: message timestamps are wall-clock.
    private let wallOffset: Int64
    private let session = String(UInt64(Date().timeIntervalSince1970 * 1000))

    /// Binds `host:port` (port 0: any free one). Throws, naming the address, when it cannot.
    public init(
        host: String, port: UInt16, tap: LiveTap, name: String, metadata: [String: String] = [:], maxClients: Int = 8,
        backlogBytes: Int = 1 << 20, slowClientSeconds: Double = 5, clock: RobotClock
    ) throws {
        listener = try TCPListener(host: host, port: port, sendBufferBytes: 128 * 1024)
        (self.tap, self.name, self.metadata, self.maxClients) = (tap, name, metadata, maxClients)
        (self.backlogBytes, self.slowClientSeconds) = (backlogBytes, slowClientSeconds)
        wallOffset = Int64(Date().timeIntervalSince1970 * 1e9) - clock.now().nanoseconds
        channels = [
            LiveChannel(
                id: Self.imageChannel, topic: DatasetTopics.image, encoding: "cdr", schemaName: "sensor_msgs/msg/Image",
                schema: CDRImage.schemaText, schemaEncoding: "ros2msg"),
            LiveChannel(
                id: Self.commandChannel, topic: DatasetTopics.command, encoding: "json", schemaName: "cerebellum.Command",
                schema: DatasetWriter.commandSchema, schemaEncoding: "jsonschema"),
            LiveChannel(
                id: Self.planChannel, topic: "/cerebellum/plan", encoding: "json", schemaName: "cerebellum.Plan",
                schema: PlanMessage.schema, schemaEncoding: "jsonschema"),
        ]
    }

    /// `ws://host:port`.
    public var url: String { "ws://\(listener.host):\(listener.port)" }

    public var status: LiveViewCounters {
        var c = counters.withLock { $0 }
        c.ticksDropped = tap.droppedTicks
        return c
    }

    public func start() {
        guard !started else { return }
        started = true
        let thread = Thread { [self] in serve() }
        thread.name = "cerebellum-live"
        thread.start()
    }

    /// Closes every client and the listener; returns once the thread has ended.
    public func stop() {
        guard started else { listener.close(); return }
        started = false
        stopRequested.store(true, ordering: .releasing)
        finished.wait()
    }

    // MARK: the server thread

    private final class Client {
        let fd: FileDescriptor
        let peer: String
        var open = false
        var request: [UInt8] = []
        var reader = WebSocketReader()
        /// Subscription id → channel id.
        var subscriptions: [UInt32: UInt32] = [:]
        var pending: [UInt8] = []
        var sentUpTo = 0
        /// When it last took bytes (or had nothing waiting), ns of the monotonic clock.
        var lastProgress: UInt64
        var closeAfterFlush = false
        var gone = false
        init(fd: FileDescriptor, peer: String, now: UInt64) { (self.fd, self.peer, lastProgress) = (fd, peer, now) }
        var backlog: Int { pending.count - sentUpTo }
    }

    private func serve() {
        var clients: [Client] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        while !stopRequested.load(ordering: .acquiring) {
            let entries =
                [(listener.descriptor, events: Int32(POLLIN))]
                + clients.map { ($0.fd, events: Int32(POLLIN) | ($0.backlog > 0 ? Int32(POLLOUT) : 0)) }
            let ready = (try? FileDescriptor.poll(entries, timeoutMilliseconds: 5).get()) ?? []
            if ready.first.map({ $0 != 0 }) ?? false { acceptClients(&clients) }
            for (i, c) in clients.enumerated() where i + 1 < ready.count && ready[i + 1] & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                read(c, into: &buffer)
            }
            publishTicks(to: clients, encoder: encoder)
            let now = DispatchTime.now().uptimeNanoseconds
            for c in clients where !c.gone {
                flush(c, now: now)
                if c.backlog > 0 && Double(now - c.lastProgress) / 1e9 > slowClientSeconds {
                    counters.withLock { $0.slowClientsDropped += 1 }
                    c.gone = true
                }
            }
            for c in clients where c.gone { c.fd.close() }
            clients.removeAll { $0.gone }
        }
        for c in clients {
            if c.open { sendNow(c, WebSocket.closeFrame(code: 1001, reason: "the controller stopped")) }
            c.fd.close()
        }
        listener.close()
        finished.signal()
    }

    private func acceptClients(_ clients: inout [Client]) {
        while case .success(let accepted?) = listener.accept() {
            let c = Client(fd: accepted.0, peer: accepted.peer, now: DispatchTime.now().uptimeNanoseconds)
            if clients.count >= maxClients {
                let body = "at most \(maxClients) live-view clients at once\n"
                sendNow(
                    c,
                    Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
                )
                c.fd.close()
                counters.withLock { $0.clientsRefused += 1 }
                continue
            }
            clients.append(c)
        }
    }

    private func read(_ c: Client, into buffer: inout [UInt8]) {
        let n = buffer.withUnsafeMutableBytes { c.fd.receive(into: $0.baseAddress!, count: $0.count, flags: 0) }
        switch n {
        case .failure(let e) where e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK: return
        case .failure, .success(0): c.gone = true; return
        case .success(let count):
            if c.open {
                c.reader.append(buffer[0..<count])
                handleFrames(c)
            } else {
                c.request.append(contentsOf: buffer[0..<count])
                handshake(c)
            }
        }
    }

    private func handshake(_ c: Client) {
        switch WebSocket.handshake(c.request, subprotocol: Self.subprotocol) {
        case .incomplete: return
        case .refused(let response, _):
            sendNow(c, response)
            c.gone = true
            counters.withLock { $0.clientsRefused += 1 }
        case .accepted(let response, let consumed):
            c.open = true
            c.reader.append(c.request[consumed...])
            c.request = []
            enqueue(c, response)
            enqueue(c, WebSocket.frame(.text, Array(serverInfo().utf8)))
            enqueue(c, WebSocket.frame(.text, Array(advertise().utf8)))
            counters.withLock { $0.clientsAccepted += 1 }
            handleFrames(c)
        }
    }

    private func serverInfo() -> String {
        json([
            "op": "serverInfo", "name": name, "capabilities": [String](), "supportedEncodings": [String](), "metadata": metadata,
            "sessionId": session,
        ])
    }

    private func advertise() -> String {
        json([
            "op": "advertise",
            "channels": channels.map {
                [
                    "id": Int($0.id), "topic": $0.topic, "encoding": $0.encoding, "schemaName": $0.schemaName, "schema": $0.schema,
                    "schemaEncoding": $0.schemaEncoding,
                ] as [String: Any]
            },
        ])
    }

    private func json(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    private func status(_ c: Client, level: Int, _ message: String) {
        enqueue(c, WebSocket.frame(.text, Array(json(["op": "status", "level": level, "message": message]).utf8)))
    }

    private func handleFrames(_ c: Client) {
        do {
            while let (opcode, payload) = try c.reader.next() {
                switch opcode {
                case .ping: enqueue(c, WebSocket.frame(.pong, payload))
                case .close:
                    enqueue(c, WebSocket.frame(.close, Array(payload.prefix(2))))
                    c.closeAfterFlush = true
                    return
                case .text: handleRequest(c, payload)
                case .binary: status(c, level: 2, "this server takes no client messages (no clientPublish capability)")
                case .pong, .continuation: break
                }
            }
        } catch {
            counters.withLock { $0.protocolViolations += 1 }
            sendNow(c, WebSocket.closeFrame(code: error.code, reason: error.description))
            c.gone = true
        }
    }

    private func handleRequest(_ c: Client, _ payload: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any], let op = object["op"] as? String else {
            status(c, level: 2, "not a JSON object with an \"op\"")
            return
        }
        switch op {
        case "subscribe":
            for s in object["subscriptions"] as? [[String: Any]] ?? [] {
                guard let id = (s["id"] as? NSNumber)?.uint32Value, let channel = (s["channelId"] as? NSNumber)?.uint32Value else {
                    status(c, level: 2, "subscribe: every subscription needs a numeric id and channelId")
                    continue
                }
                guard channels.contains(where: { $0.id == channel }) else {
                    status(
                        c, level: 2,
                        "subscribe: no channel \(channel) (advertised: \(channels.map { String($0.id) }.joined(separator: ", ")))")
                    continue
                }
                guard c.subscriptions[id] == nil else {
                    status(c, level: 2, "subscribe: subscription id \(id) is in use")
                    continue
                }
                c.subscriptions[id] = channel
            }
        case "unsubscribe":
            for id in object["subscriptionIds"] as? [NSNumber] ?? [] { c.subscriptions[id.uint32Value] = nil }
        default:
            status(c, level: 1, "\"\(op)\" is not supported by this server (capabilities: none)")
        }
    }

    /// Encodes the queued ticks for the channels someone subscribed to, and queues them per subscription.
    private func publishTicks(to clients: [Client], encoder: JSONEncoder) {
        var wanted = Set<UInt32>()
        for c in clients where c.open { wanted.formUnion(c.subscriptions.values) }
        var seen = 0
        tap.drain { t, frame, plan, forecast in
            seen += 1
            guard !wanted.isEmpty else { return }
            let stamp = UInt64(max(0, t.command.time.nanoseconds + wallOffset))
            if wanted.contains(Self.commandChannel), let data = try? encoder.encode(CommandMessage(sample: t.command, episode: 0)) {
                send(Array(data), channel: Self.commandChannel, stamp: stamp, to: clients)
            }
            if wanted.contains(Self.planChannel),
                let data = try? encoder.encode(PlanMessage(t, plan: plan, forecast: forecast, actions: tap.actionSize))
            {
                send(Array(data), channel: Self.planChannel, stamp: stamp, to: clients)
            }
            if wanted.contains(Self.imageChannel), let frame {
                let cdr = CDRImage.encode(
                    width: tap.width, height: tap.height, timestamp: t.frameTimestamp, pixels: UnsafeRawBufferPointer(frame),
                    frameID: "camera")
                send(cdr, channel: Self.imageChannel, stamp: stamp, to: clients)
            }
        }
        counters.withLock { $0.ticksSeen += seen }
    }

    private func send(_ payload: [UInt8], channel: UInt32, stamp: UInt64, to clients: [Client]) {
        for c in clients where c.open && !c.gone {
            for (id, ch) in c.subscriptions where ch == channel {
                guard c.backlog + payload.count <= backlogBytes else {
                    counters.withLock { $0.messagesDropped += 1 }
                    continue
                }
                var message = [UInt8](repeating: 0, count: 13)
                message[0] = 1
                withUnsafeBytes(of: id.littleEndian) { for i in 0..<4 { message[1 + i] = $0[i] } }
                withUnsafeBytes(of: stamp.littleEndian) { for i in 0..<8 { message[5 + i] = $0[i] } }
                enqueue(c, WebSocket.binaryHeader(count: 13 + payload.count) + message + payload)
                counters.withLock { $0.messagesSent += 1 }
            }
        }
    }

    private func enqueue(_ c: Client, _ bytes: [UInt8]) {
        if c.sentUpTo == c.pending.count {
            c.pending.removeAll(keepingCapacity: true)
            c.sentUpTo = 0
        }
        c.pending.append(contentsOf: bytes)
    }

    /// Sends what waits for `c` until the socket would block.
    private func flush(_ c: Client, now: UInt64) {
        guard c.backlog > 0 else {
            c.lastProgress = now
            if c.closeAfterFlush { c.gone = true }
            return
        }
        while c.backlog > 0 {
            let r = c.pending.withUnsafeBytes { b in
                c.fd.send(b.baseAddress! + c.sentUpTo, count: c.backlog, flags: Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            switch r {
            case .success(let n) where n > 0:
                c.sentUpTo += n
                c.lastProgress = now
            case .failure(let e) where e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK: return
            default:
                c.gone = true
                return
            }
        }
        if c.sentUpTo > 1 << 16 || c.backlog == 0 {
            c.pending.removeFirst(c.sentUpTo)
            c.sentUpTo = 0
        }
        if c.closeAfterFlush && c.backlog == 0 { c.gone = true }
    }

    /// A short reply written at once, for a connection about to be closed.
    private func sendNow(_ c: Client, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { c.fd.send($0.baseAddress!, count: $0.count, flags: Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
    }
}

/// The `/cerebellum/plan` message: what the planner sees and intends this tick.
struct PlanMessage: Encodable {
    var tick: Int
    var surprise: Double?
    var surpriseThreshold: Double?
    var goalDistance: Double?
    /// The plan: per horizon step, the efforts of each planned channel.
    var plannedEfforts: [[Double]]
    /// The latent distance to the goal the model forecasts after each step of the plan.
    var forecastGoalDistance: [Double]

    init(_ t: LiveTick, plan: UnsafeBufferPointer<Float>, forecast: UnsafeBufferPointer<Float>, actions: Int) {
        func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
        tick = t.command.tick
        surprise = finite(t.surprise)
        surpriseThreshold = finite(t.surpriseThreshold)
        goalDistance = finite(t.goalDistance)
        plannedEfforts = (0..<t.planSteps).map { s in (0..<actions).map { Double(plan[s * actions + $0]) } }
        forecastGoalDistance = forecast.map { Double($0) }
    }

    enum CodingKeys: String, CodingKey {
        case tick, surprise
        case surpriseThreshold = "surprise_threshold", goalDistance = "goal_distance", plannedEfforts = "planned_efforts"
        case forecastGoalDistance = "forecast_goal_distance"
    }

    static let schema = #"""
        {"type":"object","title":"cerebellum.Plan","properties":{"tick":{"type":"integer"},"surprise":{"type":["number",\#
        "null"],"description":"smoothed one-step surprise of the world model"},"surprise_threshold":{"type":["number",\#
        "null"]},"goal_distance":{"type":["number","null"],"description":"latent distance from the frame to the goal"},\#
        "planned_efforts":{"type":"array","items":{"type":"array","items":{"type":"number"}},"description":"per horizon step,\#
         the planned efforts"},"forecast_goal_distance":{"type":"array","items":{"type":"number"},\#
        "description":"latent distance to the goal forecast after each planned step"}}}
        """#
}
