import ArgumentParser
import Configuration
import Control
import Foundation
import Glibc
import LinuxHardware
import RobotCore
import Safety
import Teleop

/// The driver tests that run inside the hardware-in-the-loop guest (`make hil`), against the kernel's
/// own simulated devices set up by hil/init.sh: vivid (camera), gpio-sim (chip label cerebellum-hil,
/// lines estop=0, motor-enable=1, status-led=2, pwm-oe=3), i2c-stub at 0x40 (the PCA9685's bus) and,
/// on x86_64, an i6300esb watchdog. Prints one TAP line per check and a summary line the host parses.
struct HILCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hil-check",
        abstract: "Driver tests against the kernel's simulated devices (run inside the make hil guest).")

    @Option(help: "The guest's board profile (default: this architecture's guest).")
    var board = Self.guestBoard

    #if arch(arm64)
        static let guestBoard = "boards/hil-arm64.yaml"
    #else
        static let guestBoard = "boards/hil-x86_64.yaml"
    #endif

    @Option(help: "Only checks whose name contains this.")
    var only: String?

    @Option(
        name: .customLong("slack-ms"),
        help: "Time added to the timed kill checks' limits, ms: for a guest whose emulation is much slower (the arm64 guest).")
    var slackMilliseconds = 0.0

    @Flag(name: .customLong("no-i2c"), help: "The guest has no i2c-stub (Debian's arm64 kernel): skip the I2C checks.")
    var noI2C = false

    @Option(help: "Board profile for the controller the kill and stop checks start (`cerebellum run --arm`); no such checks without it.")
    var faultBoard: String?

    @Option(help: "Goal image for that controller.")
    var goal = "goals/hil.png"

    func run() throws {
        lineBufferedStandardOutput()
        var checks: [(String, () throws -> String)] = [
            ("camera: vivid YUYV stream, newest frame, monotonic timestamps", cameraStream),
            ("camera: GREY and YUYV give the same gray image", cameraFormatsAgree),
            ("camera: a buffer the driver flags as an error is skipped and re-queued", cameraErrorBuffer),
            ("gpio: outputs start at their safe level, follow set(), go safe on release", gpioOutputs),
            ("gpio: e-stop input with pull-up, active-low, edges; a short press is not missed", gpioInputEdges),
            ("watchdog: open, feed, magic close", watchdog),
        ]
        if !noI2C {
            checks += [
                ("i2c: scan finds the stub at 0x40 and nothing at 0x41", i2cScan),
                ("pca9685: initialize, prescale, pulses and full-OFF over SMBus on the stub", pca9685Registers),
                ("pca9685: a chip found in its power-on state is initialized again", pca9685PowerLoss),
                ("loop: e-stop pulled through gpio-sim latches the governor, outputs neutral, motor enable low", loopEStop),
                ("loop: vivid unbound mid-stream latches camera lost, outputs neutral; rebound camera reopens", loopCameraLost),
                ("loop: I2C device gone latches an actuator fault", loopI2CGone),
                (
                    "gamepad: a uinput pad through evdev arms, drives the PWM while the dead-man is held, neutral on release, "
                        + "e-stop button latches, unplugged while driving → teleop link lost", gamepadDrive
                ),
            ]
            if faultBoard != nil {
                checks += [
                    (
                        "supervisor: kill -9 of the armed controller → OE disabled and all 16 channels full-OFF within 100 ms of its end",
                        supervisorKill
                    ),
                    ("supervisor: SIGSTOP of the armed controller → outputs cut within 200 ms; SIGCONT → it stays faulted", supervisorStop),
                    ("console: an e-stop behind a flood of 200 requests → PWM at neutral and motor enable low within 250 ms", consoleFlood),
                    (
                        "supervisor: calibrate servo holds its outputs through a prompt; kill -9 while live → cut within 100 ms of its end",
                        calibrateKill
                    ),
                ]
            }
        }
        var passed = 0, failed = 0
        let start = Date()
        let selected = checks.filter { only == nil || $0.0.contains(only!) }
        print("1..\(selected.count)")
        for (i, (name, check)) in selected.enumerated() {
            let t0 = Date()
            do {
                let detail = try check()
                passed += 1
                print(
                    "ok \(i + 1) - \(name) (\(String(format: "%.2f", Date().timeIntervalSince(t0))) "
                        + "s)\(detail.isEmpty ? "" : " # \(detail)")"
                )
            } catch {
                failed += 1
                print("not ok \(i + 1) - \(name): \(error)")
            }
        }
        print("HIL SUMMARY: \(passed) passed, \(failed) failed in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        if failed > 0 { throw ExitCode(1) }
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func expect(_ ok: Bool, _ what: @autoclosure () -> String) throws {
    if !ok { throw CheckFailure(what()) }
}

// MARK: gpio-sim's sysfs side

/// `/sys/devices/platform/gpio-sim.N/gpiochipM/sim_gpioK/{value,pull}` for the simulated chip.
func simLine(_ offset: Int, _ attribute: String) throws -> String {
    let platform = "/sys/devices/platform"
    for dev in (try? FileManager.default.contentsOfDirectory(atPath: platform)) ?? [] where dev.hasPrefix("gpio-sim.") {
        for chip in (try? FileManager.default.contentsOfDirectory(atPath: "\(platform)/\(dev)")) ?? [] where chip.hasPrefix("gpiochip") {
            let p = "\(platform)/\(dev)/\(chip)/sim_gpio\(offset)/\(attribute)"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
    }
    throw CheckFailure("gpio-sim line \(offset) not found under \(platform) (is the chip live?)")
}

func readText(_ path: String) throws -> String {
    guard let s = readSysfsLine(path) else { throw CheckFailure("cannot read \(path)") }
    return s
}

func writeText(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { throw CheckFailure("cannot open \(path): \(Errno.current)") }
    defer { close(fd) }
    let n = text.withCString { write(fd, $0, strlen($0)) }
    guard n == text.utf8.count else { throw CheckFailure("write '\(text)' to \(path): \(Errno.current)") }
}

enum SimLines {
    static let estop = 0, motorEnable = 1, statusLED = 2, pwmOE = 3
    static let label = "cerebellum-hil"
}

/// Proposes the same efforts every tick.
final class ConstantSource: CommandSource {
    let origin = CommandOrigin.script
    var efforts: [Double]
    init(_ efforts: [Double]) { self.efforts = efforts }
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        for i in 0..<efforts.count { command.efforts[i] = efforts[i] }
        command.issuedAt = now
        command.origin = origin
        return true
    }
}

extension HILCheck {
    func camera(format: String? = nil) throws -> V4L2Camera {
        try V4L2Camera(
            request: CameraRequest(
                device: "driver:vivid", width: 320, height: 240, framesPerSecond: 30, format: format,
                buffers: 3, pollTimeoutMilliseconds: 200),
            outputWidth: 64, outputHeight: 64, clock: SystemClock())
    }

    func grab(_ cam: V4L2Camera, _ frame: Frame, frames: Int) throws -> [Instant] {
        var stamps: [Instant] = []
        let deadline = Date().addingTimeInterval(10)
        while stamps.count < frames {
            switch cam.capture(into: frame) {
            case .newFrame: stamps.append(frame.timestamp)
            case .noNewFrame: break
            case .failed(let f): throw CheckFailure("capture failed: \(f)")
            }
            if Date() > deadline { throw CheckFailure("only \(stamps.count) of \(frames) frames in 10 s") }
        }
        return stamps
    }

    func cameraStream() throws -> String {
        let cam = try camera(format: "yuyv")
        defer { cam.shutdown() }
        guard let f = cam.format else { throw CheckFailure("no format") }
        try expect(f.pixelFormat == "YUYV", "asked YUYV, got \(f.pixelFormat)")
        let frame = Frame(width: 64, height: 64)
        let stamps = try grab(cam, frame, frames: 20)
        for k in 1..<stamps.count { try expect(stamps[k] > stamps[k - 1], "timestamps not increasing at frame \(k)") }
        try expect(
            cam.timestampAnomalies == 0,
            "\(cam.timestampAnomalies) implausible driver timestamps (last: dequeued \(cam.lastAnomalyMilliseconds ?? .nan) ms after it)")
        let distinct = Set(frame.pixels).count
        try expect(distinct > 4, "the converted frame is nearly flat (\(distinct) gray levels)")
        let span = (stamps.last! - stamps.first!).inSeconds
        return "\(f); 20 frames, \(String(format: "%.1f", Double(stamps.count - 1) / span)) fps measured, \(distinct) gray levels"
    }

    func cameraFormatsAgree() throws -> String {
        var images: [[UInt8]] = []
        var names: [String] = []
        for fmt in ["grey", "yuyv"] {
            let cam = try camera(format: fmt)
            let frame = Frame(width: 64, height: 64)
            _ = try grab(cam, frame, frames: 3)
            images.append(frame.pixels)
            names.append(cam.format?.pixelFormat ?? "?")
            cam.shutdown()
        }
        try expect(names == ["GREY", "YUYV"], "formats negotiated: \(names)")
        // vivid draws the same colour-bar pattern; its text overlay (a running counter) differs between frames.
        var diff = 0
        for i in 0..<images[0].count { diff += abs(Int(images[0][i]) - Int(images[1][i])) }
        let mean = Double(diff) / Double(images[0].count)
        try expect(mean < 12, "mean |GREY − YUYV| = \(mean) gray levels")
        return String(format: "mean |GREY − YUYV| %.2f gray levels", mean)
    }

    func cameraErrorBuffer() throws -> String {
        let cam = try camera(format: "yuyv")
        defer { cam.shutdown() }
        let frame = Frame(width: 64, height: 64)
        _ = try grab(cam, frame, frames: 3)
        let delivered = cam.framesDelivered
        try cam.setControl(named: "Inject V4L2_BUF_FLAG_ERROR", to: 1)
        _ = try grab(cam, frame, frames: 5)
        try expect(cam.errorBuffers >= 1, "no error buffer seen")
        try expect(cam.framesDelivered >= delivered + 5, "capture did not go on")
        return "\(cam.errorBuffers) error buffer(s) skipped, streaming went on"
    }

    func gpioOutputs() throws -> String {
        let chip = try GPIOChip(label: SimLines.label)
        let names = chip.lineNames()
        try expect(names.prefix(4) == ["estop", "motor-enable", "status-led", "pwm-oe"], "line names \(names)")
        let motor = try GPIOOutputLine(name: "motor_enable", chip: chip, line: "motor-enable", activeLow: false, safeLevel: false)
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "0", "motor enable not low at open")
        try expect(motor.set(true) == nil, "set")
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "1", "motor enable not high after set(true)")
        // OE is active low: asserted (outputs enabled) drives the pin low.
        let oe = try GPIOOutputLine(name: "oe", chip: chip, line: "pwm-oe", activeLow: true, safeLevel: false)
        try expect(try readText(simLine(SimLines.pwmOE, "value")) == "1", "OE not high (outputs disabled) at open")
        _ = oe.set(true)
        try expect(try readText(simLine(SimLines.pwmOE, "value")) == "0", "OE not low when asserted")
        // A line in use cannot be requested twice.
        do {
            _ = try GPIOOutputLine(name: "again", chip: chip, line: "motor-enable", activeLow: false, safeLevel: false)
            throw CheckFailure("a second request of motor-enable succeeded")
        } catch let e as HardwareError { try expect(e.message.contains("in use"), "second request: \(e)") }
        motor.release()
        oe.release()
        // A released line takes its pull (gpio-sim's model of the board's resistor): motor enable is pulled
        // down, OE up (hil/init.sh), so both read "off" once nobody holds them.
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "0", "motor enable not low after release")
        try expect(try readText(simLine(SimLines.pwmOE, "value")) == "1", "OE not high (outputs disabled) after release")
        return "lines \(names.prefix(4).joined(separator: ", ")) on \(chip.name)"
    }

    func gpioInputEdges() throws -> String {
        let pull = try simLine(SimLines.estop, "pull")
        try writeText(pull, "pull-up")
        let chip = try GPIOChip(label: SimLines.label)
        let estop = try GPIOInputLine(name: "estop", chip: chip, line: "estop", activeLow: true, bias: .pullUp)
        defer { estop.release() }
        try expect(estop.read() == .level(false), "released e-stop reads asserted")
        try writeText(pull, "pull-down")  // pressed: the line goes low
        usleep(20_000)
        try expect(estop.read() == .level(true), "pressed e-stop reads \(estop.read())")
        try writeText(pull, "pull-up")
        usleep(20_000)
        try expect(estop.read() == .level(false), "released again, still asserted")
        // A press and release between two reads.
        try writeText(pull, "pull-down")
        usleep(5_000)
        try writeText(pull, "pull-up")
        usleep(20_000)
        try expect(estop.read() == .level(true), "a short press between reads was missed")
        try expect(estop.read() == .level(false), "the short press stuck")
        return "\(estop.assertEdges) assert / \(estop.releaseEdges) release edges"
    }

    func watchdog() throws -> String {
        guard FileManager.default.fileExists(atPath: "/dev/watchdog") else { return "SKIP: no /dev/watchdog in this guest" }
        let w = try Watchdog(timeoutSeconds: 30)
        let now = SystemClock().now()
        try expect(w.feed(now: now), "feed failed")
        w.disarm()
        return "\(w.identity), timeout \(w.timeoutSeconds) s, magic close"
    }

    func stubDevice() throws -> I2CDevice {
        let bus = try I2CBus.find("SMBus stub driver")
        return try I2CDevice(bus: bus, address: 0x40)
    }

    func i2cScan() throws -> String {
        let bus = try I2CBus.find("SMBus stub driver")
        let found = try I2CDevice.scan(bus: bus).filter { $0.state == .present }.map(\.address)
        try expect(found == [0x40], "devices found: \(found.map { String($0, radix: 16) })")
        do {
            let ghost = try I2CDevice(bus: bus, address: 0x41)
            if case .success = ghost.readByte(register: 0) { throw CheckFailure("a read at 0x41 succeeded") }
        }
        return "\(bus): 0x40 present"
    }

    func pca9685Registers() throws -> String {
        let dev = try stubDevice()
        try expect(dev.supportsRegisterAccess, "the adapter lacks byte-data or I2C block functionality")
        let pca = PCA9685(device: dev, pwmChannels: [0, 1], frequencyHz: 50, clock: SystemClock())
        if let f = pca.initialize() { throw CheckFailure("initialize: \(f)") }
        func reg(_ r: UInt8) throws -> UInt8 {
            switch dev.readByte(register: r) {
            case .success(let v): return v
            case .failure(let f): throw CheckFailure("read 0x\(String(r, radix: 16)): \(f)")
            }
        }
        let mode1 = try reg(0x00), mode2 = try reg(0x01), prescale = try reg(0xFE)
        try expect(mode1 == 0x21, "MODE1 0x\(String(mode1, radix: 16)), want 0x21 (AI | ALLCALL, awake)")
        try expect(mode2 == 0x04, "MODE2 0x\(String(mode2, radix: 16)), want 0x04")
        try expect(prescale == 121, "PRE_SCALE \(prescale), want 121 for 50 Hz")
        // The loop writes SafeCommands only; the governor's neutral one is 1500 µs on both channels.
        let governor = try SafetyGovernor(config: loadBoardOrExit(board).safetyConfig)
        if let f = pca.write(governor.neutral) { throw CheckFailure("write: \(f)") }
        let c = pca.counts(pulseMicros: 1500)
        let onL = try reg(0x06), onH = try reg(0x07), offL = try reg(0x08), offH = try reg(0x09)
        try expect(Int(offL) | Int(offH) << 8 == c, "LED0 OFF \(offL),\(offH), want \(c) counts")
        try expect(onL == 0 && onH == 0, "LED0 ON \(onL),\(onH), want 0")
        pca.stop()
        let allOff = try reg(0xFD), mode1After = try reg(0x00)
        try expect(allOff & 0x10 != 0, "ALL_LED_OFF_H full-OFF bit not set by stop")
        try expect(mode1After & 0x10 == 0, "stop put the chip to sleep")
        return "prescale 121 (\(String(format: "%.2f", pca.actualFrequencyHz)) Hz), neutral 1500 µs = \(c) counts"
    }

    func pca9685PowerLoss() throws -> String {
        let dev = try stubDevice()
        let pca = PCA9685(device: dev, pwmChannels: [0, 1], frequencyHz: 50, clock: SystemClock(), healthCheckEvery: 3)
        if let f = pca.initialize() { throw CheckFailure("initialize: \(f)") }
        // Another handle writes the power-on state, as a brown-out would leave it.
        let other = try stubDevice()
        _ = other.writeByte(register: 0x00, value: 0x11)
        _ = other.writeByte(register: 0xFE, value: 0x1E)
        let governor = try SafetyGovernor(config: loadBoardOrExit(board).safetyConfig)
        for _ in 0..<3 { if let f = pca.write(governor.neutral) { throw CheckFailure("write: \(f)") } }
        try expect(pca.reinitializations == 1, "reinitializations \(pca.reinitializations)")
        guard case .success(let p) = dev.readByte(register: 0xFE), p == 121 else { throw CheckFailure("PRE_SCALE not restored") }
        return "re-initialized once; PRE_SCALE back to 121"
    }

    /// The board's rig and a loop with a constant command, armed. These checks tick by hand and do slow
    /// things between ticks (unbinding a driver under emulation), so the supervisor here allows 5 s.
    func armedLoop(efforts: [Double] = [0.5, -0.5]) throws -> (Rig, ControlLoop) {
        var loaded = loadBoardOrExit(board)
        loaded.profile.supervisorStall = .seconds(5)
        let rig = try Rig(board: loaded, clock: SystemClock())
        let governor = try SafetyGovernor(config: loaded.safetyConfig)
        let loop = rig.makeLoop(source: ConstantSource(efforts), governor: governor)
        let deadline = Date().addingTimeInterval(10)
        while governor.state != .armed {
            let r = loop.tick()
            if r.capture == .newFrame { _ = governor.requestArm() }
            if Date() > deadline { throw CheckFailure("could not arm in 10 s: \(governor.latchedFaults)") }
        }
        for _ in 0..<10 { loop.tick() }
        try expect(governor.state == .armed, "disarmed while running: \(governor.latchedFaults)")
        return (rig, loop)
    }

    func ticks(_ loop: ControlLoop, until done: () -> Bool, seconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !done() {
            loop.tick()
            if Date() > deadline { throw CheckFailure("condition not reached in \(seconds) s") }
        }
    }

    func outputsNeutral(_ rig: Rig, _ loop: ControlLoop) throws {
        let dev = try stubDevice()
        guard let pca = rig.hardware?.pwm else { throw CheckFailure("no PWM board") }
        let neutral = pca.counts(pulseMicros: 1500)
        for ch in 0..<2 {
            let counts = try channelCounts(dev, [ch])[0]
            try expect(counts == neutral, "channel \(ch) at \(counts.map(String.init) ?? "full-OFF") counts, neutral is \(neutral)")
        }
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "0", "motor enable still high")
    }

    func loopEStop() throws -> String {
        let pull = try simLine(SimLines.estop, "pull")
        try writeText(pull, "pull-up")
        let (rig, loop) = try armedLoop()
        defer { loop.stop(); rig.shutdown() }
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "1", "motor enable low while armed")
        try writeText(pull, "pull-down")
        let pressed = loop.statistics.ticks
        try ticks(loop, until: { loop.governor.latchedFaults.contains(.eStop) })
        let latency = loop.statistics.ticks - pressed
        try outputsNeutral(rig, loop)
        try writeText(pull, "pull-up")
        return "latched \(latency) tick(s) after the press"
    }

    func gamepadDrive() throws -> String {
        let k = InputControl.known
        let pad = try VirtualGamepad(
            name: "cerebellum hil pad", buttons: [k["BTN_TL"]!.code, k["BTN_EAST"]!.code, k["BTN_START"]!.code],
            axes: [k["ABS_X"]!.code, k["ABS_Y"]!.code])
        var unplugged = false
        defer { if !unplugged { pad.unplug() } }
        var loaded = loadBoardOrExit(board)
        loaded.profile.supervisorStall = .seconds(5)
        let names = loaded.profile.actuators.map(\.name)
        let settings = GamepadSettings(
            device: pad.eventPath, axes: [(names[0], k["ABS_Y"]!, true), (names[1], k["ABS_X"]!, false)], deadman: k["BTN_TL"]!,
            eStop: k["BTN_EAST"]!, arm: k["BTN_START"]!)
        let rig = try Rig(board: loaded, clock: SystemClock())
        let governor = try SafetyGovernor(config: loaded.safetyConfig)
        let link = TeleopLink()
        let gamepad = GamepadOperator(settings: settings, channels: names, link: link, log: { print("# \($0)") })
        let arbiter = Arbiter(autonomy: ConstantSource([0, 0]), link: link, governor: governor)
        let loop = rig.makeLoop(source: arbiter, governor: governor)
        gamepad.start()
        defer { gamepad.stop(); loop.stop(); rig.shutdown() }
        let dev = try stubDevice()
        guard let pca = rig.hardware?.pwm else { throw CheckFailure("no PWM board") }
        let neutral = pca.counts(pulseMicros: 1500)
        try ticks(loop, until: { link.isConnected }, seconds: 5)
        try ticks(loop, until: { loop.statistics.ticks > 20 })
        let key = InputEvent.key, abs = InputEvent.absolute
        try pad.emit([InputEvent(type: key, code: k["BTN_START"]!.code, value: 1)])
        try pad.emit([InputEvent(type: key, code: k["BTN_START"]!.code, value: 0)])
        try ticks(loop, until: { governor.state == .armed }, seconds: 5)
        try pad.emit([
            InputEvent(type: key, code: k["BTN_TL"]!.code, value: 1), InputEvent(type: abs, code: k["ABS_Y"]!.code, value: -32768),
        ])
        let pushed = loop.statistics.ticks
        try ticks(loop, until: { (try? self.channelCounts(dev, [0]))?[0].map { $0 > neutral + 20 } ?? false }, seconds: 5)
        let driveTicks = loop.statistics.ticks - pushed
        try expect(arbiter.mode == .teleop, "the pad's drive did not take over")
        try pad.emit([InputEvent(type: key, code: k["BTN_TL"]!.code, value: 0)])
        let released = loop.statistics.ticks
        try ticks(loop, until: { (try? self.channelCounts(dev, [0]))?[0] == neutral }, seconds: 2)
        let releaseTicks = loop.statistics.ticks - released
        try pad.emit([InputEvent(type: key, code: k["BTN_EAST"]!.code, value: 1)])
        try ticks(loop, until: { governor.latchedFaults.contains(.eStop) }, seconds: 2)
        try outputsNeutral(rig, loop)
        // Clear the e-stop (the console's reset), arm again, drive, and pull the pad out while driving.
        governor.releaseConsoleEStop()
        for _ in 0..<3 { loop.tick() }
        _ = governor.clearFaults()
        try pad.emit([InputEvent(type: key, code: k["BTN_EAST"]!.code, value: 0)])
        try pad.emit([InputEvent(type: key, code: k["BTN_START"]!.code, value: 1)])
        try ticks(loop, until: { governor.state == .armed }, seconds: 5)
        try pad.emit([
            InputEvent(type: key, code: k["BTN_TL"]!.code, value: 1), InputEvent(type: abs, code: k["ABS_X"]!.code, value: 30000),
        ])
        try ticks(loop, until: { arbiter.mode == .teleop && loop.governor.lastOutput.efforts[1] > 0.1 }, seconds: 5)
        pad.unplug()
        unplugged = true
        try ticks(loop, until: { governor.latchedFaults.contains(.teleopLinkLost) }, seconds: 3)
        try outputsNeutral(rig, loop)
        return "\(gamepad.deviceName ?? "?") at \(pad.eventPath): drive at the PWM \(driveTicks) tick(s) after the report, neutral "
            + "\(releaseTicks) tick(s) after release; \(gamepad.eventsRead) events, \(gamepad.drivesPosted) drive reports"
    }

    func loopCameraLost() throws -> String {
        let (rig, loop) = try armedLoop()
        defer { loop.stop(); rig.shutdown() }
        guard let cam = rig.hardware?.camera else { throw CheckFailure("not a V4L2 camera") }
        try writeText("/sys/bus/platform/drivers/vivid/unbind", "vivid.0")
        try ticks(loop, until: { loop.governor.latchedFaults.contains(.cameraLost) })
        try outputsNeutral(rig, loop)
        try writeText("/sys/bus/platform/drivers/vivid/bind", "vivid.0")
        try ticks(loop, until: { cam.reopens >= 1 && cam.framesDelivered > 0 }, seconds: 20)
        return "lost \(cam.losses)×, reopened after backoff: \(cam.format?.devicePath ?? "?")"
    }

    func loopI2CGone() throws -> String {
        let (rig, loop) = try armedLoop()
        defer { loop.stop(); rig.shutdown() }
        // The device leaves the bus: the driver's i2c-dev file is pointed (dup2) at an address where the stub
        // answers nothing, so every transfer from here on fails in the kernel with ENODEV, as when a board is
        // unplugged. (The stub module cannot be unloaded while a file holds its adapter.)
        guard let pca = rig.hardware?.pwm, let dev = pca.device as? I2CDevice else { throw CheckFailure("no I2C PCA9685") }
        let ghost = try I2CDevice(bus: dev.bus, address: 0x41)
        try expect(dup2(ghost.fileDescriptor, dev.fileDescriptor) >= 0, "dup2: \(Errno.current)")
        let before = loop.statistics.ticks
        try ticks(loop, until: { loop.governor.latchedFaults.contains(.actuatorFailure) })
        try expect(try readText(simLine(SimLines.motorEnable, "value")) == "0", "motor enable still high")
        return "actuator fault latched \(loop.statistics.ticks - before) tick(s) after the device left; motor enable low"
    }
}

