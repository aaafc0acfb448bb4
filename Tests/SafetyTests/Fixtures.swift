import RobotCore
@testable import Safety

/// A 10 Hz governor with three channels of different limits.
func makeConfig(window: Duration = .milliseconds(300), maxWindowChange: Double = 1.0) -> SafetyConfig {
    SafetyConfig(
        channels: [
            ChannelLimits(
                name: "steer", minEffort: -1, maxEffort: 1, maxSlewPerSecond: 4,
                calibration: PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000)),
            ChannelLimits(
                name: "throttle", minEffort: -0.5, maxEffort: 0.8, maxSlewPerSecond: 2,
                calibration: PulseCalibration(minMicros: 1100, neutralMicros: 1520, maxMicros: 1900, reversed: true, deadbandMicros: 20)),
            ChannelLimits(
                name: "pan", minEffort: 0, maxEffort: 0.3, maxSlewPerSecond: 100,
                calibration: PulseCalibration(minMicros: 600, neutralMicros: 1400, maxMicros: 2400)),
        ],
        tickPeriod: .milliseconds(100), window: window, maxWindowChange: maxWindowChange,
        maxFrameAge: .milliseconds(150), maxConsecutiveOverruns: 3,
        stallTimeout: .milliseconds(500), heartbeatTimeout: .milliseconds(250))
}

/// Drives a governor tick by tick on a simulated 10 Hz clock with healthy inputs by default.
struct Harness {
    let governor: SafetyGovernor
    var now = Instant(nanoseconds: 10_000_000_000)
    var eStop = InputReading.level(false)
    var frameAge: Duration? = .milliseconds(20)
    var cameraFailure: DeviceFailure?
    var overruns = 0
    var teleopLinkLost = false
    var modelSurprised = false
    var plannerStarved = false
    var modelOutputInvalid = false

    init(_ config: SafetyConfig = makeConfig()) throws { governor = try SafetyGovernor(config: config) }

    var inputs: TickInputs {
        TickInputs(
            now: now, eStop: eStop, frameTimestamp: frameAge.map { now - $0 },
            cameraFailure: cameraFailure, consecutiveOverruns: overruns, teleopLinkLost: teleopLinkLost,
            modelSurprised: modelSurprised, plannerStarved: plannerStarved,
            modelOutputInvalid: modelOutputInvalid)
    }

    func command(_ efforts: [Double], issued: Instant? = nil) -> Command {
        Command(efforts: ChannelVector(efforts), issuedAt: issued ?? now, origin: .autonomy)
    }

    /// Advances one period and steps with `efforts` (nil = no command this tick).
    @discardableResult
    mutating func tick(_ efforts: [Double]?, after gap: Duration = .milliseconds(100)) -> SafeCommand {
        now += gap
        return governor.step(command: efforts.map { command($0) }, inputs: inputs)
    }

    /// One healthy tick, then arm; returns the arm result.
    mutating func arm() -> ArmResult {
        tick([0, 0, 0])
        return governor.requestArm()
    }
}
