import Configuration
import Foundation
import LinuxHardware
import RobotCore
import Safety
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
