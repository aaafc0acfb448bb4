import RobotCore
import Testing
@testable import Safety

@Suite("Safety governor rules")
struct GovernorRuleTests {
    @Test("starts disarmed with every output at neutral pulse widths")
    func defaultDeny() throws {
        var h = try Harness()
        #expect(h.governor.state == .disarmed)
        #expect(h.governor.lastOutput.isNeutral)
        let out = h.tick([1, 0.5, 0.3])
        #expect(out.isNeutral)
        #expect(out.pulseMicros.array == [1500, 1520, 1400])
        #expect(h.governor.state == .disarmed)
    }

    @Test("an invalid configuration makes no governor; the error lists every problem")
    func invalidConfig() throws {
        var c = makeConfig()
        c.channels[0].maxEffort = 2
        c.heartbeatTimeout = .zero
        #expect(throws: InvalidSafetyConfig.self) { try SafetyGovernor(config: c) }
        do {
            _ = try SafetyGovernor(config: c)
        } catch {
            #expect(error.problems.count == 2)
            #expect(error.description.contains("steer.max_effort") && error.description.contains("heartbeat_timeout"))
        }
    }

    @Test("the neutral command holds every channel at its calibrated neutral pulse")
    func neutralCommand() throws {
        let h = try Harness()
        let n = h.governor.neutral
        #expect(n.isNeutral)
        #expect(n.efforts.count == 3 && h.governor.channelCount == 3)
        #expect(n.pulseMicros.array == [1500, 1520, 1400])
    }

    @Test("arming before any tick is refused: nothing is known yet")
    func armBeforeTick() throws {
        let h = try Harness()
        guard case .refused(let latched, let notReady) = h.governor.requestArm() else { Issue.record("armed blind"); return }
        #expect(latched.isEmpty)
        #expect(notReady.contains([.eStop, .staleFrame, .heartbeatLost]))
        #expect(h.governor.state == .disarmed)
    }

    @Test("arms when every pre-arm check passes, then commands pass")
    func armAndPass() throws {
        var h = try Harness()
        #expect(h.arm() == .armed)
        #expect(h.governor.state == .armed)
        let out = h.tick([0.2, 0.1, 0.05])
        #expect(abs(out.efforts[0] - 0.2) < 1e-12)
        #expect(abs(out.efforts[1] - 0.1) < 1e-12)
        #expect(abs(out.efforts[2] - 0.05) < 1e-12)
    }

    @Test(
        "a refused arm names the failing check",
        arguments: [
            ("e-stop", Faults.eStop), ("stale camera frame", Faults.staleFrame), ("camera lost", Faults.cameraLost),
            ("loop watchdog", Faults.loopWatchdog), ("command heartbeat lost", Faults.heartbeatLost),
            ("teleop link lost", Faults.teleopLinkLost),
        ])
    func refusedArmNamesCheck(name: String, fault: Faults) throws {
        var h = try Harness()
        switch fault {
        case .eStop: h.eStop = .level(true)
        case .staleFrame: h.frameAge = .milliseconds(400)
        case .cameraLost: h.cameraFailure = .lost
        case .loopWatchdog: h.overruns = 3
        case .teleopLinkLost: h.teleopLinkLost = true
        default: break
        }
        h.tick(fault == .heartbeatLost ? nil : [0, 0, 0])
        let result = h.governor.requestArm()
        guard case .refused(_, let notReady) = result else { Issue.record("armed with \(name)"); return }
        #expect(notReady.contains(fault))
        #expect(result.description.contains(name))
        #expect(h.governor.state != .armed)
    }

