import RobotCore

/// Fault causes the governor watches. A latched fault holds every output at neutral until its cause
/// is gone, it is cleared (`clearFaults`) and the governor is armed again.
public struct Faults: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The e-stop input is asserted (pressed), or the console said `estop`.
    public static let eStop = Faults(rawValue: 1 << 0)
    /// The e-stop input could not be read (treated as pressed).
    public static let eStopUnreadable = Faults(rawValue: 1 << 1)
    /// The camera failed or vanished.
    public static let cameraLost = Faults(rawValue: 1 << 2)
    /// The newest frame is older than the limit (or there is none).
    public static let staleFrame = Faults(rawValue: 1 << 3)
    /// An actuator write failed.
    public static let actuatorFailure = Faults(rawValue: 1 << 4)
    /// Too many consecutive overruns, or a stalled tick.
    public static let loopWatchdog = Faults(rawValue: 1 << 5)
    /// The command source stopped producing commands.
    public static let heartbeatLost = Faults(rawValue: 1 << 6)
    /// The operator's console link is down (hung up, vanished, never opened, or silent past its heartbeat)
    /// while the operator drives, or at any time when the console is required (`serial_console.required`).
    public static let teleopLinkLost = Faults(rawValue: 1 << 7)
    /// The world model's smoothed one-step surprise is above its threshold: the camera shows
    /// something the model did not predict (board profile `surprise.action: stop`).
    public static let modelSurprised = Faults(rawValue: 1 << 8)
    /// The planner produced no fresh plan for `planner.max_stale_ticks` ticks in a row: the robot would
    /// run on an old plan (board profile `planner.starved_action: stop`).
    public static let plannerStarved = Faults(rawValue: 1 << 9)
    /// The world model's latent or forecast holds a NaN or ∞ (a corrupt model, a broken kernel): nothing
    /// it says can be trusted, whatever `surprise.action` says.
    public static let modelOutputInvalid = Faults(rawValue: 1 << 10)
    /// The output supervisor cut the outputs (OE disabled, PWM full-OFF): ticks stopped for longer than
    /// its limit while the outputs were enabled, or it is gone. It stays cut until the controller restarts.
    // equivalent mutant: any bit no other fault uses names this fault as well (1 << 12 is free).
    public static let outputsCut = Faults(rawValue: 1 << 11)

    /// Every cause, in the order they are reported.
    public static let all: [(Faults, String)] = [
        (.eStop, "e-stop"), (.eStopUnreadable, "e-stop input unreadable"), (.cameraLost, "camera lost"),
        (.staleFrame, "stale camera frame"), (.actuatorFailure, "actuator write failed"),
        (.loopWatchdog, "loop watchdog"), (.heartbeatLost, "command heartbeat lost"),
        (.teleopLinkLost, "teleop link lost"), (.modelSurprised, "world model surprised"),
        (.plannerStarved, "planner starved"), (.modelOutputInvalid, "model output invalid"),
        (.outputsCut, "outputs cut by the supervisor"),
    ]

    /// What a failed actuator write latches (a refusal by the output supervisor, or any other failure).
    /// A constant: an array literal in the tick would allocate in debug builds.
    static let writeFaults: Faults = [.actuatorFailure, .outputsCut]
    /// Faults that are hardware facts: latched in any state, armed or not.
    public static let latchAlways: Faults = [.eStop, .eStopUnreadable, .cameraLost, .actuatorFailure, .modelOutputInvalid, .outputsCut]
    /// Faults about the control pipeline being alive: latched while armed; before arming they are pre-arm checks.
    public static let latchWhileArmed: Faults = [
        .staleFrame, .loopWatchdog, .heartbeatLost, .teleopLinkLost, .modelSurprised, .plannerStarved,
    ]

    public var description: String {
        let names = Self.all.filter { contains($0.0) }.map(\.1)
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}

/// The governor's state, derived from its latched faults and whether it was armed.
public enum GovernorState: String, Sendable {
    /// Outputs neutral; waiting for an explicit arm.
    case disarmed
    /// Commands pass, within limits.
    case armed
    /// A latched fault holds outputs neutral.
    case faulted
}

/// Why a command was not used.
public enum CommandRejection: Equatable, Sendable, CustomStringConvertible {
    case wrongChannelCount(got: Int, expected: Int)
    case notFinite(channel: Int)
    case outOfRange(channel: Int)
    case issuedInTheFuture

    public var description: String {
        switch self {
        case .wrongChannelCount(let got, let expected): "command has \(got) channels, board has \(expected)"
        case .notFinite(let c): "channel \(c) is NaN or infinite"
        case .outOfRange(let c): "channel \(c) is outside [-1, 1]"
        case .issuedInTheFuture: "command timestamp is in the future"
        }
    }
}

/// The answer to an arm request.
public enum ArmResult: Equatable, Sendable, CustomStringConvertible {
    case armed
    /// `latched`: faults to clear first (`reset`); `notReady`: pre-arm checks that fail now.
    case refused(latched: Faults, notReady: Faults)

    public var description: String {
        switch self {
        case .armed: return "armed"
        case .refused(let latched, let notReady):
            var parts: [String] = []
            if !latched.isEmpty { parts.append("latched fault(s): \(latched) — clear with reset once the cause is gone") }
            if !notReady.isEmpty { parts.append("pre-arm check failed: \(notReady)") }
            return "arm refused: " + parts.joined(separator: "; ")
        }
    }
}

/// The answer to a request to clear latched faults.
public enum ClearResult: Equatable, Sendable {
    /// Every latched fault was cleared; the governor is disarmed and may be armed.
    case cleared
    /// These latched faults still have their cause present and stay latched.
    case stillActive(Faults)
}
