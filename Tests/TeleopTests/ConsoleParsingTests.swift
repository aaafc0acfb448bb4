import RobotCore
import Safety
import Testing
@testable import Teleop

private let channels = ["vx", "vy"]

/// Feeds `text` through a line editor; returns the completed lines and the counters.
private func lines(_ bytes: [UInt8]) -> ([String], ConsoleCounters, [UInt8]) {
    var editor = LineEditor()
    var counters = ConsoleCounters()
    var echo: [UInt8] = []
    var out: [String] = []
    for b in bytes { if let l = editor.feed(b, counters: &counters, echo: &echo) { out.append(l) } }
    return (out, counters, echo)
}

@Suite("console line editing and parsing")
struct ConsoleParsingTests {
    @Test func lineEndingsCRLFAndCRLF() {
        #expect(lines(Array("arm\rdisarm\nstatus\r\nstop\n\r".utf8)).0 == ["arm", "disarm", "status", "stop"])
        // A CR LF pair is one line end, not an empty line in between.
        #expect(lines(Array("a\r\n\r\nb\r\n".utf8)).1.lines == 2)
    }

    @Test func backspaceAndDeleteEdit() {
        let (l, _, echo) = lines(Array("arx".utf8) + [0x08] + Array("m".utf8) + [0x7F, 0x7F, 0x7F, 0x7F] + Array("stop\r".utf8))
        #expect(l == ["stop"])
        #expect(echo.starts(with: Array("arx".utf8) + [0x08, 0x20, 0x08]))
    }

    @Test func garbageEscapesAndOverlongLinesAreDroppedAndCounted() {
        let arrow: [UInt8] = [0x1B, UInt8(ascii: "["), UInt8(ascii: "A")]
        let garbage: [UInt8] = [0x00, 0xFF, 0x07]
        let overlong: [UInt8] = Array(repeating: UInt8(ascii: "x"), count: 500) + [0x0D]
        var input: [UInt8] = garbage + arrow
        input += Array("\rarm\r".utf8)
        input += overlong
        input += Array("stop\n".utf8)
        let (l, c, _) = lines(input)
        #expect(l == ["arm", "stop"])
        #expect(c.garbageBytes == 6 && c.taintedLines == 1)
        // A line end inside an escape sequence still ends the line.
        #expect(lines([0x1B, UInt8(ascii: "[")] + Array("\rstop\r".utf8)).0 == ["stop"])
        #expect(c.overlongLines == 1)
    }

    @Test("a line in which any byte was dropped is dropped whole: garbage never forms a command")
    func droppedBytesNeverMakeACommand() {
        let (l, c, echo) = lines(Array("a".utf8) + [0x00] + Array("r".utf8) + [0x01, 0xFF] + Array("m\r".utf8))
        #expect(l.isEmpty && c.taintedLines == 1 && c.garbageBytes == 3)
        #expect(String(decoding: echo, as: UTF8.self).contains("line dropped"))
        // An arrow key typed in the middle of a line drops it too; the next clean line is taken.
        let arrow: [UInt8] = [0x1B, UInt8(ascii: "["), UInt8(ascii: "D")]
        #expect(lines(Array("ar".utf8) + arrow + Array("m\rstatus\r".utf8)).0 == ["status"])
        // A sentence with a dropped byte is dropped silently (no echo for machines).
        let (ls, cs, es) = lines(Array("$DRI".utf8) + [0x80] + Array("VE,0.1,0.1*00\r".utf8))
        #expect(ls.isEmpty && cs.taintedLines == 1 && es.isEmpty)
    }

    @Test func machineSentencesAreNotEchoed() {
        let (_, _, echo) = lines(Array("$STOP*00\r".utf8))
        #expect(echo == [])
    }

    @Test func parsesEveryCommand() {
        func parse(_ s: String) -> ConsoleCommand? { try? parseConsoleLine(s, channels: channels).get().command }
        #expect(parse("help") == .help)
        #expect(parse("  STATUS ") == .status)
        #expect(parse("arm") == .arm)
        #expect(parse("disarm") == .disarm)
        #expect(parse("estop") == .estop)
        #expect(parse("reset") == .reset)
        #expect(parse("mode teleop") == .mode(.teleop))
        #expect(parse("mode auto") == .mode(.auto))
        #expect(parse("set vy -0.25") == .set(channel: 1, value: -0.25))
        #expect(parse("set 0 1") == .set(channel: 0, value: 1))
        #expect(parse("drive 0.2 -0.1") == .drive([0.2, -0.1]))
        #expect(parse("stop") == .stop)
        #expect(parse("goal Kitchen") == .goal("Kitchen"))
        #expect(parse("limits") == .limits)
        #expect(parse("keys") == .keys)
        #expect(parse("record start") == .record(.start(name: nil)))
        #expect(parse("record start drive-1.kitchen") == .record(.start(name: "drive-1.kitchen")))
        #expect(parse("record STOP") == .record(.stop))
        #expect(parse("record status") == .record(.status))
        #expect(parse("record mark bad hit the chair") == .record(.mark(label: "bad", note: "hit the chair")))
        #expect(parse("record mark good") == .record(.mark(label: "good", note: "")))
        #expect(parse(Sentence.make("RECORD,START,lap2")) == .record(.start(name: "lap2")))
    }

