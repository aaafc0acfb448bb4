import CAllocationCounter
import Configuration
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Simulation
import Teleop
import TestSupport
import Testing
@testable import Control

/// The simulated board with its teleop console on a pseudo-terminal: the test plays the operator
/// on the master side; the controller's console server reads the slave as its serial port. The
/// server is pumped by hand between ticks so the test controls the interleaving.
final class TeleopRig {
    let clock = ManualClock()
    let board: LoadedBoard
    let rig: Rig
    let governor: SafetyGovernor
    let pty: PseudoTerminal
    let console: TeleopConsole
    let loop: ControlLoop
    var screen = ""

    /// `heartbeat`: the board's `serial_console.heartbeat_ms`.
    init(heartbeat: Duration? = nil) throws {
        var b = try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml")
        pty = try PseudoTerminal()
        if let heartbeat { b.profile.serialConsole = SerialConsoleSettings(device: pty.slavePath, heartbeat: heartbeat) }
        board = b
        rig = try Rig(board: board, clock: clock, seed: 3)
        governor = try SafetyGovernor(config: board.safetyConfig)
        console = try TeleopConsole(
            board: board, device: pty.slavePath, autonomy: ScriptedWaypointFollower(world: rig.robot!.world),
            governor: governor, clock: clock, log: { _ in })
        loop = rig.makeLoop(source: console.arbiter, governor: governor)
        pty.releaseSlave()
        pump()
        _ = read()
    }

    var arbiter: Arbiter { console.arbiter }

    func pump(_ rounds: Int = 3) { for _ in 0..<rounds { console.server.pump(timeout: .milliseconds(2)) } }

    /// What the controller printed since the last read.
    func read() -> String {
        let s = pty.receive(timeout: .milliseconds(20))
        screen += s
        return s
    }

    /// Types `text` (with a CR), lets the console take it, runs `ticks` loop ticks, then returns the reply.
    @discardableResult
    func type(_ text: String, ticks: Int = 2) -> String {
        pty.send(text + "\r")
        pump()
        for _ in 0..<ticks {
            loop.tick()
            pump()
        }
        return read()
    }

    func tick(_ n: Int = 1) {
        for _ in 0..<n {
            loop.tick()
            pump(1)
        }
    }

    /// Ticks until the autonomy source has driven the governor to armed-and-moving.
    func armFromConsole() -> String {
        tick(2)
        return type("arm", ticks: 2)
    }
}

@Suite("teleop console over a pseudo-terminal", .serialized)
struct TeleopConsoleTests {
    @Test func operatorArmsTakesOverDrivesAndTheTakeoverIsImmediate() throws {
        let t = try TeleopRig()
        #expect(t.armFromConsole().contains("armed"))
        #expect(t.governor.state == .armed)
        t.tick(5)
        #expect(t.arbiter.mode == .auto)

        // The operator types a drive command: the next tick the operator's efforts reach the outputs.
        t.pty.send("drive 0.5 -0.25\r")
        t.pump()
        let report = t.loop.tick()
        #expect(t.arbiter.mode == .teleop)
        #expect(report.command.origin == .teleop)
        #expect(abs(report.output.efforts[0] - 0.5) < 1e-9 && abs(report.output.efforts[1] + 0.25) < 1e-9)
        t.pump()
        #expect(t.read().contains("drive vx +0.50 vy -0.25"))
        t.tick()
        // Typed line → outputs in the first tick after the console thread handed it over.
        #expect(t.console.link.snapshot.lastTakeoverTicks == 0)
        let status = t.type("status")
        #expect(status.contains("mode teleop") && status.contains("last takeover"))
    }

