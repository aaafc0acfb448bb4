import RobotCore
import Testing
@testable import Safety

/// Each check of the configuration at its boundary: the last value it takes and the first it refuses
/// (what mutation testing moves across).
@Suite("Safety configuration boundaries")
struct BoundaryTests {
    typealias Change = @Sendable (inout SafetyConfig) -> Void

    static let cases: [(String, Change, Change)] = [
        ("min_effort", { $0.channels[0].minEffort = -1 }, { $0.channels[0].minEffort = -1.001 }),
        ("min_effort", { $0.channels[0].minEffort = 0 }, { $0.channels[0].minEffort = 0.001 }),
        ("max_effort", { $0.channels[0].maxEffort = 1 }, { $0.channels[0].maxEffort = 1.001 }),
        ("max_effort", { $0.channels[0].maxEffort = 0 }, { $0.channels[0].maxEffort = -0.001 }),
        ("slew_per_s", { $0.channels[0].maxSlewPerSecond = 0.001 }, { $0.channels[0].maxSlewPerSecond = 0 }),
        ("slew_per_s", { $0.channels[0].maxSlewPerSecond = 1e9 }, { $0.channels[0].maxSlewPerSecond = .infinity }),
        ("slow_factor", { $0.slowFactor = 0 }, { $0.slowFactor = -0.001 }),
        ("slow_factor", { $0.slowFactor = 1 }, { $0.slowFactor = 1.001 }),
        ("window", { $0.window = $0.tickPeriod }, { $0.window = $0.tickPeriod - .nanoseconds(1) }),
        ("max_window_change", { $0.maxWindowChange = 0.001 }, { $0.maxWindowChange = 0 }),
        ("max_window_change", { $0.maxWindowChange = 1e9 }, { $0.maxWindowChange = .infinity }),
        ("max_frame_age", { $0.maxFrameAge = .nanoseconds(1) }, { $0.maxFrameAge = .zero }),
        ("max_consecutive_overruns", { $0.maxConsecutiveOverruns = 1 }, { $0.maxConsecutiveOverruns = 0 }),
        ("stall_timeout", { $0.stallTimeout = $0.tickPeriod + .nanoseconds(1) }, { $0.stallTimeout = $0.tickPeriod }),
        ("heartbeat_timeout", { $0.heartbeatTimeout = .nanoseconds(1) }, { $0.heartbeatTimeout = .zero }),
        (
            "tick period",
            {
                $0.tickPeriod = .nanoseconds(1); $0.window = .nanoseconds(1)
            }, { $0.tickPeriod = .zero }
        ),
        (
            "channels", { $0.channels = Array(repeating: $0.channels[0], count: RobotCore.maxChannels) },
            { $0.channels = Array(repeating: $0.channels[0], count: RobotCore.maxChannels + 1) }
        ),
    ]

    @Test("each limit takes its boundary and refuses one step past it, naming the field", arguments: 0..<cases.count)
    func configBoundary(index: Int) {
        let (field, valid, invalid) = Self.cases[index]
        var ok = makeConfig()
        valid(&ok)
        #expect(ok.problems().isEmpty, "\(field) at its boundary: \(ok.problems())")
        var bad = makeConfig()
        invalid(&bad)
        #expect(bad.problems().contains { $0.contains(field) }, "\(field) past its boundary: \(bad.problems())")
    }

    @Test("a calibration's numbers at their boundaries; the deadband must fit the smaller side of neutral")
    func calibrationBoundaries() {
        func problems(_ lo: Double, _ mid: Double, _ hi: Double, deadband: Double = 0) -> [String] {
            PulseCalibration(minMicros: lo, neutralMicros: mid, maxMicros: hi, deadbandMicros: deadband).problems()
        }
        #expect(problems(400, 1500, 2600).isEmpty)
        #expect(problems(399.9, 1500, 2600).contains { $0.hasPrefix("min_us") })
        #expect(problems(400, 1500, 2600.1).contains { $0.hasPrefix("max_us") })
        #expect(problems(1000, .infinity, 2000).contains { $0.hasPrefix("neutral_us") })
        #expect(problems(1500, 1500, 2000).contains { $0.contains("min_us < neutral_us") })
        #expect(problems(1000, 2000, 2000).contains { $0.contains("min_us < neutral_us") })
        // Asymmetric: 400 µs below neutral, 600 above; the deadband must stay under 400.
        #expect(problems(1000, 1400, 2000, deadband: 0).isEmpty)
        #expect(problems(1000, 1400, 2000, deadband: 399).isEmpty)
        #expect(problems(1000, 1400, 2000, deadband: 400).contains { $0.hasPrefix("deadband_us") })
        #expect(problems(1000, 1600, 2000, deadband: 400).contains { $0.hasPrefix("deadband_us") })
        #expect(problems(1000, 1400, 2000, deadband: -0.001).contains { $0.hasPrefix("deadband_us") })
    }

    @Test("what a caller leaves out is the quiet, stopping default")
    func defaults() {
        let inputs = TickInputs(now: .zero, eStop: .level(false), frameTimestamp: nil)
        #expect(inputs.cameraFailure == nil && inputs.consecutiveOverruns == 0)
        #expect(!inputs.teleopLinkLost && !inputs.modelSurprised && !inputs.plannerStarved && !inputs.modelOutputInvalid)
        let c = SafetyConfig(
            channels: makeConfig().channels, tickPeriod: .milliseconds(100), maxWindowChange: 1,
            maxFrameAge: .milliseconds(150), maxConsecutiveOverruns: 3, stallTimeout: .milliseconds(500),
            heartbeatTimeout: .milliseconds(250))
        #expect(c.window == .milliseconds(250) && c.slowFactor == 0.3)
        #expect(c.surpriseResponse == .stop && c.starvationResponse == .stop)
        let p = PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000)
        #expect(!p.reversed && p.deadbandMicros == 0)
        let l = ChannelLimits(name: "x", maxSlewPerSecond: 1, calibration: p)
        #expect(l.minEffort == -1 && l.maxEffort == 1)
    }
}

