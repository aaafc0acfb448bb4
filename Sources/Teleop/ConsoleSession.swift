import RobotCore
import Safety

/// How the console drives the board, from the board profile's `serial_console` section.
public struct ConsoleSettings: Sendable, Equatable {
    /// Actuator names in board order.
    public var channels: [String]
    /// A typed or machine drive command holds this long, then outputs go neutral (dead-man).
    public var deadman: Duration
    /// In key mode a key press holds this long: longer than a terminal's auto-repeat delay
    /// (typically 250–500 ms), so holding a key drives smoothly; releasing it stops within this.
    public var keyHold: Duration
    /// Effort a key press commands on its axis, 0…1 (`+` / `-` change it in steps of 0.1).
    public var keySpeed: Double
    /// Channel driven by a/d and ←/→ (d and → positive), and its sign.
    public var horizontal: (channel: Int, sign: Double)
    /// Channel driven by w/s and ↑/↓ (w and ↑ positive after the sign).
    public var vertical: (channel: Int, sign: Double)
    /// With a key, commands that move or arm must be signed sentences (`LinkSigner`).
    public var signer: LinkSigner?

    public init(
        channels: [String], deadman: Duration = .milliseconds(300), keyHold: Duration = .milliseconds(600),
        keySpeed: Double = 0.5, horizontal: (channel: Int, sign: Double) = (0, 1),
        vertical: (channel: Int, sign: Double) = (1, -1), signer: LinkSigner? = nil
    ) {
        self.signer = signer
        self.channels = channels
        self.deadman = deadman
        self.keyHold = keyHold
        self.keySpeed = keySpeed
        self.horizontal = horizontal
        self.vertical = vertical
    }

    public static func == (a: ConsoleSettings, b: ConsoleSettings) -> Bool {
        a.channels == b.channels && a.deadman == b.deadman && a.keyHold == b.keyHold && a.keySpeed == b.keySpeed
            && a.horizontal == b.horizontal && a.vertical == b.vertical && (a.signer == nil) == (b.signer == nil)
    }
}

/// One operator's conversation with the controller over a byte stream: line editing, commands,
/// machine sentences, the single-key drive mode, and replies. Runs on the console thread; talks
/// to the loop only through the `TeleopLink`. Bytes in, bytes out: no I/O of its own.
public final class ConsoleSession {
    public let settings: ConsoleSettings
    public let link: TeleopLink
    /// Lines `limits` prints (from the safety configuration).
    public let limitsText: [String]
    public private(set) var counters = ConsoleCounters()
    public private(set) var inKeyMode = false
    /// Called with every command the session carries out, in order (tests and the fuzz check use it;
    /// a log of its own would grow without bound over a long session).
    public var onExecute: ((ConsoleCommand) -> Void)?
    /// The run's recorder, for `record …` (nil: the console says there is none).
    public var recording: RecordingControl?

    private var editor = LineEditor()
    private var queued: [ConsoleLine] = []
    private var pending: (id: UInt32, line: ConsoleLine, posted: Instant)?
    private var lastEfforts: ChannelVector
    private var keyDecoder = KeyDecoder()
    private var keySpeed: Double
    private let now: () -> Instant
    /// A request the loop has not answered in this long is withdrawn (the loop is not running).
    public static let replyTimeout: Duration = .seconds(2)
    /// Lines that may wait for the loop; one more is refused with a busy reply and counted.
    public static let maxQueued = 8
    /// An e-stop posted and not yet confirmed latched: how to reply, and since when.
    private var eStopConfirmation: (machine: Bool, posted: Instant)?
    /// The signed link's session: a random nonce, new each time the link opens, and the last sequence
    /// number accepted under it.
    public private(set) var nonce: UInt64 = 0
    private var lastSequence: UInt64 = 0

    public init(settings: ConsoleSettings, link: TeleopLink, limitsText: [String], now: @escaping () -> Instant) {
        self.settings = settings
        self.link = link
        self.limitsText = limitsText
        self.now = now
        lastEfforts = ChannelVector(count: settings.channels.count)
        keySpeed = settings.keySpeed
        newSession()
    }