    @Test func deadManStopsTheOutputsButStaysArmed() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.4 0.4", ticks: 1)
        #expect(t.governor.lastOutput.efforts[0] > 0.3)
        // 300 ms dead-man at 30 Hz: 10 ticks without a command, then neutral.
        var neutralAfter: Int?
        for i in 1...15 {
            t.tick()
            if neutralAfter == nil && t.governor.lastOutput.efforts[0] == 0 { neutralAfter = i }
        }
        #expect(neutralAfter != nil && neutralAfter! >= 9 && neutralAfter! <= 11, "neutral after \(String(describing: neutralAfter)) ticks")
        #expect(t.governor.state == .armed)
        #expect(t.arbiter.mode == .teleop)
    }

    @Test func estopLatchesAndResetClearsOnceReleased() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.5 0")
        let reply = t.type("estop")
        #expect(reply.contains("E-STOP latched"))
        #expect(t.governor.state == .faulted && t.governor.latchedFaults.contains(.eStop))
        #expect(t.governor.lastOutput.isNeutral)
        t.type("drive 0.5 0")
        #expect(t.governor.lastOutput.isNeutral, "a latched e-stop holds the outputs whatever the operator sends")
        #expect(t.type("arm").contains("arm refused"))
        #expect(t.type("reset", ticks: 3).contains("faults cleared"))
        #expect(t.governor.state == .disarmed)
        #expect(t.type("arm").contains("armed"))
        #expect(t.governor.state == .armed)
    }

    @Test func checksummedSentencesDriveAndBadOnesAreCounted() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        let ok = t.type(Sentence.make("DRIVE,0.20,-0.10"))
        #expect(ok.contains(Sentence.make("OK,DRIVE")))
        #expect(abs(t.governor.lastOutput.efforts[0] - 0.2) < 1e-9)
        let bad = t.type("$DRIVE,0.90,0.90*00")
        #expect(bad.contains(Sentence.make("ERR,CHECKSUM")))
        #expect(t.console.session.counters.badChecksums == 1)
        #expect(abs(t.governor.lastOutput.efforts[0] - 0.2) < 1e-9 || t.governor.lastOutput.efforts[0] == 0)
        #expect(t.type(Sentence.make("STATUS")).contains("$STATUS,ARMED,TELEOP"))
    }

    /// `run --arm` over the console: the runner arms once at start; after the operator's `disarm`, after `estop`
    /// then `reset`, and after leaving teleop (`mode auto`: a disarmed hold) it stays disarmed until `arm`.
    @Test(
        "--arm arms once at start; a disarm, an e-stop reset or a disarmed hold is never re-armed by itself",
        arguments: [["disarm"], ["estop", "reset"], ["drive 0.3 0", "mode auto"]])
    func armOnceMeansOnce(_ lines: [String]) throws {
        let t = try TeleopRig()
        let runner = EpisodeRunner(rig: t.rig, loop: t.loop, armPolicy: .once)
        var tick = 0
        var states: [GovernorState] = []
        var script: [Int: String] = [:]
        for (i, line) in lines.enumerated() { script[10 + 5 * i] = line }
        _ = runner.run(maxSteps: .max, isDone: { false }, shouldStop: { tick >= 60 }) { r in
            tick += 1
            if let line = script[tick] { t.pty.send(line + "\r") }
            t.pump(1)
            states.append(r.state)
        }
        _ = t.read()
        #expect(runner.armedOnce && states[5] == .armed, "armed at start: \(states.prefix(8))")
        #expect(states.suffix(30).allSatisfy { $0 != .armed }, "re-armed by itself after \(lines): \(states.suffix(30))")
        #expect(t.governor.lastOutput.isNeutral)
        // Only an explicit arm arms again.
        #expect(t.type("arm", ticks: 3).contains("armed") && t.governor.state == .armed)
    }

    @Test("an e-stop behind a flood of requests latches on the next tick; the queue is bounded; the replies tell the truth")
    func estopGoesPastTheQueue() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.4 0", ticks: 1)
        _ = t.read()
        t.pty.send(String(repeating: "disarm\r", count: 200) + "estop\r")
        for _ in 0..<20 { t.console.server.pump(timeout: .milliseconds(2)) }
        t.loop.tick()
        #expect(t.governor.latchedFaults.contains(.eStop) && t.governor.lastOutput.isNeutral, "latched on the first tick after it arrived")
        t.pump()
        let screen = t.read()
        #expect(screen.contains("E-STOP sent") && screen.contains("E-STOP latched"))
        #expect(screen.contains("busy: 8 commands are waiting"))
        #expect(t.console.session.counters.queueFull >= 190)
        // Key mode's '!' goes the same way, and says "latched" only once it is.
        for _ in 0..<12 { t.tick() }
        _ = t.read()
        #expect(t.type("reset", ticks: 3).contains("faults cleared") && t.governor.state == .disarmed)
        t.pty.send("keys\r")
        t.pump()
        _ = t.read()
        t.pty.send("!")
        t.pump()
        let sent = t.read()
        #expect(sent.contains("E-STOP sent") && !sent.contains("E-STOP latched"))
        t.tick()
        t.pump()
        #expect(t.read().contains("E-STOP latched") && t.governor.latchedFaults.contains(.eStop))
    }

    @Test func leavingTeleopHoldsDisarmed() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.3 0")
        let reply = t.type("mode auto")
        #expect(reply.contains("DISARMED hold"))
        #expect(t.arbiter.mode == .auto && t.governor.state == .disarmed)
        #expect(t.governor.lastOutput.isNeutral)
    }

    @Test func unpluggingTheTerminalFaultsWhileTheOperatorDrives() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.3 0.3")
        #expect(t.governor.state == .armed)
        t.pty.closeMaster()
        t.pump()
        #expect(!t.console.link.isConnected)
        t.tick(2)
        #expect(t.governor.latchedFaults.contains(.teleopLinkLost))
        #expect(t.governor.lastOutput.isNeutral)
        // The rest of the controller keeps running, and the console keeps trying to reopen.
        let ticks = t.loop.statistics.ticks
        t.tick(5)
        #expect(t.loop.statistics.ticks == ticks + 5)
        #expect(t.console.server.hangups == 1)
    }

    /// The simulated board with its console on `device` (nil: the board's own), ticked `ticks` times.
    func consoleRun(_ board: LoadedBoard, device: String?, ticks: Int) throws -> (TeleopConsole, SafetyGovernor) {
        let clock = ManualClock()
        let rig = try Rig(board: board, clock: clock, seed: 3)
        let governor = try SafetyGovernor(config: board.safetyConfig)
        let console = try TeleopConsole(
            board: board, device: device, autonomy: ScriptedWaypointFollower(world: rig.robot!.world),
            governor: governor, clock: clock, log: { _ in })
        let loop = rig.makeLoop(source: console.arbiter, governor: governor)
        for _ in 0..<ticks {
            console.server.pump(timeout: .milliseconds(1))
            loop.tick()
        }
        return (console, governor)
    }

    @Test("a console that is not there (a mistyped device, /dev/null) refuses arming, and says why")
    func absentConsoleRefusesArming() throws {
        let board = try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml")
        for device in ["/dev/ttyUSB9-not-here", "/dev/null"] {
            let (console, governor) = try consoleRun(board, device: device, ticks: 5)
            #expect(!console.link.isConnected, "\(device)")
            let answer = governor.requestArm()
            #expect(answer == .refused(latched: [], notReady: .teleopLinkLost), "\(device): \(answer)")
            #expect("\(answer)".contains("pre-arm check failed: teleop link lost"))
        }
    }

    @Test("with serial_console.required: false a missing console only matters while the operator drives")
    func optionalConsoleDoesNotBlockArming() throws {
        var board = try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml")
        board.profile.serialConsole = SerialConsoleSettings(device: "/dev/null", required: false)
        let (_, governor) = try consoleRun(board, device: nil, ticks: 3)
        #expect(governor.requestArm() == .armed)
    }

    @Test("serial_console.key_file makes the link signed; a missing or short key file is an error naming it")
    func keyFileSignsTheLink() throws {
        var board = try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml")
        let key = NSTemporaryDirectory() + "console-\(getpid()).key"
        defer { unlink(key) }
        FileManager.default.createFile(atPath: key, contents: Data(LinkSigner.newKeyText().utf8))
        board.profile.serialConsole = SerialConsoleSettings(device: "/dev/null", keyFile: key)
        let (console, _) = try consoleRun(board, device: nil, ticks: 1)
        #expect(console.session.settings.signer != nil)
        let reply = String(decoding: console.session.receive(Array("arm\r".utf8)), as: UTF8.self)
        #expect(reply.contains("signed commands only"))
        FileManager.default.createFile(atPath: key, contents: Data("00ff\n".utf8))
        do {
            _ = try consoleRun(board, device: nil, ticks: 1)
            Issue.record("a 2-byte key was taken")
        } catch { #expect("\(error)".hasPrefix(key) && "\(error)".contains("at least 16")) }
        board.profile.serialConsole?.keyFile = "/nonexistent/console.key"
        #expect(throws: LinkKeyError.self) { try consoleRun(board, device: nil, ticks: 1) }
    }

    @Test("operator heartbeat: the link is up only after a first byte and while bytes keep coming; silence while armed latches")
    func heartbeatSilenceIsALostLink() throws {
        let t = try TeleopRig(heartbeat: .milliseconds(150))
        t.tick(2)
        #expect(!t.console.link.isConnected, "up before the operator said anything")
        #expect(t.governor.requestArm() == .refused(latched: [], notReady: .teleopLinkLost))
        #expect(t.armFromConsole().contains("armed"))
        #expect(t.governor.state == .armed && t.console.link.isConnected)
        // Keep-alives (empty lines) keep it up.
        for _ in 0..<4 {
            usleep(60_000)
            t.pty.send("\r")
            t.pump()
            t.tick()
        }
        #expect(t.governor.state == .armed)
        usleep(250_000)
        t.pump()
        #expect(!t.console.link.isConnected)
        #expect(t.console.server.heartbeatLosses == 1)
        t.tick(2)
        #expect(t.governor.latchedFaults.contains(.teleopLinkLost))
        #expect(t.governor.lastOutput.isNeutral)
        // The operator is heard again: the link is up; the fault stays latched until reset.
        t.pty.send("\r")
        t.pump()
        #expect(t.console.link.isConnected)
        #expect(t.type("reset").contains("cleared"))
    }

    @Test func keyModeDrivesWithSingleKeys() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.pty.send("keys\r")
        t.pump()
        t.tick()
        #expect(t.console.session.inKeyMode)
        t.pty.send("d")
        t.pump()
        t.tick()
        #expect(t.governor.lastOutput.efforts[0] > 0.4)
        t.pty.send([0x1B, UInt8(ascii: "["), UInt8(ascii: "A")])  // arrow up: -vy on the sim board (image y grows down)
        t.pump()
        t.tick()
        #expect(t.governor.lastOutput.efforts[1] < -0.4 && t.governor.lastOutput.efforts[0] == 0)
        t.pty.send(" ")
        t.pump()
        t.tick()
        #expect(t.governor.lastOutput.isNeutral)
        t.pty.send("q")
        t.pump()
        #expect(!t.console.session.inKeyMode)
        #expect(t.read().contains("[keys]"))
    }
}

