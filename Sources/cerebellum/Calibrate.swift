import ArgumentParser
import Configuration
import Control
import Foundation
import Glibc
import LinuxHardware
import Reports
import RobotCore
import Safety
import Simulation
import Synchronization
import Teleop

/// `cerebellum calibrate`: the bench calibration tool. Interactive over SSH or the serial console
/// (keys in raw mode when standard input is a terminal; piped keys work too), writes calibration/NAME.yaml
/// itself: the previous file is kept as .bak, the changes are shown and confirmed, and the saved file is
/// loaded back and checked against the board before it replaces the old one.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the robot on the bench and save calibration/NAME.yaml.",
        subcommands: [
            CalibrateServo.self, CalibrateESC.self, CalibratePWM.self, CalibrateI2CScan.self, CalibrateGPIO.self,
            CalibrateCamera.self, BenchLoop.self,
        ])
}

/// Keys from standard input: raw mode (no echo, no line buffering, Ctrl-C as a key) on a terminal,
/// restored on exit; a pipe is read as it is.
final class KeyInput {
    private var saved = termios()
    private let isTerminal: Bool
    private var decoder = KeyDecoder()
    private var pending: [Key] = []
    private(set) var closed = false
    /// Run every 20 ms while a prompt waits for the user (`confirm`, `number`): a bench that holds
    /// live outputs keeps ticking through it (the output supervisor cuts them when ticks stop).
    var whileWaiting: (() -> Void)?

    init() {
        isTerminal = isatty(STDIN_FILENO) == 1
        if isTerminal {
            tcgetattr(STDIN_FILENO, &saved)
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
            raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
            tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        }
    }

    deinit { restore() }

    func restore() {
        if isTerminal { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }

    /// The next key, waiting at most `timeoutMilliseconds`; nil when none came (or input ended).
    func next(timeoutMilliseconds: Int32) -> Key? {
        if !pending.isEmpty { return pending.removeFirst() }
        if closed { usleep(UInt32(max(0, timeoutMilliseconds)) * 1000); return nil }
        let input = FileDescriptor(rawValue: STDIN_FILENO)
        guard case .success(let events) = input.poll(POLLIN, timeoutMilliseconds: timeoutMilliseconds), events != 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 64)
        guard case .success(let n) = input.read(into: &buf, count: buf.count), n > 0 else {
            closed = true
            return nil
        }
        for b in buf[0..<n] { if let k = decoder.feed(b) { pending.append(k) } }
        return pending.isEmpty ? nil : pending.removeFirst()
    }

    /// Waits for y or n (Enter, q or end of input = no).
    func confirm(_ question: String) -> Bool {
        out("\(question) [y/N] ")
        while true {
            if closed { out("n (input ended)\n"); return false }
            whileWaiting?()
            switch next(timeoutMilliseconds: 20) {
            case .character(let c) where c == UInt8(ascii: "y") || c == UInt8(ascii: "Y"): out("y\n"); return true
            case .character(let c) where c == UInt8(ascii: "n") || c == UInt8(ascii: "N") || c == UInt8(ascii: "q"):
                out("n\n"); return false
            case .enter, .interrupt: out("n\n"); return false
            default: continue
            }
        }
    }

    /// Runs `work` on a thread of its own and calls `whileWaiting` every 20 ms until it is done, so the
    /// outputs keep their ticks through work that may block (file I/O) on a slow board.
    func holding<T: Sendable>(_ work: @escaping @Sendable () -> T) -> T {
        let done = Mutex<T?>(nil)
        let thread = Thread {
            let result = work()  // outside the lock: the waiting side reads it every 20 ms meanwhile
            done.withLock { $0 = result }
        }
        thread.start()
        while true {
            if let result = done.withLock({ $0 }) { return result }
            whileWaiting?()
            usleep(20_000)
        }
    }

    /// Reads a line of digits (and . -) ended by Enter; nil if abandoned.
    func number(_ prompt: String) -> Double? {
        out(prompt)
        var text = ""
        while !closed {
            whileWaiting?()
            switch next(timeoutMilliseconds: 20) {
            case .character(let c) where (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-"):
                text.append(Character(UnicodeScalar(c)))
                out(String(UnicodeScalar(c)))
            case .backspace where !text.isEmpty:
                text.removeLast()
                out("\u{8} \u{8}")
            case .enter:
                out("\n")
                return Double(text)
            case .interrupt, .character(UInt8(ascii: "q")):
                out("\n")
                return nil
            default: continue
            }
        }
        return nil
    }
}

/// Unbuffered output (the screen must show each key's effect at once).
func out(_ s: String) {
    FileHandle.standardOutput.write(s.data(using: .utf8)!)
}

/// Options shared by the calibration subcommands.
struct CalibrationOptions: ParsableArguments {
    @Option(help: "Board profile (its calibration file is the one updated).")
    var board = "boards/sim-two-rooms.yaml"