    private func newSession() {
        var g = SystemRandomNumberGenerator()
        nonce = g.next()
        lastSequence = 0
    }

    public var prompt: String { "cerebellum> " }

    /// The greeting when the link opens (a signed link starts a new session).
    public func greeting() -> [UInt8] {
        guard settings.signer != nil else { return bytes("\r\ncerebellum teleop console — type help\r\n" + prompt) }
        newSession()
        return bytes(
            "\r\ncerebellum teleop console — signed link: commands that move or arm are signed sentences; type help\r\n"
                + sessionSentence() + "\r\n" + prompt)
    }

    private func sessionSentence() -> String { Sentence.make("SESSION,\(hex(nonce, digits: 16))") }

    /// A line as a command: on a signed link, a signed sentence is checked and its body parsed, and an
    /// unsigned command is taken only if it cannot move or arm anything.
    private func parse(_ line: String) -> Result<ConsoleLine, ConsoleLineError> {
        if line.hasPrefix("$S,") {
            guard let signer = settings.signer else { return .failure(.signingNotConfigured) }
            switch Sentence.body(of: line) {
            case .failure(let e): return .failure(e)
            case .success(let body):
                switch signer.verify(body.dropFirst(2), nonce: nonce, after: lastSequence) {
                case .failure(let e): return .failure(e)
                case .success(let signed):
                    lastSequence = signed.sequence
                    return parseSentenceBody(signed.body, channels: settings.channels)
                }
            }
        }
        let parsed = parseConsoleLine(line, channels: settings.channels)
        guard settings.signer != nil, case .success(let p) = parsed else { return parsed }
        switch p.command {
        case .estop, .help, .status, .limits, .session, .record(.status): return parsed
        default: return .failure(.unsigned)
        }
    }

    /// Feeds received bytes; returns what to send back.
    public func receive(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in input {
            if inKeyMode {
                out += key(b)
                continue
            }
            var echo: [UInt8] = []
            let line = editor.feed(b, counters: &counters, echo: &echo)
            out += echo
            guard let line else { continue }
            switch parse(line) {
            case .success(let parsed) where parsed.command == .estop:
                // Ahead of everything queued: latched on the loop's next tick.
                out += eStop(machine: parsed.machine)
            case .success(let parsed):
                guard queued.count < Self.maxQueued else {
                    counters.queueFull += 1
                    out += bytes(
                        parsed.machine
                            ? Sentence.make("ERR,BUSY") + "\r\n"
                            : "busy: \(queued.count) commands are waiting for the loop; line dropped\r\n" + prompt)
                    continue
                }
                queued.append(parsed)
            case .failure(let error):
                counters.badLines += 1
                switch error {
                case .badChecksum: counters.badChecksums += 1
                case .badSignature, .staleSequence, .unsigned, .signingNotConfigured: counters.refusedUnsigned += 1
                default: break
                }
                out += bytes(line.hasPrefix("$") ? Sentence.make("ERR,\(error.code)") + "\r\n" : "\(error)\r\n" + prompt)
            }
        }
        out += poll()
        return out
    }

    /// Carries out queued lines and prints replies that arrived; call it regularly.
    public func poll() -> [UInt8] {
        var out: [UInt8] = []
        if let c = eStopConfirmation {
            if link.eStopsWaiting == 0 {
                eStopConfirmation = nil
                out += bytes(
                    c.machine
                        ? Sentence.make("OK,ESTOP") + "\r\n"
                        : "E-STOP latched: outputs neutral; reset clears it\r\n"
                            + (inKeyMode ? "" : prompt))
            } else if now() - c.posted > Self.replyTimeout {
                eStopConfirmation = nil
                out += bytes(
                    c.machine ? Sentence.make("ERR,NOLOOP") + "\r\n" : "the control loop did not latch the e-stop: it is not running\r\n")
            }
        }
        if let p = pending {
            if let reply = link.takeReply(p.id) {
                pending = nil
                out += bytes(describe(reply, machine: p.line.machine))
                if !p.line.machine { out += bytes(prompt) }
            } else if now() - p.posted > Self.replyTimeout {
                link.cancel(p.id)
                pending = nil
                out += bytes(p.line.machine ? Sentence.make("ERR,NOLOOP") + "\r\n" : "the control loop did not answer\r\n" + prompt)
            } else {
                return out
            }
        }
        while pending == nil, !queued.isEmpty {
            out += execute(queued.removeFirst())
        }
        return out
    }