    @Test("a lost teleop link while armed latches, neutralizes, and clears once the link is back")
    func teleopLinkLostLatches() throws {
        var h = try Harness()
        #expect(h.arm() == .armed)
        _ = h.tick([0.2, 0.1, 0.05])
        h.teleopLinkLost = true
        let out = h.tick([0.2, 0.1, 0.05])
        #expect(out.isNeutral)
        #expect(h.governor.latchedFaults == .teleopLinkLost)
        #expect(h.governor.clearFaults() == .stillActive(.teleopLinkLost))
        h.teleopLinkLost = false
        _ = h.tick([0, 0, 0])
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.arm() == .armed)
    }

    @Test("absolute limits clamp each channel to its effort range")
    func absoluteLimits() throws {
        var h = try Harness()
        _ = h.arm()
        var out = h.governor.lastOutput
        for _ in 0..<30 { out = h.tick([1, 1, 1]) }
        #expect(out.efforts.array == [1, 0.8, 0.3])
        for _ in 0..<30 { out = h.tick([-1, -1, -1]) }
        #expect(out.efforts.array == [-1, -0.5, 0])
    }

    @Test("slew rate limits each step to rate × period, up and down")
    func slewRate() throws {
        var h = try Harness(makeConfig(maxWindowChange: 2))
        _ = h.arm()
        let up = (1...3).map { _ in h.tick([1, 0, 0]).efforts[0] }
        #expect(zip(up, [0.4, 0.8, 1.0]).allSatisfy { abs($0 - $1) < 1e-12 })
        let down = (1...2).map { _ in h.tick([0, 0, 0]).efforts[0] }
        #expect(zip(down, [0.6, 0.2]).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test("the real-time window bounds the change over 300 ms even when slew allows more")
    func windowLimit() throws {
        var h = try Harness(makeConfig(window: .milliseconds(300), maxWindowChange: 0.5))
        _ = h.arm()
        // pan slews 10/tick; the window holds its change to 0.5 effort over 3 ticks.
        var outs: [Double] = []
        for _ in 0..<8 { outs.append(h.tick([0, 0, 0.3]).efforts[2]) }
        #expect(outs.allSatisfy { $0 <= 0.3 })
        // steer: alternate ±1 with slew 0.4/tick; over any 3 ticks the spread stays ≤ 0.5.
        var steer: [Double] = []
        for k in 0..<12 { steer.append(h.tick([k % 2 == 0 ? 1 : -1, 0, 0]).efforts[0]) }
        for i in steer.indices {
            for j in i..<min(steer.count, i + 4) { #expect(abs(steer[i] - steer[j]) <= 0.5 + 1e-12) }
        }
        // A steady push keeps climbing: the limit is on change per window, not on level.
        var last = 0.0
        for _ in 0..<12 { last = h.tick([1, 0, 0]).efforts[0] }
        #expect(abs(last - 1) < 1e-12)
    }

    @Test(
        "non-finite, out-of-range, wrong-size and future commands are rejected: neutral that tick",
        arguments: [
            ([Double.nan, 0, 0], CommandRejection.notFinite(channel: 0)),
            ([0, Double.infinity, 0], .notFinite(channel: 1)),
            ([0, 0, 1.0001], .outOfRange(channel: 2)),
            ([-1.5, 0, 0], .outOfRange(channel: 0)),
            ([0.1, 0.1], .wrongChannelCount(got: 2, expected: 3)),
        ])
    func rejection(efforts: [Double], why: CommandRejection) throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.3, 0.3, 0.3])
        let out = h.tick(efforts)
        #expect(out.isNeutral)
        #expect(h.governor.lastRejection == why)
        #expect(h.governor.rejectedCommands == 1)
        #expect(h.governor.state == .armed, "a rejected command is not a latched fault")
        #expect(!why.description.isEmpty)
    }

    @Test("a command stamped in the future is rejected")
    func futureCommand() throws {
        var h = try Harness()
        _ = h.arm()
        h.now += .milliseconds(100)
        let c = h.command([0.2, 0, 0], issued: h.now + .milliseconds(1))
        let out = h.governor.step(command: c, inputs: h.inputs)
        #expect(out.isNeutral)
        #expect(h.governor.lastRejection == .issuedInTheFuture)
        #expect(CommandRejection.issuedInTheFuture.description.contains("future"))
    }

    @Test("no command this tick holds the last target until the heartbeat runs out")
    func holdThenHeartbeat() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.2, 0, 0])
        #expect(abs(h.tick(nil).efforts[0] - 0.2) < 1e-12)
        #expect(abs(h.tick(nil).efforts[0] - 0.2) < 1e-12)
        let out = h.tick(nil)  // 300 ms since the last command > 250 ms
        #expect(out.isNeutral)
        #expect(h.governor.latchedFaults == .heartbeatLost)
        #expect(h.governor.state == .faulted)
    }

    @Test("e-stop latches: neutral the same tick, held after release until reset and re-arm")
    func eStopLatch() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.4, 0.4, 0.3])
        h.eStop = .level(true)
        #expect(h.tick([0.4, 0.4, 0.3]).isNeutral)
        #expect(h.governor.state == .faulted)
        #expect(h.governor.clearFaults() == .stillActive(.eStop))
        h.eStop = .level(false)
        #expect(h.tick([0.4, 0.4, 0.3]).isNeutral, "released but still latched")
        #expect(h.governor.requestArm() == .refused(latched: .eStop, notReady: []))
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.governor.state == .disarmed)
        #expect(h.tick([0.4, 0.4, 0.3]).isNeutral, "cleared but not re-armed")
        #expect(h.governor.requestArm() == .armed)
        #expect(!h.tick([0.4, 0.4, 0.3]).isNeutral)
        #expect(h.governor.faultEvents == 1)
    }

    @Test("e-stop latches while disarmed too")
    func eStopWhileDisarmed() throws {
        var h = try Harness()
        h.eStop = .level(true)
        h.tick([0, 0, 0])
        #expect(h.governor.latchedFaults == .eStop)
    }

    @Test("an unreadable e-stop counts as pressed")
    func eStopUnreadable() throws {
        var h = try Harness()
        _ = h.arm()
        h.eStop = .failed(.io(errno: .ioError))
        #expect(h.tick([0.3, 0, 0]).isNeutral)
        #expect(h.governor.latchedFaults == [.eStop, .eStopUnreadable])
    }

    @Test("camera failure latches camera-lost")
    func cameraLost() throws {
        var h = try Harness()
        _ = h.arm()
        h.cameraFailure = .lost
        #expect(h.tick([0.3, 0, 0]).isNeutral)
        #expect(h.governor.latchedFaults == .cameraLost)
    }

    @Test("a stale frame latches while armed, is only a pre-arm check while disarmed")
    func staleFrame() throws {
        var h = try Harness()
        h.frameAge = nil
        h.tick([0, 0, 0])
        #expect(h.governor.latchedFaults.isEmpty)
        h.frameAge = .milliseconds(20)
        _ = h.arm()
        h.frameAge = .milliseconds(151)
        #expect(h.tick([0.3, 0, 0]).isNeutral)
        #expect(h.governor.latchedFaults == .staleFrame)
    }

    @Test("the loop watchdog trips on consecutive overruns and on a stalled tick")
    func loopWatchdog() throws {
        var h = try Harness()
        _ = h.arm()
        h.overruns = 2
        #expect(!h.tick([0.3, 0, 0]).isNeutral)
        h.overruns = 3
        #expect(h.tick([0.3, 0, 0]).isNeutral)
        #expect(h.governor.latchedFaults == .loopWatchdog)

        var s = try Harness()
        _ = s.arm()
        s.tick([0.3, 0, 0])
        // The command is fresh but the tick came 600 ms after the last one.
        #expect(s.tick([0.3, 0, 0], after: .milliseconds(600)).isNeutral)
        #expect(s.governor.latchedFaults == .loopWatchdog)
        // The stall is an event: by the next tick its cause is gone and it can be cleared.
        s.tick([0, 0, 0])
        #expect(s.governor.clearFaults() == .cleared)
    }

    @Test("a failed actuator write latches and returns neutral; a good write clears the cause")
    func actuatorFailure() throws {
        var h = try Harness()
        _ = h.arm()
        #expect(!h.tick([0.3, 0, 0]).isNeutral)
        let neutral = h.governor.recordWrite(.io(errno: .remoteIO))
        #expect(neutral.isNeutral)
        #expect(h.governor.state == .faulted)
        #expect(h.governor.latchedFaults == .actuatorFailure)
        h.tick([0.3, 0, 0])
        #expect(h.governor.clearFaults() == .stillActive(.actuatorFailure))
        #expect(h.governor.recordWrite(nil).isNeutral)
        h.tick([0.3, 0, 0])
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.governor.requestArm() == .armed)
    }

    @Test("a write the output supervisor refused latches \"outputs cut\", not an actuator fault, and stays while writes are refused")
    func outputsCut() throws {
        var h = try Harness()
        _ = h.arm()
        #expect(!h.tick([0.3, 0, 0]).isNeutral)
        #expect(h.governor.recordWrite(.cutBySupervisor).isNeutral)
        #expect(h.governor.state == .faulted)
        #expect(h.governor.latchedFaults == .outputsCut)
        #expect(h.governor.latchedFaults.description == "outputs cut by the supervisor")
        h.tick([0.3, 0, 0])
        h.governor.recordWrite(.cutBySupervisor)
        #expect(h.governor.clearFaults() == .stillActive(.outputsCut))
        #expect(h.governor.requestArm() != .armed)
        // It latches disarmed too: a hardware fact.
        h.governor.disarm()
        h.tick([0, 0, 0])
        #expect(h.governor.latchedFaults == .outputsCut)
    }

    @Test("the console e-stop latches like the input and is cleared only after release")
    func consoleEStop() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.3, 0, 0])
        h.governor.consoleEStopPressed()
        #expect(h.governor.lastOutput.isNeutral)
        #expect(h.governor.state == .faulted)
        h.tick([0.3, 0, 0])
        #expect(h.governor.clearFaults() == .stillActive(.eStop))
        h.governor.releaseConsoleEStop()
        h.tick([0, 0, 0])
        #expect(h.governor.clearFaults() == .cleared)
    }

    @Test("disarm puts every output at neutral at once, faults stay latched")
    func disarm() throws {
        var h = try Harness()
        _ = h.arm()
        h.tick([0.4, 0, 0])
        h.governor.disarm()
        #expect(h.governor.lastOutput.isNeutral)
        #expect(h.governor.state == .disarmed)
        #expect(h.tick([0.4, 0, 0]).isNeutral)
    }

    @Test("after a fault the ramp restarts from neutral")
    func rampAfterFault() throws {
        var h = try Harness(makeConfig(maxWindowChange: 2))
        _ = h.arm()
        for _ in 0..<5 { h.tick([1, 0, 0]) }
        h.eStop = .level(true)
        h.tick([1, 0, 0])
        h.eStop = .level(false)
        h.tick([0, 0, 0])
        _ = h.governor.clearFaults()
        #expect(h.governor.requestArm() == .armed)
        #expect(abs(h.tick([1, 0, 0]).efforts[0] - 0.4) < 1e-12)
    }
}