// MARK: the output supervisor against a real controller process

extension HILCheck {
    /// What the outputs look like on the devices right now: OE's pin (1 = outputs disabled, the chip's OE
    /// being active low), the channels whose LEDn_OFF_H lacks the full-OFF bit, motor enable's pin.
    struct OutputState: CustomStringConvertible {
        var oePin: String
        var channelsOn: [Int]
        var motorEnablePin: String
        var isCut: Bool { oePin == "1" && channelsOn.isEmpty }
        var description: String { "OE pin \(oePin), channels not full-OFF \(channelsOn), motor enable pin \(motorEnablePin)" }
    }

    func outputState(_ dev: I2CDevice) throws -> OutputState {
        var on: [Int] = []
        for ch in 0..<16 {
            guard case .success(let hi) = dev.readByte(register: UInt8(0x06 + 4 * ch + 3)) else {
                throw CheckFailure("cannot read LED\(ch)_OFF_H")
            }
            if hi & 0x10 == 0 { on.append(ch) }
        }
        return OutputState(
            oePin: try readText(simLine(SimLines.pwmOE, "value")), channelsOn: on,
            motorEnablePin: try readText(simLine(SimLines.motorEnable, "value")))
    }

    /// A child process running this binary with `arguments`, standard output and error to `log`, standard
    /// input from `input` (a terminal's path) when given.
    final class Child {
        let pid: pid_t
        private(set) var status: Int32?