    /// The link dropped: forget partial input and pending work, stop driving.
    public func disconnected() {
        editor.reset()
        queued.removeAll()
        if let p = pending { link.cancel(p.id) }
        pending = nil
        inKeyMode = false
        keyDecoder = KeyDecoder()
    }

    // MARK: commands

    private func execute(_ line: ConsoleLine) -> [UInt8] {
        onExecute?(line.command)
        let m = line.machine
        func done(_ human: String, _ machine: String) -> [UInt8] {
            bytes(m ? Sentence.make("OK,\(machine)") + "\r\n" : human + "\r\n" + prompt)
        }
        switch line.command {
        case .help:
            return bytes(Self.helpText(channels: settings.channels).joined(separator: "\r\n") + "\r\n" + prompt)
        case .status:
            let s = link.snapshot
            if m {
                let out = (0..<s.output.count).map { String(format2(s.output[$0])) }.joined(separator: ",")
                return bytes(
                    Sentence.make("STATUS,\(s.state.rawValue.uppercased()),\(s.mode.rawValue.uppercased()),\(s.latched.rawValue),\(out)")
                        + "\r\n")
            }
            return bytes(statusText(s).joined(separator: "\r\n") + "\r\n" + prompt)
        case .limits:
            return bytes(limitsText.joined(separator: "\r\n") + "\r\n" + prompt)
        case .arm: return request(.arm, line)
        case .disarm: return request(.disarm, line)
        case .estop: return eStop(machine: m)
        case .reset: return request(.reset, line)
        case .mode(let mode): return request(.mode(mode), line)
        case .drive(let values):
            drive(ChannelVector(values), hold: settings.deadman)
            return done("drive " + describe(lastEfforts) + " for \(Int(settings.deadman.inMilliseconds)) ms", "DRIVE")
        case .set(let channel, let value):
            var e = lastEfforts
            e[channel] = value
            drive(e, hold: settings.deadman)
            return done("drive " + describe(lastEfforts) + " for \(Int(settings.deadman.inMilliseconds)) ms", "SET")
        case .stop:
            drive(ChannelVector(count: settings.channels.count), hold: settings.deadman)
            return done("stopped (outputs to neutral)", "STOP")
        case .goal(let name):
            return request(.goal(name), line)
        case .session:
            if m { return bytes((settings.signer == nil ? Sentence.make("ERR,NOKEY") : sessionSentence()) + "\r\n") }
            return bytes(
                (settings.signer == nil
                    ? "this link is not signed (no serial_console.key_file)"
                    : "session \(hex(nonce, digits: 16)); sign with: cerebellum console-sign --key-file FILE --session "
                        + "\(hex(nonce, digits: 16)) --sequence N BODY")
                    + "\r\n" + prompt)
        case .record(let command):
            guard let recording else {
                return bytes(m ? Sentence.make("ERR,RECORD,NONE") + "\r\n" : "this run has no recorder\r\n" + prompt)
            }
            let r = recording.perform(command)
            if m { return bytes(Sentence.make((r.ok ? "OK,RECORD," : "ERR,RECORD,") + r.machine) + "\r\n") }
            return bytes(r.text + "\r\n" + prompt)
        case .keys:
            inKeyMode = true
            return bytes("key drive: w a s d or arrows move, space stops, + - speed, ! e-stop, q leaves\r\n") + keyLine()
        }
    }

    /// Posts an e-stop past the queue and the request slot (it cannot be refused); the latch is confirmed
    /// by `poll` once the loop has seen it.
    private func eStop(machine: Bool) -> [UInt8] {
        onExecute?(.estop)
        link.postEStop()
        eStopConfirmation = (machine, now())
        return machine ? [] : bytes("E-STOP sent\r\n")
    }