    @Flag(help: "Answer yes to the safety confirmation (scripts; the save still asks).")
    var yes = false
}

/// Shows what changed, asks, saves with a backup and loads the result back.
func offerSave(_ new: Calibration, loaded: LoadedBoard, keys: KeyInput) -> Bool {
    let changes = new.changes(from: loaded.calibration)
    if changes.isEmpty {
        out("nothing changed; \(loaded.calibration.path) left as it is\n")
        return false
    }
    out("changes to \(loaded.calibration.path):\n")
    for c in changes { out("  \(c)\n") }
    guard keys.confirm("save?") else {
        out("not saved\n")
        return false
    }
    // The file work (a date formatter, the write, the board loaded back) can outlast the supervisor's
    // stall limit on a slow board: it runs beside the ticks that hold the outputs.
    let outcome = keys.holding { () -> Result<(backup: String?, channels: Int), any Error> in
        Result {
            var stamped = new
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd HH:mm"
            f.timeZone = TimeZone(identifier: "UTC")
            stamped.measured = "\(f.string(from: Date())) UTC"
            let backup = try stamped.save(to: loaded.calibration.path, profile: loaded.profile)
            return (backup, try LoadedBoard.load(boardPath: loaded.profile.path).calibration.channels.count)
        }
    }
    do {
        let (backup, channels) = try outcome.get()
        out("saved \(loaded.calibration.path)" + (backup.map { "; the previous file is kept as \($0)" } ?? "") + "\n")
        out("loaded back with \(loaded.profile.path): valid (\(channels) channels)\n")
        return true
    } catch {
        out("NOT saved: \(error)\n")
        return false
    }
}

/// The shared servo / ESC session.
struct PulseSession {
    let bench: CalibrationBench
    let index: Int
    let keys: KeyInput
    var deadman: Duration
    var step = 10.0
    var marks: PulseCalibration
    var lastKey: Instant?
    var steps: [Double] = [1, 5, 10, 25, 50, 100]

    var name: String { bench.board.profile.actuators[index].name }

    func help() -> String {
        """
        keys: ← → or a d  pulse −/+ step    [ ]  step smaller/larger    g  go to a pulse (type it, Enter)
              any key keeps the output live (hold h to watch it); no key for \(Int(deadman.inMilliseconds)) ms → neutral (dead-man)
              z  mark min    x  mark neutral    c  mark max    b  mark deadband edge    r  reversed on/off
              space  back to the marked neutral    s  save (shows the changes, asks)    q  quit    !  stop now

        """
    }

    func line(live: Bool, output: SafeCommand) -> String {
        var s = String(
            format: "%@ ch%d  pulse %4.0f µs (step %g)  written %4.0f µs  %@  min %.0f  neutral %.0f  max %.0f  deadband %.0f  %@",
            name, bench.board.profile.actuators[index].channel, bench.target[index], step, output.pulseMicros[index],
            bench.governor.state == .faulted ? "FAULT \(bench.governor.latchedFaults)" : (live ? "LIVE" : "held at neutral"),
            marks.minMicros, marks.neutralMicros, marks.maxMicros, marks.deadbandMicros, marks.reversed ? "reversed" : "normal")
        if let d = bench.simulatedDrive(index), let p = bench.simulatedPulse(index) {
            s += String(format: "  | sim: output %.0f µs, drive %+.2f", p, d)
        }
        return s
    }