        init(arguments: [String], log: String, input: String? = nil) throws {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            if let input { posix_spawn_file_actions_addopen(&actions, 0, input, O_RDWR | O_NOCTTY, 0) }
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv = (["cerebellum"] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var child: pid_t = 0
            let r = posix_spawn(&child, "/proc/self/exe", &actions, nil, argv, environ)
            guard r == 0 else { throw CheckFailure("cannot start the controller: \(Errno(r))") }
            pid = child
        }

        /// Still running (reaps it once it has exited).
        var isRunning: Bool {
            guard status == nil else { return false }
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid { status = st }
            return status == nil
        }

        func wait() {
            guard status == nil else { return }
            var st: Int32 = 0
            while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
            status = st
        }

        func signal(_ s: Int32) { kill(pid, s) }
    }

    /// `cerebellum run --arm` on the fault board, as its own process; returns once it is armed with the
    /// outputs enabled and driving (motor enable high, OE low, its channels pulsing).
    func startArmedController(log: String, json: String, extra: [String] = []) throws -> (Child, I2CDevice) {
        guard let faultBoard else { throw CheckFailure("no --fault-board") }
        let p = try Child(
            arguments: [
                "run", "--board", faultBoard, "--goal", goal, "--arm", "--duration", "120", "--no-realtime",
                "--json", json, "--trajectory", "none",
            ] + extra, log: log)
        let dev = try stubDevice()
        let deadline = Date().addingTimeInterval(90)
        while true {
            let s = try outputState(dev)
            if s.motorEnablePin == "1" && s.oePin == "0" && s.channelsOn.count >= 2 { return (p, dev) }
            if !p.isRunning { throw CheckFailure("the controller exited (status \(p.status ?? -1)) before it armed: \(tail(log))") }
            if Date() > deadline {
                p.signal(SIGKILL)
                p.wait()
                throw CheckFailure("the controller did not arm in 90 s (\(s)): \(tail(log))")
            }
            usleep(20_000)
        }
    }

