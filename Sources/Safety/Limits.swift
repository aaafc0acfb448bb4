import RobotCore

/// How one channel's normalized effort maps to a pulse width, as bench calibration measured it.
public struct PulseCalibration: Sendable, Equatable {
    /// Pulse width at full reverse effort, µs.
    public var minMicros: Double
    /// Pulse width that holds the actuator still (servo centre, ESC stop), µs.
    public var neutralMicros: Double
    /// Pulse width at full forward effort, µs.
    public var maxMicros: Double
    /// True when positive effort must drive the pulse below neutral.
    public var reversed: Bool
    /// Pulses within ± this of neutral do not move the actuator (ESC/servo deadband), µs.
    /// Non-zero efforts skip over it so that small commands still move.
    public var deadbandMicros: Double

    public init(minMicros: Double, neutralMicros: Double, maxMicros: Double, reversed: Bool = false, deadbandMicros: Double = 0) {
        self.minMicros = minMicros
        self.neutralMicros = neutralMicros
        self.maxMicros = maxMicros
        self.reversed = reversed
        self.deadbandMicros = deadbandMicros
    }

    /// Pulse widths hobby servos and ESCs accept, µs.
    public static let plausibleMicros = 400.0...2600.0

    /// What is wrong with these numbers (empty when they are usable).
    public func problems() -> [String] {
        var p: [String] = []
        for (name, v) in [("min_us", minMicros), ("neutral_us", neutralMicros), ("max_us", maxMicros)]
        where !(v.isFinite && Self.plausibleMicros.contains(v)) {
            p.append("\(name) \(v) is outside \(Self.plausibleMicros.lowerBound)...\(Self.plausibleMicros.upperBound) µs")
        }
        if !(minMicros < neutralMicros && neutralMicros < maxMicros) {
            p.append("need min_us < neutral_us < max_us, got \(minMicros) / \(neutralMicros) / \(maxMicros)")
        }
        if !(deadbandMicros >= 0 && deadbandMicros < min(maxMicros - neutralMicros, neutralMicros - minMicros)) {
            p.append("deadband_us \(deadbandMicros) must be ≥ 0 and smaller than both sides of neutral")
        }
        return p
    }

    /// The pulse width for an effort in [-1, 1]; always within `minMicros...maxMicros` for a valid calibration.
    public func pulse(forEffort effort: Double) -> Double {
        let e = reversed ? -effort : effort
        if e > 0 { return neutralMicros + deadbandMicros + e * (maxMicros - neutralMicros - deadbandMicros) }
        if e < 0 { return neutralMicros - deadbandMicros + e * (neutralMicros - deadbandMicros - minMicros) }
        return neutralMicros
    }
}

/// The governor's limits for one actuator channel (board profile + calibration).
public struct ChannelLimits: Sendable, Equatable {
    public var name: String
    /// Lowest effort allowed, in [-1, 0].
    public var minEffort: Double
    /// Highest effort allowed, in [0, 1].
    public var maxEffort: Double
    /// Largest change of effort per second (ramp-up and ramp-down), effort units / s.
    public var maxSlewPerSecond: Double
    public var calibration: PulseCalibration

    public init(name: String, minEffort: Double = -1, maxEffort: Double = 1, maxSlewPerSecond: Double, calibration: PulseCalibration) {
        self.name = name
        self.minEffort = minEffort
        self.maxEffort = maxEffort
        self.maxSlewPerSecond = maxSlewPerSecond
        self.calibration = calibration
    }
}