    /// Runs until quit; true if the user saved.
    mutating func run() -> Bool {
        let clock = bench.clock
        out(help())
        switch bench.arm() {
        case .armed: break
        case let r:
            out("cannot arm: \(r)\n")
            return false
        }
        var saved = false
        var lastLine = ""
        var live = false
        loop: while true {
            let key = keys.next(timeoutMilliseconds: 20)
            let now = clock.now()
            if key != nil { lastKey = now }
            live = lastKey.map { now - $0 < deadman } ?? false
            let range = bench.pulseRange(index)
            switch key {
            case .right?, .character(UInt8(ascii: "d"))?: bench.target[index] = min(range.upperBound, bench.target[index] + step)
            case .left?, .character(UInt8(ascii: "a"))?: bench.target[index] = max(range.lowerBound, bench.target[index] - step)
            case .character(UInt8(ascii: "]"))?: step = steps.first { $0 > step } ?? step
            case .character(UInt8(ascii: "["))?: step = steps.last { $0 < step } ?? step
            case .character(UInt8(ascii: "g"))?:
                _ = bench.step(live: false)
                if let p = keys.number("\(eraseLine)go to pulse (µs): ") {
                    bench.target[index] = min(range.upperBound, max(range.lowerBound, p))
                }
                lastKey = clock.now()
            case .character(UInt8(ascii: " "))?: bench.target[index] = marks.neutralMicros
            case .character(UInt8(ascii: "z"))?:
                marks.minMicros = bench.target[index]; out("\(eraseLine)min marked at \(Int(marks.minMicros)) µs\n")
            case .character(UInt8(ascii: "x"))?:
                marks.neutralMicros = bench.target[index]; out("\(eraseLine)neutral marked at \(Int(marks.neutralMicros)) µs\n")
            case .character(UInt8(ascii: "c"))?:
                marks.maxMicros = bench.target[index]; out("\(eraseLine)max marked at \(Int(marks.maxMicros)) µs\n")
            case .character(UInt8(ascii: "b"))?:
                marks.deadbandMicros = abs(bench.target[index] - marks.neutralMicros)
                out("\(eraseLine)deadband marked: \(Int(marks.deadbandMicros)) µs either side of neutral\n")
            case .character(UInt8(ascii: "r"))?:
                marks.reversed.toggle()
                out("\(eraseLine)direction: \(marks.reversed ? "reversed (positive effort shortens the pulse)" : "normal")\n")
            case .character(UInt8(ascii: "s"))?:
                _ = bench.step(live: false)
                out("\(eraseLine)")
                if let problem = marks.problems().first {
                    out("cannot save yet: \(problem)\n")
                } else {
                    var new = bench.board.calibration
                    new.channels[name] = marks
                    if offerSave(new, loaded: bench.board, keys: keys) { saved = true }
                }
                lastKey = nil
            case .character(UInt8(ascii: "!"))?:
                bench.stop()
                out("\(eraseLine)STOPPED: outputs off\n")
                break loop
            case .character(UInt8(ascii: "q"))?, .interrupt?:
                break loop
            default: break
            }
            if keys.closed && key == nil && !live { break loop }
            let output = bench.step(live: live)
            let l = line(live: live, output: output)
            if l != lastLine {
                out("\(eraseLine)\(l)" + (eraseLine.isEmpty ? "\n" : ""))
                lastLine = l
            }
        }
        bench.stop()
        out("\(eraseLine)\noutputs off (full-OFF), governor disarmed\n")
        return saved
    }
}

struct CalibrateServo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servo",
        abstract: "Find a servo's min, neutral and max pulse, its direction and deadband, with keys; save them.")

    @Argument(help: "Actuator name or PWM channel number.")
    var channel: String

    @OptionGroup var options: CalibrationOptions

    @Option(help: "Dead-man time: the output goes neutral this long after the last key, ms.")
    var deadmanMs = 600

    func run() throws { try runPulseSession(channel: channel, options: options, deadmanMs: deadmanMs, esc: false, armingSeconds: 0) }
}

struct CalibrateESC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "esc",
        abstract: "Arm an ESC (neutral for a few seconds), then find its neutral, deadband, reverse and forward pulses; save them.")

    @Argument(help: "Actuator name or PWM channel number.")
    var channel: String

    @OptionGroup var options: CalibrationOptions

    @Option(help: "Dead-man time, ms.")
    var deadmanMs = 400

    @Option(help: "Arming: neutral held this long before any other pulse, s.")
    var armingSeconds = 3.0

    func run() throws {
        try runPulseSession(channel: channel, options: options, deadmanMs: deadmanMs, esc: true, armingSeconds: armingSeconds)
    }
}

