import RobotCore

/// A command an actuator may execute: checked, limited and converted to pulse widths by the
/// governor. Its initializer is internal to this module, so nothing else can make one.
public struct SafeCommand: Sendable, Equatable {
    /// Effort per channel after every limit, in [-1, 1].
    public let efforts: ChannelVector
    /// Pulse width per channel from the calibration, µs.
    public let pulseMicros: ChannelVector

    init(efforts: ChannelVector, pulseMicros: ChannelVector) {
        self.efforts = efforts
        self.pulseMicros = pulseMicros
    }

    /// True when every channel is at neutral. (A plain loop: closures capturing `self` allocate in debug builds.)
    public var isNeutral: Bool {
        for i in 0..<efforts.count where efforts[i] != 0 { return false }
        return true
    }
}

/// An actuator back end: PCA9685 over I2C, GPIO H-bridge, or simulated. It accepts only `SafeCommand`s.
public protocol ActuatorOutput: Device {
    var channelCount: Int { get }
    /// Writes every channel. Returns nil on success; never allocates, never throws.
    func write(_ command: SafeCommand) -> DeviceFailure?
}

/// What the loop tells the governor about the world each tick.
public struct TickInputs: Sendable {
    public var now: Instant
    /// The e-stop input (asserted = pressed).
    public var eStop: InputReading
    /// When the newest valid frame was exposed; nil when there has been none.
    public var frameTimestamp: Instant?
    /// Set when the last capture failed.
    public var cameraFailure: DeviceFailure?
    /// Overrun ticks in a row, as the loop counts them.
    public var consecutiveOverruns: Int
    /// The operator is in control and the teleop console's link is down.
    public var teleopLinkLost: Bool
    /// The world model's surprise is above its threshold.
    public var modelSurprised: Bool
    /// The planner has produced no fresh plan for too many ticks.
    public var plannerStarved: Bool
    /// The world model's output holds a NaN or ∞.
    public var modelOutputInvalid: Bool

    public init(
        now: Instant, eStop: InputReading, frameTimestamp: Instant?, cameraFailure: DeviceFailure? = nil,
        consecutiveOverruns: Int = 0, teleopLinkLost: Bool = false, modelSurprised: Bool = false,
        plannerStarved: Bool = false, modelOutputInvalid: Bool = false
    ) {
        self.now = now
        self.eStop = eStop
        self.frameTimestamp = frameTimestamp
        self.cameraFailure = cameraFailure
        self.consecutiveOverruns = consecutiveOverruns
        self.teleopLinkLost = teleopLinkLost
        self.modelSurprised = modelSurprised
        self.plannerStarved = plannerStarved
        self.modelOutputInvalid = modelOutputInvalid
    }
}

/// The safety governor: the last layer before any actuator (after openpilot's safety model).
///
/// Default deny: it starts disarmed with every output neutral. It arms only on an explicit request
/// when every pre-arm check passes. While armed it bounds every channel by absolute, slew-rate and
/// real-time-window limits; it rejects non-finite or out-of-range commands; and it latches faults
/// (e-stop, camera, stale frame, actuator, loop watchdog, heartbeat), which put every output at
/// neutral in the same tick. It never throws and never allocates after construction.
public final class SafetyGovernor {
    public let config: SafetyConfig
    public var channelCount: Int { config.channels.count }

    /// Faults latched and not yet cleared.
    public private(set) var latchedFaults: Faults = []
    /// Fault causes present at the last tick (before any tick: all, since nothing is known yet).
    public private(set) var activeCauses: Faults = Faults(rawValue: UInt32.max)
    public private(set) var lastOutput: SafeCommand
    public private(set) var lastRejection: CommandRejection?
    public private(set) var rejectedCommands = 0
    /// How many times a fault was latched.
    public private(set) var faultEvents = 0
    public private(set) var ticks = 0
    /// Ticks on which the world model reported surprise (whatever the response).
    public private(set) var surprisedTicks = 0
    /// Ticks on which the planner reported starvation (whatever the response).
    public private(set) var starvedTicks = 0
    /// The `slow` response is scaling efforts this tick.
    public private(set) var slowed = false

