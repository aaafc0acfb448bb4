import Configuration
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Synchronization
import Teleop

/// The teleop console of a board, wired: serial port, session, server thread, and the arbiter
/// that puts the operator between the autonomy source and the governor.
public final class TeleopConsole {
    public let settings: SerialConsoleSettings
    public let link = TeleopLink()
    public let session: ConsoleSession
    public let server: ConsoleServer
    public let arbiter: Arbiter

    /// `device` overrides the board's `serial_console.device` (`cerebellum run --teleop`).
    public init(
        board: LoadedBoard, device: String?, autonomy: CommandSource, governor: SafetyGovernor, clock: RobotClock,
        log: @escaping @Sendable (String) -> Void
    ) throws {
        let p = board.profile
        guard var s = p.serialConsole ?? device.map({ SerialConsoleSettings(device: $0) }) else {
            throw ConfigError(
                file: p.path, line: nil, column: nil, field: "serial_console",
                message: "no serial console configured (add serial_console or pass --teleop DEVICE)")
        }
        if let device { s.device = device }
        settings = s
        let names = p.actuators.map(\.name)
        var consoleSettings = Self.consoleSettings(s, channels: names)
        consoleSettings.signer = try s.keyFile.map { try LinkSigner.load(keyFile: $0) }
        session = ConsoleSession(
            settings: consoleSettings, link: link,
            limitsText: Self.limitsText(board.safetyConfig, names: names), now: { clock.now() })
        server = ConsoleServer(transport: SerialPort(path: s.device, baud: s.baud), session: session, heartbeat: s.heartbeat, log: log)
        arbiter = Arbiter(autonomy: autonomy, link: link, governor: governor, resumeAutonomy: s.resumeAutonomy, requireLink: s.required)
    }

    /// The console's view of the board's settings.
    public static func consoleSettings(_ s: SerialConsoleSettings, channels: [String]) -> ConsoleSettings {
        func axis(_ text: String?, default fallback: (Int, Double)) -> (channel: Int, sign: Double) {
            guard let text else { return fallback }
            let negative = text.hasPrefix("-")
            let name = negative ? String(text.dropFirst()) : text
            return (channels.firstIndex(of: name) ?? fallback.0, negative ? -1 : 1)
        }
        return ConsoleSettings(
            channels: channels, deadman: s.deadman, keyHold: s.keyHold, keySpeed: s.keySpeed,
            horizontal: axis(s.keyHorizontal, default: (0, 1)),
            vertical: axis(s.keyVertical, default: (min(1, channels.count - 1), -1)))
    }

    /// What `limits` prints: each channel's limits, then the window, watchdog and heartbeat.
    public static func limitsText(_ c: SafetyConfig, names: [String]) -> [String] {
        c.channels.enumerated().map { i, l in "  " + (i < names.count ? names[i] : "ch\(i)") + ": " + LimitsDescription.channel(l) }
            + ["  " + LimitsDescription.timing(c)]
    }
}

/// The limits the governor enforces, as one line each (shared by `check-board` and the console).
public enum LimitsDescription {
    /// "effort -1.00…+1.00, slew 120.0/s, pulse 1000/1500/2000 µs, deadband 8 µs" (+ " reversed").
    public static func channel(_ l: ChannelLimits) -> String {
        String(
            format: "effort %+.2f…%+.2f, slew %.1f/s, pulse %.0f/%.0f/%.0f µs%@, deadband %.0f µs",
            l.minEffort, l.maxEffort, l.maxSlewPerSecond, l.calibration.minMicros, l.calibration.neutralMicros,
            l.calibration.maxMicros, (l.calibration.reversed ? " reversed" : "") as NSString, l.calibration.deadbandMicros)
    }

    /// Window, frame age, watchdog and heartbeat limits.
    public static func timing(_ c: SafetyConfig) -> String {
        String(
            format: "window %.0f ms, max change %.2f; frame age ≤ %.0f ms; watchdog %d overruns or %.0f ms stall; heartbeat %.0f ms",
            c.window.inMilliseconds, c.maxWindowChange, c.maxFrameAge.inMilliseconds, c.maxConsecutiveOverruns,
            c.stallTimeout.inMilliseconds, c.heartbeatTimeout.inMilliseconds)
    }
}

/// A USB gamepad as a second operator input, on a thread of its own: reads the pad (evdev), and puts what
/// the operator does on the same link as the serial console, so the arbiter applies the same rules — a
/// drive while the dead-man is held takes over from autonomy and holds `deadmanHold` after each report
/// (re-sent every third of it while held); letting the dead-man go sends neutral at once; the e-stop
/// button goes past every request; arm, disarm, reset and the hand-back to autonomy are requests the loop
/// answers; mark buttons mark the recording. The pad present counts as an operator link: unplugged while the operator drives, the
/// governor latches `teleop link lost`. A missing or lost pad is reopened every second.
public final class GamepadOperator: @unchecked Sendable {
    public let settings: GamepadSettings
    public let link: TeleopLink
    public weak var recording: (any RecordingControl)?
    private let mapping: GamepadMapping
    private let openDevice: (String) throws -> InputEventSource
    private let log: @Sendable (String) -> Void
    private var source: InputEventSource?
    private var state: GamepadState?
    private var events: [InputEvent] = []
    private var nextAttempt = ContinuousClock.now
    private var driving = false
    private var lastPost = ContinuousClock.now
    private var lastPosted = ChannelVector(count: 0)
    private var waitingRequest: ConsoleRequest?
    private var requestID: UInt32?
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// What the pad did: events read, drive reports posted, e-stops, other presses, times it was lost.
    public private(set) var eventsRead = 0
    public private(set) var drivesPosted = 0
    public private(set) var eStops = 0
    public private(set) var presses = 0
    public private(set) var losses = 0
    /// The device's name once opened.
    public private(set) var deviceName: String?