func runPulseSession(channel: String, options: CalibrationOptions, deadmanMs: Int, esc: Bool, armingSeconds: Double) throws {
    let loaded = loadBoardOrExit(options.board)
    let clock = SystemClock()
    let bench: CalibrationBench
    do { bench = try CalibrationBench(board: loaded, clock: clock) } catch {
        warn("error: \(error)")
        throw ExitCode(2)
    }
    guard let index = bench.channelIndex(channel) else {
        bench.stop()
        throw ValidationError(
            "no actuator '\(channel)' on \(loaded.profile.name) (actuators: "
                + "\(loaded.profile.actuators.map { "\($0.name) (ch \($0.channel))" }.joined(separator: ", ")))"
        )
    }
    let a = loaded.profile.actuators[index]
    let keys = KeyInput()
    keys.whileWaiting = { bench.hold() }
    defer { keys.restore() }
    out(
        "calibrating \(esc ? "ESC" : "servo") \(a.name) on PWM channel \(a.channel) of \(loaded.profile.name); "
            + String(format: "PCA9685 at %.2f Hz (prescale %d)", bench.pwm.actualFrequencyHz, Int(bench.pwm.prescale))
            + (bench.simulatedChip != nil ? ", simulated board: the sim shows what the actuator does" : "") + "\n")
    let question =
        esc
        ? "Wheels off the ground, nothing in reach of the drive?" : "The servo on this channel will move. Clear of obstacles and fingers?"
    if !options.yes && !keys.confirm(question) {
        bench.stop()
        out("nothing moved\n")
        return
    }
    var session = PulseSession(
        bench: bench, index: index, keys: keys, deadman: .milliseconds(Int64(deadmanMs)),
        marks: loaded.calibration.channels[a.name] ?? PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000))
    if esc {
        // ESC arming: neutral for a few seconds so the ESC sees a valid throttle-off signal first.
        switch bench.arm() {
        case .armed: break
        case let r: out("cannot arm: \(r)\n"); bench.stop(); return
        }
        let until = clock.now() + .seconds(double: armingSeconds)
        while clock.now() < until {
            bench.step(live: false)
            out(
                String(
                    format: "\(eraseLine)arming the ESC: neutral %.0f µs, %.1f s left", session.marks.neutralMicros,
                    (until - clock.now()).inSeconds)
                    + (eraseLine.isEmpty ? "\n" : ""))
            clock.sleep(until: clock.now() + .milliseconds(20))
        }
        out("\(eraseLine)ESC armed\n")
    }
    _ = session.run()
}

struct CalibratePWM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pwm",
        abstract: "Measure the PCA9685's real output frequency and save the oscillator trim (clone boards run off 25 MHz).")

    @OptionGroup var options: CalibrationOptions

    @Option(help: "PWM frequency to calibrate at, Hz (servos: 50).")
    var frequency: Double?

    @Option(help: "The frequency you measured on an output (scope, logic analyser, multimeter with Hz), instead of typing it.")
    var measured: Double?

    func run() throws {
        var loaded = loadBoardOrExit(options.board)
        if let frequency { loaded.calibration.pwmFrequencyHz = frequency }
        let keys = KeyInput()
        defer { keys.restore() }
        // Start untrimmed, so the measurement is of the chip's own oscillator.
        var untrimmed = loaded.calibration
        untrimmed.oscillatorTrim = 1
        let bench = try CalibrationBench(board: try LoadedBoard(profile: loaded.profile, calibration: untrimmed), clock: SystemClock())
        defer { bench.stop() }
        keys.whileWaiting = { bench.hold() }
        let p = Int(bench.pwm.prescale)
        out(
            String(
                format: "PCA9685 set for %.1f Hz untrimmed: prescale %d, which gives %.3f Hz if the oscillator is exactly 25 MHz.\n",
                loaded.calibration.pwmFrequencyHz, p, bench.pwm.actualFrequencyHz))
        out("Every channel now outputs its neutral pulse; measure the frequency on any output.\n")
        _ = bench.arm()
        bench.step(live: false)
        if let hz = bench.simulatedOutputHz { out(String(format: "sim: a scope on the output reads %.3f Hz\n", hz)) }
        guard let f = measured ?? keys.number("measured frequency (Hz, Enter; q cancels): "), f > 0 else {
            out("nothing measured; nothing saved\n")
            return
        }
        let trim = f * 4096 * Double(p + 1) / PCA9685.nominalOscillatorHz
        guard (0.8...1.2).contains(trim) else {
            out(String(format: "a trim of %.4f (oscillator %.2f MHz) is not plausible: check the measurement\n", trim, trim * 25))
            throw ExitCode(1)
        }
        out(
            String(
                format: "oscillator %.3f MHz → trim %.4f; at %.1f Hz the prescale becomes %d\n", trim * 25, trim,
                loaded.calibration.pwmFrequencyHz,
                Int(PCA9685.prescale(frequencyHz: loaded.calibration.pwmFrequencyHz, oscillatorHz: 25e6 * trim))))
        var new = loaded.calibration
        new.oscillatorTrim = (trim * 10000).rounded() / 10000
        _ = offerSave(new, loaded: loaded, keys: keys)
    }
}