extension TeleopConsoleTests {
    @Test func ticksThroughTheArbiterDoNotAllocate() throws {
        let t = try TeleopRig()
        _ = t.armFromConsole()
        t.type("drive 0.2 0.1")
        t.tick(3)
        var teleopTicks = 0
        allocation_counter_start()
        var n = 0
        while n < 200 {  // not `for in`: a debug build's unspecialized iterator allocates on aarch64
            if t.loop.tick().command.origin == .teleop { teleopTicks += 1 }
            n += 1
        }
        let allocations = allocation_counter_stop()
        #expect(allocations == 0)
        #expect(teleopTicks == 200, "the arbiter decided every tick")
    }
}

extension TeleopConsoleTests {
    @Test func goalsGoToTheAutonomySourceWhichSaysWhetherItTakesThem() throws {
        let t = try TeleopRig()
        t.tick(2)
        #expect(t.type("goal kitchen").contains("goal not set: the autonomy source (ScriptedWaypointFollower) takes no goals"))
    }
}

/// Counts what the arbiter asks of the autonomy source.
final class RecordingSource: CommandSource {
    let origin = CommandOrigin.autonomy
    private(set) var decisions = 0
    private(set) var resumes = 0
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        decisions += 1
        command.origin = origin
        command.issuedAt = now
        return true
    }
    func resume() { resumes += 1 }
}

extension TeleopConsoleTests {
    @Test func autonomyIsToldWhenItDrivesAgainAfterTheOperator() throws {
        let t = try TeleopRig()
        let autonomy = RecordingSource()
        t.arbiter.autonomy = autonomy
        _ = t.armFromConsole()
        let before = autonomy.decisions
        t.type("drive 0.3 0")
        t.tick(5)
        #expect(autonomy.decisions == before, "autonomy is not asked while the operator drives")
        #expect(autonomy.resumes == 0)
        t.type("mode auto")
        #expect(autonomy.resumes == 1 && autonomy.decisions > before)
    }
}