    private func request(_ r: ConsoleRequest, _ line: ConsoleLine) -> [UInt8] {
        guard let id = link.post(r) else {
            return bytes(line.machine ? Sentence.make("ERR,BUSY") + "\r\n" : "busy: the last request is still waiting\r\n" + prompt)
        }
        pending = (id, line, now())
        return []
    }

    private func drive(_ efforts: ChannelVector, hold: Duration) {
        lastEfforts = efforts
        link.post(efforts: efforts, hold: hold)
    }

    // MARK: key mode

    private func key(_ b: UInt8) -> [UInt8] {
        counters.bytes += 1
        let garbageBefore = keyDecoder.garbageBytes
        let decoded = keyDecoder.feed(b)
        counters.garbageBytes += keyDecoder.garbageBytes - garbageBefore
        guard let k = decoded else { return [] }
        let b: UInt8
        switch k {
        case .up: return steer(h: 0, v: 1)
        case .down: return steer(h: 0, v: -1)
        case .right: return steer(h: 1, v: 0)
        case .left: return steer(h: -1, v: 0)
        case .interrupt: b = 0x03
        case .character(let c): b = c
        case .enter, .backspace:
            counters.garbageBytes += 1
            return []
        }
        switch b {
        case UInt8(ascii: "w"), UInt8(ascii: "W"): return steer(h: 0, v: 1)
        case UInt8(ascii: "s"), UInt8(ascii: "S"): return steer(h: 0, v: -1)
        case UInt8(ascii: "a"), UInt8(ascii: "A"): return steer(h: -1, v: 0)
        case UInt8(ascii: "d"), UInt8(ascii: "D"): return steer(h: 1, v: 0)
        case UInt8(ascii: " "): return steer(h: 0, v: 0)
        case UInt8(ascii: "+"), UInt8(ascii: "="):
            keySpeed = min(1, ((keySpeed + 0.1) * 10).rounded() / 10)
            return keyLine()
        case UInt8(ascii: "-"), UInt8(ascii: "_"):
            keySpeed = max(0.1, ((keySpeed - 0.1) * 10).rounded() / 10)
            return keyLine()
        case UInt8(ascii: "!"):
            return bytes("\r\n") + eStop(machine: false) + keyLine()
        case UInt8(ascii: "q"), UInt8(ascii: "Q"), 0x03:
            inKeyMode = false
            drive(ChannelVector(count: settings.channels.count), hold: settings.deadman)
            onExecute?(.stop)
            return bytes("\r\nleft key drive (outputs to neutral)\r\n" + prompt)
        default:
            counters.garbageBytes += 1
            return []
        }
    }

    private func steer(h: Double, v: Double) -> [UInt8] {
        var e = ChannelVector(count: settings.channels.count)
        e[settings.horizontal.channel] = h * keySpeed * settings.horizontal.sign
        e[settings.vertical.channel] = v * keySpeed * settings.vertical.sign
        drive(e, hold: h == 0 && v == 0 ? settings.deadman : settings.keyHold)
        onExecute?(.drive(e.array))
        return keyLine()
    }

    /// The one-line key-mode display, redrawn in place.
    public func keyLine() -> [UInt8] {
        let s = link.snapshot
        var text = "\r\u{1B}[K[keys] cmd " + describe(lastEfforts) + " speed " + format2(keySpeed).dropFirst()
        text += " | \(s.state.rawValue) \(s.mode.rawValue)"
        if !s.latched.isEmpty { text += " FAULT: \(s.latched)" }
        text += " | out " + describe(s.output) + " | q leaves"
        return bytes(text)
    }

    // MARK: text

    private func describe(_ e: ChannelVector) -> String {
        (0..<e.count).map { i in (i < settings.channels.count ? settings.channels[i] : "ch\(i)") + " " + format2(e[i]) }
            .joined(separator: " ")
    }