@Suite("Pulse calibration and configuration checks")
struct CalibrationTests {
    @Test("effort maps to pulses through neutral, deadband and direction")
    func mapping() throws {
        let c = PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000, deadbandMicros: 20)
        #expect(c.pulse(forEffort: 0) == 1500)
        #expect(c.pulse(forEffort: 1) == 2000)
        #expect(c.pulse(forEffort: -1) == 1000)
        #expect(c.pulse(forEffort: 0.5) == 1520 + 0.5 * 480)
        #expect(c.pulse(forEffort: -0.5) == 1480 - 0.5 * 480)
        #expect(c.pulse(forEffort: 1e-9) > 1520)
        var r = c
        r.reversed = true
        #expect(r.pulse(forEffort: 1) == 1000)
        #expect(r.pulse(forEffort: -1) == 2000)
    }

    @Test("bad calibrations are reported with the field")
    func calibrationProblems() throws {
        #expect(PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000).problems().isEmpty)
        #expect(
            PulseCalibration(minMicros: 1600, neutralMicros: 1500, maxMicros: 2000).problems().contains {
                $0.contains("min_us < neutral_us")
            })
        #expect(PulseCalibration(minMicros: 100, neutralMicros: 1500, maxMicros: 2000).problems().contains { $0.hasPrefix("min_us") })
        #expect(PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: .nan).problems().contains { $0.hasPrefix("max_us") })
        #expect(
            PulseCalibration(minMicros: 1000, neutralMicros: 1500, maxMicros: 2000, deadbandMicros: 600).problems().contains {
                $0.hasPrefix("deadband_us")
            })
    }

    @Test("bad safety configurations are reported")
    func configProblems() throws {
        #expect(makeConfig().problems().isEmpty)
        var c = makeConfig()
        c.channels[0].minEffort = 0.1
        c.channels[1].maxEffort = 1.5
        c.channels[2].maxSlewPerSecond = 0
        c.channels[2].calibration.minMicros = 3000
        c.tickPeriod = .zero
        c.maxWindowChange = -1
        c.maxFrameAge = .zero
        c.maxConsecutiveOverruns = 0
        c.heartbeatTimeout = .zero
        let p = c.problems()
        for field in [
            "steer.min_effort", "throttle.max_effort", "pan.slew_per_s", "pan: min_us", "tick period",
            "max_window_change", "max_frame_age", "max_consecutive_overruns", "heartbeat_timeout",
        ] {
            #expect(p.contains { $0.contains(field) }, "missing \(field) in \(p)")
        }
        var w = makeConfig()
        w.window = .milliseconds(50)
        w.stallTimeout = .milliseconds(100)
        #expect(w.problems().count == 2)
        w.channels = []
        #expect(w.problems().contains { $0.hasPrefix("channels") })
    }

    @Test("fault and arm descriptions name every cause")
    func descriptions() throws {
        #expect(Faults([]).description == "none")
        #expect(Faults([.eStop, .heartbeatLost]).description == "e-stop, command heartbeat lost")
        for (f, name) in Faults.all { #expect(f.description == name) }
        #expect(ArmResult.armed.description == "armed")
        let r = ArmResult.refused(latched: .eStop, notReady: .staleFrame).description
        #expect(r.contains("latched fault(s): e-stop") && r.contains("pre-arm check failed: stale camera frame"))
        #expect(CommandRejection.wrongChannelCount(got: 1, expected: 2).description.contains("1 channels"))
    }
}