    private var armed = false
    private var target: ChannelVector
    private var current: ChannelVector
    private var lastTick: Instant?
    private var lastCommandTime: Instant?
    private var consoleEStop = false
    /// The fault the last actuator write's failure is (until one succeeds): `.outputsCut` when the
    /// output supervisor cut the outputs, `.actuatorFailure` otherwise.
    private var writeFault: Faults = []
    /// Past outputs, `windowTicks` per channel, channel-major ring.
    private var history: [Double]
    private let windowTicks: Int
    private var historyHead = 0
    private let slewPerTick: ChannelVector
    private let neutralCommand: SafeCommand

    /// Throws `InvalidSafetyConfig` listing every problem when `config` is not usable:
    /// a governor with bad limits is never made, so nothing can start from it.
    public init(config: SafetyConfig) throws(InvalidSafetyConfig) {
        let problems = config.problems()
        guard problems.isEmpty else { throw InvalidSafetyConfig(problems: problems) }
        self.config = config
        let n = config.channels.count
        windowTicks = max(1, Int(config.window.nanoseconds / config.tickPeriod.nanoseconds))
        history = [Double](repeating: 0, count: windowTicks * n)
        target = ChannelVector(count: n)
        current = ChannelVector(count: n)
        var slew = ChannelVector(count: n)
        for i in 0..<n { slew[i] = config.channels[i].maxSlewPerSecond * config.tickPeriod.inSeconds }
        slewPerTick = slew
        var pulses = ChannelVector(count: n)
        for i in 0..<n { pulses[i] = config.channels[i].calibration.neutralMicros }
        neutralCommand = SafeCommand(efforts: ChannelVector(count: n), pulseMicros: pulses)
        lastOutput = neutralCommand
    }

    public var state: GovernorState {
        if !latchedFaults.isEmpty { return .faulted }
        return armed ? .armed : .disarmed
    }

    /// Every output at neutral: what actuators get at start, on stop and on any fault.
    public var neutral: SafeCommand { neutralCommand }

    /// Arms if nothing is latched and every pre-arm check passed at the last tick.
    public func requestArm() -> ArmResult {
        let notReady = activeCauses.intersection(Faults.latchAlways.union(Faults.latchWhileArmed))
        guard latchedFaults.isEmpty, notReady.isEmpty else {
            return .refused(latched: latchedFaults, notReady: notReady)
        }
        armed = true
        return .armed
    }

    /// Disarms: outputs go neutral at once. Latched faults stay latched.
    public func disarm() {
        armed = false
        neutralize()
    }

    /// The console's `estop`: latches exactly like the e-stop input, until `releaseConsoleEStop()`.
    public func consoleEStopPressed() {
        consoleEStop = true
        latch(.eStop)
    }

    /// Releases a console e-stop, so `clearFaults` can clear it.
    public func releaseConsoleEStop() { consoleEStop = false }

    /// The console's `reset`: clears latched faults whose cause is gone at the last tick.
    public func clearFaults() -> ClearResult {
        let stuck = latchedFaults.intersection(activeCauses)
        latchedFaults = stuck
        return stuck.isEmpty ? .cleared : .stillActive(stuck)
    }

    /// Tells the governor how the last actuator write went. A failure latches a fault and returns
    /// the neutral command for the loop to try to write at once.
    @discardableResult
    public func recordWrite(_ failure: DeviceFailure?) -> SafeCommand {
        writeFault = failure == nil ? [] : failure == .cutBySupervisor ? .outputsCut : .actuatorFailure
        guard !writeFault.isEmpty else {
            activeCauses.subtract(Faults.writeFaults)
            return lastOutput
        }
        activeCauses.insert(writeFault)
        latch(writeFault)
        return lastOutput
    }

    /// What the source's report of trouble (surprise, starvation) does this tick: `cause` becomes a fault
    /// cause, the efforts are scaled down, or it is only counted.
    private func respond(_ response: SurpriseAction, cause: Faults, into causes: inout Faults) {
        switch response {
        case .stop: causes.insert(cause)
        case .slow: slowed = true
        case .report: break
        }
    }