    @Test("record: names that could leave the directory or hide a file, and other bad arguments, are refused")
    func recordArguments() {
        func error(_ s: String) -> String? {
            if case .failure(let e) = parseConsoleLine(s, channels: channels) { return e.description }
            return nil
        }
        for bad in ["record start ../etc", "record start .hidden", "record start a/b", "record start " + String(repeating: "x", count: 65)]
        {
            #expect(error(bad)?.contains("recording name") == true, "\(bad)")
        }
        #expect(error("record")?.contains("usage: record") == true)
        #expect(error("record start a b")?.contains("usage: record") == true)
        #expect(error("record mark maybe")?.contains("usage: record") == true)
        #expect(error("record stop now")?.contains("usage: record") == true)
        #expect(error("record mark good " + String(repeating: "n", count: 201))?.contains("200 characters") == true)
    }

    @Test func rejectsBadArgumentsWithAReason() {
        func error(_ s: String) -> ConsoleLineError? {
            if case .failure(let e) = parseConsoleLine(s, channels: channels) { return e }
            return nil
        }
        #expect(error("fly") == .unknown("fly"))
        #expect(error("drive 0.2")?.description.contains("usage: drive vx vy") == true)
        #expect(error("drive 0.2 nan") != nil)
        #expect(error("drive 2 0") != nil)
        #expect(error("set vz 0.1") != nil)
        #expect(error("set vx inf") != nil)
        #expect(error("mode fast") != nil)
        #expect(error("arm now") != nil)
    }

    @Test("sentences carry a CRC-16/CCITT-FALSE; the XOR-8 collision of the old form does not pass")
    func crc16() throws {
        #expect(Sentence.checksum(Array("123456789".utf8)) == 0x29B1, "the standard check value")
        #expect(Sentence.make("STOP").count == "$STOP*".count + 4)
        // 0.1,0.1 and 0.9,0.9 have the same XOR-8 (the collision a wire fault can make): not the same CRC.
        #expect(Sentence.checksum(Array("DRIVE,0.9,0.9".utf8)) != Sentence.checksum(Array("DRIVE,0.1,0.1".utf8)))
        let forged = "$DRIVE,0.9,0.9*" + Sentence.hex(Sentence.checksum(Array("DRIVE,0.1,0.1".utf8)))
        #expect(throws: ConsoleLineError.badChecksum) { try parseConsoleLine(forged, channels: channels).get() }
        #expect(throws: ConsoleLineError.badChecksum) { try parseConsoleLine("$DRIVE,0.9,0.9*4C", channels: channels).get() }
        // Every single-bit flip of a good sentence's body is caught.
        let body = Array("DRIVE,0.20,-0.10".utf8), crc = Sentence.checksum(body)
        for i in body.indices {
            for bit in 0..<8 {
                var b = body
                b[i] ^= 1 << bit
                #expect(Sentence.checksum(b) != crc)
            }
        }
    }