    /// `channels`: the board's actuator names, which `settings.axes` name. `openDevice` opens the pad (evdev by
    /// default; tests give a script).
    public init(
        settings: GamepadSettings, channels: [String], link: TeleopLink,
        openDevice: @escaping (String) throws -> InputEventSource = { try EvdevDevice(path: $0) },
        log: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.link = link
        self.openDevice = openDevice
        self.log = log
        var buttons: [(control: InputControl, action: GamepadAction)] = [(settings.eStop, .eStop)]
        if let b = settings.arm { buttons.append((b, .arm)) }
        if let b = settings.disarm { buttons.append((b, .disarm)) }
        if let b = settings.reset { buttons.append((b, .reset)) }
        if let b = settings.autonomy { buttons.append((b, .autonomy)) }
        if let b = settings.markGood { buttons.append((b, .mark("good"))) }
        if let b = settings.markBad { buttons.append((b, .mark("bad"))) }
        mapping = GamepadMapping(
            channels: channels.count,
            axes: settings.axes.compactMap { a in channels.firstIndex(of: a.actuator).map { ($0, a.axis, a.reversed) } },
            deadzone: settings.deadzone, deadman: settings.deadman, buttons: buttons)
        lastPosted = ChannelVector(count: channels.count)
    }

    /// One round: open the pad if due, wait up to `timeout` for events, act on them. `start()` calls it on a thread.
    public func pump(timeout: Duration = .milliseconds(20)) {
        guard let source, state != nil else {
            guard ContinuousClock.now >= nextAttempt else {
                Thread.sleep(forTimeInterval: min(timeout.inSeconds, 0.05))
                return
            }
            nextAttempt = ContinuousClock.now + .seconds(1)
            do {
                let s = try openDevice(settings.device)
                var st = GamepadState(mapping: mapping, range: { s.axisRange($0) })
                st.resync { s.currentValue($0) }
                (self.source, state, deviceName) = (s, st, s.name)
                link.setGamepadConnected(true)
                log("gamepad: \(s.name) on \(settings.device)")
            } catch {
                if losses == 0 && eventsRead == 0 { log("gamepad: cannot open \(settings.device): \(error); retrying every second") }
            }
            return
        }
        events.removeAll(keepingCapacity: true)
        if let failure = source.read(into: &events, timeout: timeout) {
            lose("\(failure)")
            return
        }
        eventsRead += events.count
        for e in events {
            if e.type == InputEvent.sync && e.code == InputEvent.syncDropped {
                state!.resync { source.currentValue($0) }
                continue
            }
            if let action = state!.handle(e) { act(action) }
        }
        drive()
        request()
    }

    private func act(_ action: GamepadAction) {
        switch action {
        case .eStop:
            link.postEStop()
            eStops += 1
            log("gamepad: E-STOP")
        case .arm: waitingRequest = .arm
        case .disarm: waitingRequest = .disarm
        case .reset: waitingRequest = .reset
        case .autonomy: waitingRequest = .mode(.auto)
        case .mark(let label):
            let r = recording?.perform(.mark(label: label, note: "gamepad"))
            log("gamepad: " + (r?.text ?? "not recording: nothing to mark"))
        }
        presses += 1
    }

    /// Posts the sticks while the dead-man is held (when they move, and every third of the hold); neutral
    /// once when it is let go.
    private func drive() {
        guard let state else { return }
        let now = ContinuousClock.now
        let hold = settings.deadmanHold
        if state.deadmanHeld {
            let e = state.efforts
            if !driving || e != lastPosted || now - lastPost >= .nanoseconds(hold.nanoseconds / 3) { post(e, now: now) }
            driving = true
        } else if driving {
            post(ChannelVector(count: mapping.channels), now: now)
            driving = false
        }
    }

    private func post(_ efforts: ChannelVector, now: ContinuousClock.Instant) {
        link.post(efforts: efforts, hold: settings.deadmanHold)
        lastPosted = efforts
        lastPost = now
        drivesPosted += 1
    }

    /// Posts the waiting button request once the link's request slot is free, and logs the loop's answer.
    private func request() {
        if let id = requestID, let reply = link.takeReply(id) {
            requestID = nil
            log("gamepad: \(reply)")
        }
        guard requestID == nil, let r = waitingRequest, let id = link.post(r) else { return }
        requestID = id
        waitingRequest = nil
    }

    private func lose(_ why: String) {
        source?.close()
        source = nil
        state = nil
        driving = false
        losses += 1
        link.setGamepadConnected(false)
        nextAttempt = ContinuousClock.now + .milliseconds(200)
        log("gamepad: \(settings.device) lost (\(why)); reopening")
    }

    public func start() {
        running.store(true, ordering: .releasing)
        let t = Thread { [self] in
            while running.load(ordering: .acquiring) { pump() }
            source?.close()
            link.setGamepadConnected(false)
            finished.signal()
        }
        t.name = "teleop-gamepad"
        t.start()
    }

    /// Stops the thread (the pad counts as gone); returns once it has ended.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }
}