    /// Polls the devices every millisecond until the outputs are cut; the time from `start`, ms.
    func msUntilCut(_ dev: I2CDevice, from start: Instant, limit: Double = 2000) throws -> Double {
        try msUntilCut(dev, from: start, limit: limit, exiting: nil).cut
    }

    /// The same, and when the killed child `exiting` could be reaped, ms (nil: not before the cut). A process is
    /// reaped once all its threads are gone; the last of them tears down its memory and then closes its files,
    /// the socket pair the supervisor watches among them, so this is about when the supervisor can see it die.
    func msUntilCut(_ dev: I2CDevice, from start: Instant, limit: Double = 2000, exiting child: Child?) throws -> (
        cut: Double, exited: Double?
    ) {
        let clock = SystemClock()
        var exited: Double?
        while true {
            let s = try outputState(dev)
            let t = (clock.now() - start).inMilliseconds
            if exited == nil, let child, !child.isRunning { exited = t }
            if s.isCut { return (t, exited) }
            if t > limit { throw CheckFailure("outputs not cut \(Int(limit)) ms after the signal: \(s)") }
            usleep(1000)
        }
    }

    /// What the supervisor promises after a kill: the outputs cut within 100 ms of the controller being gone (the
    /// kernel closed its files, the supervisor's channel among them), and within 100 ms of its stall limit after the
    /// signal however long the kernel takes to tear the process down (under emulation that alone can take over
    /// 100 ms; on a board a few milliseconds). `ms`, `exited`: from the signal.
    func expectCutAfterKill(ms: Double, exited: Double?, what: String, log: String) throws {
        let stall = (faultBoard.map { loadBoardOrExit($0).profile.supervisorStall } ?? .milliseconds(150)).inMilliseconds
        let afterGone = exited.map { ms - $0 } ?? 0
        let report = exitNote(exited) + "; " + supervisorReport(log: log, json: nil)
        let slack = slackMilliseconds > 0 ? String(format: " + %.0f ms of slack", slackMilliseconds) : ""
        try expect(
            afterGone <= 100 + slackMilliseconds,
            String(format: "outputs cut %.1f ms after the controller was gone, more than 100 ms", afterGone) + slack
                + String(format: ": %.1f ms after %@", ms, what) + report)
        try expect(
            ms <= stall + 100 + slackMilliseconds,
            String(format: "outputs cut %.1f ms after %@, more than the supervisor's stall limit (%.0f ms) + 100 ms", ms, what, stall)
                + slack + report)
    }