struct CalibrateI2CScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "i2c-scan",
        abstract: "List the devices on an I2C bus, probing the way i2cdetect does (quick write; byte read where a write is risky).")

    @Option(help: "Board profile (its pwm.bus is scanned unless --bus is given).")
    var board = "boards/sim-two-rooms.yaml"

    @Option(help: "Bus number or adapter name.")
    var bus: String?

    func run() throws {
        let loaded = loadBoardOrExit(board)
        var found: [UInt8: String] = [:]
        var title: String
        if loaded.profile.simulation != nil && bus == nil {
            // The simulated board's bus: its PCA9685 answers at 0x40 and at the ALLCALL address 0x70, as a real one does.
            title = "simulated bus of \(loaded.profile.name)"
            found = [0x40: "40", 0x70: "70"]
        } else {
            guard let spec = bus ?? loaded.profile.pwm?.bus else { throw ValidationError("no bus: pass --bus") }
            let b = try I2CBus.find(spec)
            title = b.description
            for (a, state) in try I2CDevice.scan(bus: b) {
                switch state {
                case .present: found[a] = String(format: "%02x", a)
                case .busy: found[a] = "UU"
                case .absent, .unprobed: break
                }
            }
        }
        print(title)
        print("     " + (0..<16).map { String(format: "%x ", $0) }.joined(separator: " "))
        for row in stride(from: 0, to: 0x80, by: 16) {
            var line = String(format: "%02x: ", row)
            for col in 0..<16 {
                let a = UInt8(row + col)
                line += (a < 0x08 || a > 0x77) ? "   " : (found[a] ?? "--") + " "
            }
            print(line)
        }
        if let pw = loaded.profile.pwm {
            print(
                found[UInt8(pw.address)] != nil
                    ? "the profile's PCA9685 at 0x\(String(pw.address, radix: 16)) answers"
                    : "nothing answers at the profile's PCA9685 address 0x\(String(pw.address, radix: 16))")
        }
    }
}

struct CalibrateGPIO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio",
        abstract: "List GPIO chips and lines; show the e-stop input live; toggle an output after confirmation.")

    @OptionGroup var options: CalibrationOptions

    @Option(help: "Show the e-stop input this many seconds (0: just list).")
    var watch = 5.0

    @Option(help: "Toggle this output (a name from the profile's outputs) after confirmation.")
    var toggle: String?

    func run() throws {
        let loaded = loadBoardOrExit(options.board)
        let p = loaded.profile
        let chips = GPIOChip.list()
        print("GPIO chips: " + (chips.isEmpty ? "none" : ""))
        for c in chips {
            print("  \(c.label) (\(c.name), \(c.lines) lines)")
            if let chip = try? GPIOChip(label: c.label) {
                let names = chip.lineNames().enumerated().map { "\($0.offset):\($0.element.isEmpty ? "-" : $0.element)" }
                print("    " + names.joined(separator: " "))
            }
        }
        let keys = KeyInput()
        defer { keys.restore() }
        if let name = toggle {
            guard let o = p.outputs.first(where: { $0.name == name }) else {
                throw ValidationError("no output '\(name)' (outputs: \(p.outputs.map(\.name).joined(separator: ", ")))")
            }
            guard
                options.yes
                    || keys.confirm(
                        "Drive \(name) (\(o.gpio.chip)/\(o.gpio.line)) to its active level for 2 s? Whatever it powers will switch on.")
            else { return }
            let line = try GPIOOutputLine(
                name: o.name, chip: GPIOChip(label: o.gpio.chip), line: o.gpio.line, activeLow: o.activeLow,
                safeLevel: o.safeLevel, consumer: "cerebellum-calibrate")
            _ = line.set(true)
            print("\(name): asserted")
            usleep(2_000_000)
            line.release()
            print("\(name): back to its safe level (\(o.safeLevel ? "asserted" : "released")) and released")
        }
        guard watch > 0, let e = p.inputs.first(where: { $0.role == .estop }) else { return }
        let input: DigitalInput
        if let g = e.gpio {
            input = try GPIOInputLine(
                name: e.name, chip: GPIOChip(label: g.chip), line: g.line, activeLow: e.activeLow,
                bias: GPIOBias(rawValue: e.bias) ?? .asIs, consumer: "cerebellum-calibrate")
        } else {
            input = SimulatedInput(name: e.name)
        }
        print("e-stop \(e.name) for \(watch) s (press it; q stops):")
        let until = Date().addingTimeInterval(watch)
        var last: InputReading?
        while Date() < until {
            let r = input.read()
            if r != last {
                switch r {
                case .level(let pressed):
                    print("  \(String(format: "%.2f", watch - until.timeIntervalSinceNow)) s: \(pressed ? "PRESSED" : "released")")
                case .failed(let f): print("  unreadable: \(f)")
                }
                last = r
            }
            if case .character(UInt8(ascii: "q"))? = keys.next(timeoutMilliseconds: 20) { break }
        }
    }
}