    /// One tick: checks the inputs, latches faults, gates the command (nil = the source said
    /// nothing this tick; the last target is held until the heartbeat runs out).
    public func step(command: Command?, inputs: TickInputs) -> SafeCommand {
        ticks += 1
        let now = inputs.now
        var causes: Faults = writeFault
        switch inputs.eStop {
        case .level(let pressed): if pressed { causes.insert(.eStop) }
        case .failed: causes.insert([.eStop, .eStopUnreadable])
        }
        if consoleEStop { causes.insert(.eStop) }
        if inputs.cameraFailure != nil { causes.insert(.cameraLost) }
        if inputs.teleopLinkLost { causes.insert(.teleopLinkLost) }
        if inputs.modelOutputInvalid { causes.insert(.modelOutputInvalid) }
        slowed = false
        if inputs.modelSurprised {
            surprisedTicks += 1
            respond(config.surpriseResponse, cause: .modelSurprised, into: &causes)
        }
        if inputs.plannerStarved {
            starvedTicks += 1
            respond(config.starvationResponse, cause: .plannerStarved, into: &causes)
        }
        if let t = inputs.frameTimestamp, now - t <= config.maxFrameAge {} else { causes.insert(.staleFrame) }
        if inputs.consecutiveOverruns >= config.maxConsecutiveOverruns { causes.insert(.loopWatchdog) }
        if let last = lastTick, now - last > config.stallTimeout { causes.insert(.loopWatchdog) }
        lastTick = now

        var accepted: Command?
        if let c = command {
            if let why = check(c, now: now) {
                lastRejection = why
                rejectedCommands += 1
            } else {
                accepted = c
                lastCommandTime = c.issuedAt
            }
        }
        if let t = lastCommandTime, now - t <= config.heartbeatTimeout {} else { causes.insert(.heartbeatLost) }
        activeCauses = causes

        latch(causes.intersection(armed ? Faults.latchAlways.union(Faults.latchWhileArmed) : Faults.latchAlways))
        guard armed else { return lastOutput }
        if command != nil && accepted == nil {
            neutralize()
            return lastOutput
        }
        if let c = accepted { target = c.efforts }
        return applyLimits()
    }

    private func check(_ c: Command, now: Instant) -> CommandRejection? {
        if c.efforts.count != channelCount { return .wrongChannelCount(got: c.efforts.count, expected: channelCount) }
        if c.issuedAt > now { return .issuedInTheFuture }
        for i in 0..<channelCount {
            let e = c.efforts[i]
            if !e.isFinite { return .notFinite(channel: i) }
            if e < -1 || e > 1 { return .outOfRange(channel: i) }
        }
        return nil
    }

    private func latch(_ faults: Faults) {
        let fresh = faults.subtracting(latchedFaults)
        guard !faults.isEmpty else { return }
        if !fresh.isEmpty { faultEvents += 1 }
        latchedFaults.formUnion(faults)
        armed = false
        neutralize()
    }

    /// Every output to neutral now (stopping is never rate-limited), and the window forgets the past.
    private func neutralize() {
        for i in 0..<channelCount {
            target[i] = 0
            current[i] = 0
        }
        for j in history.indices { history[j] = 0 }
        lastOutput = neutralCommand
    }

    /// Absolute, then slew, then window limits. Each is an interval that contains the previous
    /// output, so a later clamp never undoes an earlier one.
    private func applyLimits() -> SafeCommand {
        var efforts = ChannelVector(count: channelCount)
        var pulses = ChannelVector(count: channelCount)
        let slot = historyHead
        historyHead = (historyHead + 1) % windowTicks
        for i in 0..<channelCount {
            let limits = config.channels[i]
            let previous = current[i]
            let wanted = slowed ? target[i] * config.slowFactor : target[i]
            var e = min(max(wanted, limits.minEffort), limits.maxEffort)
            e = min(max(e, previous - slewPerTick[i]), previous + slewPerTick[i])
            var lo = previous, hi = previous
            let base = i * windowTicks
            for k in 0..<windowTicks {
                lo = min(lo, history[base + k])
                hi = max(hi, history[base + k])
            }
            e = min(max(e, hi - config.maxWindowChange), lo + config.maxWindowChange)
            history[base + slot] = e
            current[i] = e
            efforts[i] = e
            pulses[i] = limits.calibration.pulse(forEffort: e)
        }
        lastOutput = SafeCommand(efforts: efforts, pulseMicros: pulses)
        return lastOutput
    }
}