    /// When the killed process was gone, for a check's message.
    func exitNote(_ exited: Double?) -> String {
        exited.map { String(format: " (the killed process was gone, its files closed, %.1f ms after the signal)", $0) }
            ?? " (the killed process was still exiting when the outputs were cut)"
    }

    /// The supervisor's own report in a controller's log, and the controller's tick figures from its summary.
    func supervisorReport(log: String, json: String?) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let said =
            text.split(separator: "\n").first { $0.hasPrefix("SUPERVISOR: ") }.map { String($0.dropFirst(12)) } ?? "no supervisor message"
        var ticks = ""
        if let json, let data = FileManager.default.contents(atPath: json),
            let summary = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let loop = summary["loop"] as? [String: Any],
            let execution = loop["execution"] as? [String: Any], let p99 = execution["p99"] as? Double,
            let period = loop["period"] as? [String: Any], let p50 = period["p50"] as? Double
        {
            ticks = String(format: "; the controller's ticks: execution p99 %.1f ms, period p50 %.1f ms", p99, p50)
        }
        return "supervisor: \"\(said)\"" + ticks
    }

    func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(6).joined(separator: " | ")
    }

    func supervisorKill() throws -> String {
        let log = "/tmp/supervisor-kill.log"
        let (p, dev) = try startArmedController(log: log, json: "/tmp/supervisor-kill.json")
        let start = SystemClock().now()
        p.signal(SIGKILL)
        let (ms, exited) = try msUntilCut(dev, from: start, exiting: p)
        p.wait()
        usleep(500_000)
        let after = try outputState(dev)
        try expect(after.isCut && after.motorEnablePin == "0", "0.5 s after the kill: \(after)")
        try expectCutAfterKill(ms: ms, exited: exited, what: "kill -9", log: log)
        return String(format: "cut %.1f ms after kill -9", ms) + exitNote(exited) + "; still cut 0.5 s later, motor enable low; "
            + supervisorReport(log: log, json: nil)
    }

    func supervisorStop() throws -> String {
        let log = "/tmp/supervisor-stop.log", json = "/tmp/supervisor-stop.json"
        let (p, dev) = try startArmedController(log: log, json: json)
        let start = SystemClock().now()
        p.signal(SIGSTOP)
        let ms: Double
        do { ms = try msUntilCut(dev, from: start) } catch {
            p.signal(SIGKILL)
            p.wait()
            throw error
        }
        p.signal(SIGCONT)
        usleep(1_500_000)
        let after = try outputState(dev)
        p.signal(SIGTERM)
        p.wait()
        try expect(after.isCut && after.motorEnablePin == "0", "1.5 s after SIGCONT: \(after)")
        let summary = (try? String(contentsOfFile: json, encoding: .utf8)) ?? ""
        try expect(summary.contains("outputs cut by the supervisor"), "the controller's summary does not name the cut: \(tail(log))")
        try expect(ms <= 200, String(format: "outputs cut %.1f ms after SIGSTOP, more than 200 ms", ms))
        return String(
            format: "cut %.1f ms after SIGSTOP; after SIGCONT still cut, motor enable low, latched \"outputs cut by the supervisor\"; ", ms)
            + supervisorReport(log: log, json: json)
    }
}