/// Rules found untested by mutation testing.
@Suite("Safety governor: what mutation testing asked for")
struct MutationFoundTests {
    @Test("a window one period long bounds each tick's change, not two ticks'")
    func oneTickWindow() throws {
        var h = try Harness(makeConfig(window: .milliseconds(100), maxWindowChange: 0.3))
        _ = h.arm()
        // steer slews 0.4 per tick; a one-tick window lets 0.3 through each tick.
        let outs = (0..<4).map { _ in h.tick([1, 0, 0]).efforts[0] }
        #expect(zip(outs, [0.3, 0.6, 0.9, 1.0]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(outs)")
    }

    @Test("a write that succeeds again makes the actuator fault clearable at once")
    func goodWriteClearsTheCause() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.3, 0, 0])
        h.governor.recordWrite(.io(errno: .ioError))
        h.tick([0.3, 0, 0])
        h.governor.recordWrite(nil)
        #expect(h.governor.clearFaults() == .cleared)
    }

    @Test("a failed write is a present cause at once: a reset before the next tick cannot clear it")
    func failedWriteIsPresentAtOnce() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.3, 0, 0])
        h.governor.recordWrite(.io(errno: .ioError))
        #expect(h.governor.clearFaults() == .stillActive(.actuatorFailure))
        h.governor.recordWrite(.cutBySupervisor)
        #expect(h.governor.clearFaults() == .stillActive([.actuatorFailure, .outputsCut]))
    }

    @Test("after a fault and a new arm, a tick with no command holds neutral: the old command does not come back")
    func noStaleTargetAfterAFault() throws {
        var h = try Harness()
        _ = h.arm()
        for _ in 0..<5 { h.tick([0.8, 0, 0]) }
        #expect(h.governor.lastOutput.efforts[0] > 0.5)
        h.eStop = .level(true)
        h.tick([0.8, 0, 0])
        h.eStop = .level(false)
        h.tick(nil)
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.governor.requestArm() == .armed)
        for _ in 0..<3 { #expect(h.tick(nil).isNeutral) }
    }

    @Test("frame age, tick gap and command age at their limits pass; a nanosecond more is a fault")
    func timingBoundaries() throws {
        var h = try Harness()
        _ = h.arm()
        h.frameAge = .milliseconds(150)  // max_frame_age
        h.tick([0, 0, 0])
        #expect(!h.governor.activeCauses.contains(.staleFrame))
        h.frameAge = .milliseconds(150) + .nanoseconds(1)
        h.tick([0, 0, 0])
        #expect(h.governor.activeCauses.contains(.staleFrame))

        var s = try Harness()
        _ = s.arm()
        s.tick([0, 0, 0], after: .milliseconds(500))  // stall_timeout
        #expect(!s.governor.activeCauses.contains(.loopWatchdog) && s.governor.state == .armed)
        s.tick([0, 0, 0], after: .milliseconds(500) + .nanoseconds(1))
        #expect(s.governor.latchedFaults.contains(.loopWatchdog))

        var b = try Harness()
        _ = b.arm()
        b.tick([0, 0, 0])
        b.tick(nil, after: .milliseconds(250))  // heartbeat_timeout since the last command
        #expect(!b.governor.activeCauses.contains(.heartbeatLost) && b.governor.state == .armed)
        b.tick(nil, after: .nanoseconds(1))
        #expect(b.governor.latchedFaults.contains(.heartbeatLost))
    }

    @Test("an even-length window still uses every slot: a steady push climbs to full effort")
    func evenWindow() throws {
        var h = try Harness(makeConfig(window: .milliseconds(200), maxWindowChange: 0.3))
        _ = h.arm()
        var last = 0.0
        for _ in 0..<12 { last = h.tick([1, 0, 0]).efforts[0] }
        #expect(abs(last - 1) < 1e-9, "\(last)")
    }

    @Test("a new governor has counted nothing and slows nothing; each step is one tick")
    func freshCounters() throws {
        var h = try Harness()
        #expect(h.governor.ticks == 0 && !h.governor.slowed && h.governor.faultEvents == 0 && h.governor.rejectedCommands == 0)
        #expect(h.governor.surprisedTicks == 0 && h.governor.starvedTicks == 0 && h.governor.latchedFaults.isEmpty)
        for _ in 0..<3 { h.tick([0, 0, 0]) }
        #expect(h.governor.ticks == 3)
    }

    @Test("the slow factor given is the one used")
    func slowFactorIsKept() throws {
        var c = makeConfig()
        c = SafetyConfig(
            channels: c.channels, tickPeriod: c.tickPeriod, window: c.window, maxWindowChange: c.maxWindowChange,
            maxFrameAge: c.maxFrameAge, maxConsecutiveOverruns: c.maxConsecutiveOverruns, stallTimeout: c.stallTimeout,
            heartbeatTimeout: c.heartbeatTimeout, surpriseResponse: .slow, slowFactor: 0.5, starvationResponse: .report)
        #expect(c.slowFactor == 0.5 && c.surpriseResponse == .slow && c.starvationResponse == .report)
    }
}