/// Everything the governor enforces. Built from the board profile and the calibration file.
public struct SafetyConfig: Sendable, Equatable {
    public var channels: [ChannelLimits]
    /// The control loop's nominal period; slew limits are applied per tick of this length.
    public var tickPeriod: Duration
    /// The real-time window over which `maxWindowChange` holds (openpilot uses 250 ms).
    public var window: Duration
    /// Largest difference between any two outputs of a channel less than `window` apart, effort units.
    public var maxWindowChange: Double
    /// Oldest camera frame the controller may act on.
    public var maxFrameAge: Duration
    /// This many overrun ticks in a row trip the loop watchdog.
    public var maxConsecutiveOverruns: Int
    /// A gap this long between two governor ticks trips the loop watchdog (a stalled tick).
    public var stallTimeout: Duration
    /// The command source must have produced a command this recently.
    public var heartbeatTimeout: Duration
    /// What a "world model surprised" report does: latch a fault, slow down, or only count it.
    public var surpriseResponse: SurpriseAction = .stop
    /// `slow`: efforts are scaled by this factor while the model is surprised (or the planner starved).
    public var slowFactor: Double = 0.3
    /// What a "planner starved" report does: latch a fault, slow down, or only count it.
    public var starvationResponse: SurpriseAction = .stop

    public init(
        channels: [ChannelLimits], tickPeriod: Duration, window: Duration = .milliseconds(250),
        maxWindowChange: Double, maxFrameAge: Duration, maxConsecutiveOverruns: Int,
        stallTimeout: Duration, heartbeatTimeout: Duration, surpriseResponse: SurpriseAction = .stop, slowFactor: Double = 0.3,
        starvationResponse: SurpriseAction = .stop
    ) {
        self.channels = channels
        self.tickPeriod = tickPeriod
        self.window = window
        self.maxWindowChange = maxWindowChange
        self.maxFrameAge = maxFrameAge
        self.maxConsecutiveOverruns = maxConsecutiveOverruns
        self.stallTimeout = stallTimeout
        self.heartbeatTimeout = heartbeatTimeout
        self.surpriseResponse = surpriseResponse
        self.slowFactor = slowFactor
        self.starvationResponse = starvationResponse
    }

    /// What is wrong with this configuration (empty when it is usable), each naming its field.
    public func problems() -> [String] {
        var p: [String] = []
        if channels.isEmpty || channels.count > maxChannels { p.append("channels: need 1...\(maxChannels), got \(channels.count)") }
        for c in channels {
            if !(c.minEffort >= -1 && c.minEffort <= 0) { p.append("\(c.name).min_effort \(c.minEffort) must be in [-1, 0]") }
            if !(c.maxEffort >= 0 && c.maxEffort <= 1) { p.append("\(c.name).max_effort \(c.maxEffort) must be in [0, 1]") }
            if !(c.maxSlewPerSecond > 0 && c.maxSlewPerSecond.isFinite) {
                p.append("\(c.name).slew_per_s \(c.maxSlewPerSecond) must be > 0")
            }
            p += c.calibration.problems().map { "\(c.name): \($0)" }
        }
        if tickPeriod <= .zero { p.append("tick period must be > 0") }
        if !(slowFactor >= 0 && slowFactor <= 1) { p.append("surprise.slow_factor \(slowFactor) must be in [0, 1]") }
        if window < tickPeriod { p.append("window must be at least one tick period") }
        if !(maxWindowChange > 0 && maxWindowChange.isFinite) { p.append("max_window_change must be > 0") }
        if maxFrameAge <= .zero { p.append("max_frame_age must be > 0") }
        if maxConsecutiveOverruns < 1 { p.append("max_consecutive_overruns must be ≥ 1") }
        if stallTimeout <= tickPeriod { p.append("stall_timeout must be longer than one tick period") }
        if heartbeatTimeout <= .zero { p.append("heartbeat_timeout must be > 0") }
        return p
    }
}

/// A safety configuration the governor refuses, with every problem found.
public struct InvalidSafetyConfig: Error, Equatable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid safety configuration: " + problems.joined(separator: "; ") }
}

/// What the governor does when the world model is surprised (its one-step forecast misses).
public enum SurpriseAction: String, Sendable, CaseIterable, Codable {
    /// Latch the "world model surprised" fault: outputs neutral until reset.
    case stop
    /// Scale the planner's efforts down while surprise stays above the threshold.
    case slow
    /// Only report it (status line, summary).
    case report
}