extension HILCheck {
    /// The PCA9685 channels' OFF counts (ON is 0), nil for a channel at full-OFF.
    func channelCounts(_ dev: I2CDevice, _ channels: [Int]) throws -> [Int?] {
        try channels.map { ch in
            guard case .success(let lo) = dev.readByte(register: UInt8(0x06 + 4 * ch + 2)),
                case .success(let hi) = dev.readByte(register: UInt8(0x06 + 4 * ch + 3))
            else { throw CheckFailure("cannot read channel \(ch)") }
            return hi & 0x10 != 0 ? nil : Int(lo) | Int(hi & 0x0F) << 8
        }
    }

    func consoleFlood() throws -> String {
        let pty = try PseudoTerminal()
        let log = "/tmp/console-flood.log", json = "/tmp/console-flood.json"
        let (p, dev) = try startArmedController(log: log, json: json, extra: ["--teleop", pty.slavePath])
        let neutral = PCA9685(device: dev, pwmChannels: [0, 1], frequencyHz: 50, clock: SystemClock()).counts(pulseMicros: 1500)
        var screen = pty.receive(timeout: .milliseconds(200))
        pty.send(String(repeating: "status\r", count: 200))
        let clock = SystemClock()
        let start = clock.now()
        pty.send("estop\r")
        var ms = -1.0
        while ms < 0 {
            screen += pty.receive(timeout: .milliseconds(1))
            let counts = try channelCounts(dev, [0, 1])
            if counts.allSatisfy({ $0 == neutral }), try readText(simLine(SimLines.motorEnable, "value")) == "0" {
                ms = (clock.now() - start).inMilliseconds
            } else if (clock.now() - start) > .seconds(5) {
                p.signal(SIGKILL)
                p.wait()
                throw CheckFailure("5 s after the e-stop: channels \(counts), neutral is \(neutral); \(tail(log))")
            }
        }
        let oe = try readText(simLine(SimLines.pwmOE, "value"))
        for _ in 0..<20 { screen += pty.receive(timeout: .milliseconds(50)) }
        p.signal(SIGTERM)
        p.wait()
        let summary = (try? String(contentsOfFile: json, encoding: .utf8)) ?? ""
        try expect(screen.contains("E-STOP latched"), "the console never said \"E-STOP latched\"")
        try expect(summary.contains("e-stop"), "the run's summary does not name the e-stop: \(tail(log))")
        try expect(ms <= 250, String(format: "outputs neutral %.1f ms after the e-stop, more than 250 ms", ms))
        let busy = screen.components(separatedBy: "busy:").count - 1
        return String(
            format: "neutral (%d counts) and motor enable low %.1f ms after the e-stop line, behind 200 requests (%d refused as busy); "
                + "OE pin %@ (enabled: the outputs hold neutral); the console said \"E-STOP latched\"", neutral, ms, busy, oe)
    }