struct CalibrateCamera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera",
        abstract: "List cameras; measure frame rate and frame age; set a control (exposure); save a snapshot; choose and save the crop.")

    @OptionGroup var options: CalibrationOptions

    @Option(help: "Measure this many seconds.")
    var seconds = 3.0

    @Option(help: "Set a control first: NAME=VALUE (names as listed, e.g. \"Exposure Time, Absolute=200\").")
    var set: String?

    @Option(help: "Save the encoder's view (after crop and scaling) as this PNG.")
    var snapshot: String?

    @Option(help: "Crop x,y,width,height in capture pixels, saved to the calibration file (after confirmation).")
    var crop: String?

    func run() throws {
        var loaded = loadBoardOrExit(options.board)
        let keys = KeyInput()
        defer { keys.restore() }
        var cropValues: [Int]?
        if let crop {
            let v = crop.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4 else { throw ValidationError("--crop takes x,y,width,height") }
            cropValues = v
            loaded.calibration.cameraCrop = v
        }
        for c in V4L2Camera.list() {
            print(
                "camera \(c.path): \(c.driver), \(c.card); formats: "
                    + V4L2Camera.formats(path: c.path).map { "\($0.fourcc) (\($0.description))" }.joined(separator: ", "))
        }
        let clock = SystemClock()
        let rig = try Rig(board: loaded, clock: clock)
        defer { rig.shutdown() }
        if let cam = rig.hardware?.camera {
            print("negotiated: \(cam.format?.description ?? "?")")
            for c in cam.controls() { print("  control \"\(c.name)\" \(c.minimum)…\(c.maximum) = \(c.value.map(String.init) ?? "?")") }
            if let set {
                let parts = set.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let v = Int32(parts[1]) else { throw ValidationError("--set takes NAME=VALUE") }
                try cam.setControl(named: String(parts[0]), to: v)
                print("set \(parts[0]) = \(v)")
            }
        } else {
            print("simulated camera \(rig.camera.width)×\(rig.camera.height)")
        }
        let frame = Frame(width: rig.camera.width, height: rig.camera.height)
        var stamps: [Instant] = []
        var ages: [Double] = []
        let until = clock.now() + .seconds(double: seconds)
        while clock.now() < until {
            if rig.camera.capture(into: frame) == .newFrame {
                stamps.append(frame.timestamp)
                ages.append((clock.now() - frame.timestamp).inMilliseconds)
            }
            clock.sleep(until: clock.now() + .milliseconds(2))
        }
        if stamps.count > 1 {
            let span = (stamps.last! - stamps.first!).inSeconds
            let sorted = ages.sorted()
            print(
                String(
                    format: "%d frames in %.1f s: %.1f fps; frame age at capture p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    stamps.count, seconds, Double(stamps.count - 1) / span, quantile(sorted: sorted, 0.5),
                    quantile(sorted: sorted, 0.99), sorted.last!))
        } else {
            print("fewer than 2 frames in \(seconds) s")
        }
        if let snapshot {
            try RGBImage(gray: frame.pixels, width: frame.width, height: frame.height).writePNG(path: snapshot)
            print("snapshot: \(snapshot) (\(frame.width)×\(frame.height), what the encoder sees)")
        }
        if cropValues != nil { _ = offerSave(loaded.calibration, loaded: loadBoardOrExit(options.board), keys: keys) }
    }
}