    private func describe(_ reply: ConsoleReply, machine m: Bool) -> String {
        switch reply {
        case .arm(let r):
            if m { return Sentence.make(r == .armed ? "OK,ARM" : "ERR,ARM_REFUSED") + "\r\n" }
            return "\(r)\r\n"
        case .disarmed: return m ? Sentence.make("OK,DISARM") + "\r\n" : "disarmed (outputs neutral)\r\n"
        case .reset(let r):
            switch r {
            case .cleared: return m ? Sentence.make("OK,RESET") + "\r\n" : "faults cleared; disarmed — arm to continue\r\n"
            case .stillActive(let f):
                return m ? Sentence.make("ERR,STILL_ACTIVE") + "\r\n" : "still active, not cleared: \(f)\r\n"
            }
        case .goal(let accepted, let reason):
            if m { return Sentence.make(accepted ? "OK,GOAL" : "ERR,GOAL") + "\r\n" }
            return (accepted ? "goal set: " : "goal not set: ") + reason + "\r\n"
        case .mode(let mode, let disarmed):
            if m { return Sentence.make("OK,MODE,\(mode.rawValue.uppercased())") + "\r\n" }
            switch mode {
            case .teleop:
                return
                    "teleop: the operator drives (drive, set, keys); the dead-man stops outputs after "
                    + "\(Int(settings.deadman.inMilliseconds)) ms without a command\r\n"
            case .auto: return disarmed ? "autonomy selected, in a DISARMED hold: arm to let it drive\r\n" : "autonomy drives\r\n"
            }
        }
    }

    func statusText(_ s: LoopSnapshot) -> [String] {
        var lines = [
            "state \(s.state.rawValue), mode \(s.mode.rawValue), tick \(s.tick)",
            "outputs " + describe(s.output) + (s.operatorLive ? " (operator command live)" : ""),
        ]
        lines.append("latched faults: \(s.latched)")
        if !s.active.isEmpty { lines.append("causes present: \(s.active)") }
        if let t = s.lastTakeoverTicks { lines.append("last takeover: operator command reached the outputs in \(t) tick(s)") }
        let c = counters
        lines.append(
            "console: \(c.bytes) bytes, \(c.lines) lines, \(c.badLines) rejected, \(c.badChecksums) bad checksums, \(c.garbageBytes) "
                + "garbage bytes (\(c.taintedLines) lines dropped for them), \(c.overlongLines) overlong lines"
        )
        return lines
    }

    static func helpText(channels: [String]) -> [String] {
        [
            "commands:",
            "  status                 state, mode, outputs, faults, console counters",
            "  arm | disarm           arm the safety governor / outputs to neutral",
            "  estop                  latch an e-stop (like the hardware one); reset clears it",
            "  reset                  clear latched faults whose cause is gone",
            "  mode auto|teleop       who drives; leaving teleop holds disarmed until arm",
            pad("  drive " + channels.joined(separator: " "), 25) + "all channels, each -1…1 (takes over from autonomy)",
            "  set CHANNEL VALUE      one channel, -1…1",
            "  stop                   operator command to neutral",
            "  keys                   single-key drive: w a s d / arrows, space stops, q leaves",
            "  goal NAME              send a goal image name to the autonomy source",
            "  record start [NAME] | stop | status | mark good|bad [NOTE]   record the run as it drives",
            "  limits                 the limits the governor enforces",
            "  session                a signed link's session nonce",
            "machine sentences: $DRIVE,v1,v2*CCCC  $STOP*CCCC  $ESTOP*CCCC  $ARM*CCCC  $DISARM*CCCC  $RESET*CCCC  $MODE,AUTO*CCCC  "
                + "$STATUS*CCCC",
            "  (CCCC = CRC-16/CCITT-FALSE of the bytes between $ and *, 4 hex digits; replies $OK,… or $ERR,…)",
            "  signed: $S,SEQ,TAG,BODY*CCCC with BODY one of the above (cerebellum console-sign)",
        ]
    }

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

/// "+0.20" style: sign and two decimals.
func format2(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    let sign = r < 0 ? "-" : "+"
    let a = abs(r)
    let whole = Int(a)
    let frac = Int(((a - Double(whole)) * 100).rounded())
    return sign + String(whole) + "." + (frac < 10 ? "0" : "") + String(frac)
}