    /// `cerebellum calibrate servo vx` on the fault board, keys typed on a terminal: live at 1600 µs, then
    /// the go-to prompt left waiting for four stall limits (the bench keeps ticking: nothing is cut), then
    /// live again and killed.
    func calibrateKill() throws -> String {
        guard let faultBoard else { throw CheckFailure("no --fault-board") }
        let pty = try PseudoTerminal()
        let log = "/tmp/calibrate-kill.log"
        let p = try Child(
            arguments: ["calibrate", "servo", "vx", "--board", faultBoard, "--yes", "--deadman-ms", "60000"], log: log,
            input: pty.slavePath)
        defer {
            if p.isRunning { p.signal(SIGKILL) }
            p.wait()
        }
        let dev = try stubDevice()
        let live = PCA9685(device: dev, pwmChannels: [0], frequencyHz: 50, clock: SystemClock()).counts(pulseMicros: 1600)
        func waitFor(_ what: String, seconds: Double, _ done: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while try !done() {
                if !p.isRunning { throw CheckFailure("calibrate exited (status \(p.status ?? -1)) waiting for \(what): \(tail(log))") }
                if Date() > deadline {
                    throw CheckFailure("calibrate: no \(what) in \(Int(seconds)) s (\(try outputState(dev))): \(tail(log))")
                }
                usleep(10_000)
            }
        }
        try waitFor("enabled outputs", seconds: 30) {
            let s = try outputState(dev); return s.oePin == "0" && s.channelsOn.contains(0)
        }
        pty.send("g1600\r")
        try waitFor("1600 µs on channel 0", seconds: 5) { try channelCounts(dev, [0])[0] == live }
        pty.send("g")
        let stall = 4 * 150
        usleep(useconds_t(stall * 1000))
        let during = try outputState(dev)
        try expect(during.oePin == "0" && during.channelsOn.contains(0), "\(stall) ms at the go-to prompt: \(during)")
        pty.send("1600\r")
        try waitFor("1600 µs again", seconds: 5) { try channelCounts(dev, [0])[0] == live }
        let start = SystemClock().now()
        p.signal(SIGKILL)
        let (ms, exited) = try msUntilCut(dev, from: start, exiting: p)
        p.wait()
        usleep(300_000)  // the supervisor's report reaches the log after the cut
        try expectCutAfterKill(ms: ms, exited: exited, what: "kill -9 of calibrate", log: log)
        return String(format: "%d ms at a prompt with the outputs held; cut %.1f ms after kill -9 of the live bench", stall, ms)
            + exitNote(exited) + "; " + supervisorReport(log: log, json: nil)
    }
}