    @Test func checksummedSentences() throws {
        #expect(Sentence.make("DRIVE,0.20,-0.10") == "$DRIVE,0.20,-0.10*" + Sentence.hex(Sentence.checksum(Array("DRIVE,0.20,-0.10".utf8))))
        let good = Sentence.make("DRIVE,0.20,-0.10")
        #expect(try parseConsoleLine(good, channels: channels).get() == ConsoleLine(command: .drive([0.2, -0.1]), machine: true))
        #expect(try parseConsoleLine(Sentence.make("MODE,TELEOP"), channels: channels).get().command == .mode(.teleop))
        #expect(try parseConsoleLine(Sentence.make("ESTOP"), channels: channels).get().command == .estop)
        var bad = Array(good.utf8)
        bad[3] = UInt8(ascii: "X")
        for line in [
            String(decoding: bad, as: UTF8.self), "$DRIVE,0.20,-0.10", "$DRIVE,0.20,-0.10*G1AB", "$STOP*1",
            "$STOP*" + Sentence.hex(Sentence.checksum(Array("STOP".utf8))).dropLast(),
        ] {
            if case .failure(let e) = parseConsoleLine(line, channels: channels) {
                #expect(e == .badChecksum, "\(line)")
            } else {
                Issue.record("accepted \(line)")
            }
        }
        if case .failure(let e) = parseConsoleLine(Sentence.make("FLY,1"), channels: channels) { #expect(e.code == "MALFORMED") }
    }
}

@Suite("console fuzzing")
struct ConsoleFuzzTests {
    /// 1 000 000 bytes of noise with real commands spliced in at random places: the session
    /// carries out exactly the spliced commands, in order, and nothing else.
    @Test func noiseNeverBecomesACommand() {
        let link = TeleopLink()
        let session = ConsoleSession(settings: ConsoleSettings(channels: channels), link: link, limitsText: [], now: { .zero })
        let log = CommandLog()
        session.onExecute = { log.commands.append($0) }
        var rng = SeededGenerator(seed: 99)
        let typed: [(String, ConsoleCommand)] = [
            ("drive 0.3 -0.2", .drive([0.3, -0.2])), ("stop", .stop), ("set vx 0.1", .set(channel: 0, value: 0.1)),
            (Sentence.make("DRIVE,-0.50,0.25"), .drive([-0.5, 0.25])), ("status", .status), ("limits", .limits),
        ]
        var expected: [ConsoleCommand] = []
        var total = 0
        var chunk: [UInt8] = []
        while total < 1_000_000 {
            let n = Int(rng.next() % 4000) + 1
            for _ in 0..<n {
                chunk.append(UInt8(truncatingIfNeeded: rng.next()))
            }
            let (line, command) = typed[Int(rng.next() % UInt64(typed.count))]
            chunk += Array(("\r\n" + line + "\r\n").utf8)
            expected.append(command)
            total += chunk.count
            _ = session.receive(chunk)
            chunk.removeAll(keepingCapacity: true)
        }
        let c = session.counters
        #expect(c.bytes >= 1_000_000)
        // Every executed command is one that was typed: noise lines are rejected or dropped.
        let executed = log.commands
        let executedTyped = executed.filter { cmd in typed.contains { $0.1 == cmd } }
        #expect(executed.count == executedTyped.count, "noise produced \(executed.count - executedTyped.count) commands")
        #expect(Array(executed.suffix(expected.count)) == expected)
        #expect(executed.count == expected.count)
        #expect(c.garbageBytes > 100_000 && c.badLines + c.taintedLines > 100 && c.taintedLines > 0)
    }

    @Test func pureNoiseDoesNothing() {
        let link = TeleopLink()
        let session = ConsoleSession(settings: ConsoleSettings(channels: channels), link: link, limitsText: [], now: { .zero })
        let log = CommandLog()
        session.onExecute = { log.commands.append($0) }
        var rng = SeededGenerator(seed: 7)
        var bytes = [UInt8](repeating: 0, count: 1_000_000)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        _ = session.receive(bytes)
        #expect(log.commands.isEmpty)
        #expect(link.state.withLock { $0.request == nil && $0.operatorDrive == nil })
    }
}

/// Collects the commands a session carries out.
final class CommandLog {
    var commands: [ConsoleCommand] = []
}

/// A recorder that says what it was asked.
private final class FakeRecording: RecordingControl, @unchecked Sendable {
    var asked: [RecordCommand] = []
    func perform(_ command: RecordCommand) -> (ok: Bool, text: String, machine: String) {
        asked.append(command)
        if case .start(let name) = command { return (true, "recording to runs/\(name ?? "run-0000").mcap", "RECORDING") }
        return (false, "not recording", "IDLE")
    }
}

@Suite struct ConsoleRecordTests {
    @Test("record commands reach the run's recorder; people get its text, machines its short code; without one the console says so")
    func recordThroughTheSession() {
        let session = ConsoleSession(settings: ConsoleSettings(channels: channels), link: TeleopLink(), limitsText: [], now: { .zero })
        func say(_ line: String) -> String { String(decoding: session.receive(Array((line + "\r").utf8)), as: UTF8.self) }
        #expect(say("record start").contains("this run has no recorder"))
        let fake = FakeRecording()
        session.recording = fake
        #expect(say("record start lap1").contains("recording to runs/lap1.mcap"))
        #expect(say("record stop").contains("not recording"))
        #expect(say(Sentence.make("RECORD,STATUS")).contains(Sentence.make("ERR,RECORD,IDLE")))
        #expect(say("record start ../x").contains("recording name"))
        #expect(fake.asked == [.start(name: "lap1"), .stop, .status])
        #expect(say("help").contains("record start [NAME]"))
    }
}
