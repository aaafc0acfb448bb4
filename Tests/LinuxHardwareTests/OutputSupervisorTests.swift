import CAllocationCounter
import Foundation
import Glibc
import RobotCore
import Simulation
import Testing
@testable import LinuxHardware
@testable import Safety

/// Every channel's LEDn_OFF_H has the full-OFF bit (the ALL_LED registers read back 0 on the chip).
func allFullOff(_ chip: PCA9685Model) -> Bool {
    (0..<16).allSatisfy { chip.registers[0x06 + 4 * $0 + 3] & 0x10 != 0 }
}

/// A chip with every channel pulsing (the state a running controller leaves).
func pulsingChip() -> PCA9685Model {
    let chip = PCA9685Model()
    for ch in 0..<16 {
        _ = chip.writeByte(register: UInt8(0x06 + 4 * ch + 2), value: 0x33)
        _ = chip.writeByte(register: UInt8(0x06 + 4 * ch + 3), value: 0x01)
    }
    _ = chip.writeByte(register: 0xFD, value: 0)
    return chip
}

@Suite struct OutputSupervisorTests {
    let t0 = Instant(nanoseconds: 1_000_000_000)

    @Test("a stall while the outputs are enabled cuts them: OE released, all 16 channels full-OFF, latched")
    func stallCuts() {
        let chip = pulsingChip()
        let oe = RecordingOutput()
        let s = OutputSupervisor(device: chip, outputEnable: oe, stall: .milliseconds(100))
        #expect(s.receive(SupervisorMessage.enable, now: t0) == SupervisorMessage.enabled)
        #expect(oe.level == true)
        // No tick yet (the controller is still warming up): nothing is watched.
        #expect(s.deadline == nil)
        #expect(!s.checkStall(now: t0 + .seconds(10)))
        #expect(s.receive(SupervisorMessage.tick, now: t0 + .seconds(10)) == nil)
        #expect(s.deadline == t0 + .seconds(10) + .milliseconds(100))
        #expect(!s.checkStall(now: t0 + .seconds(10) + .milliseconds(100)))
        #expect(!allFullOff(chip))
        #expect(s.checkStall(now: t0 + .seconds(10) + .milliseconds(101)))
        #expect(oe.level == false)
        #expect(allFullOff(chip))
        #expect(s.cutReason?.contains("no control-loop tick for 101 ms") == true)
        // Latched: the controller cannot enable the outputs again, and nothing more is watched.
        #expect(s.receive(SupervisorMessage.enable, now: t0 + .seconds(11)) == SupervisorMessage.cut)
        #expect(oe.level == false)
        #expect(s.deadline == nil)
    }

    @Test("disabled outputs are not watched; a tick restarts the watch each time")
    func disabledIsNotWatched() {
        let chip = pulsingChip()
        let s = OutputSupervisor(device: chip, outputEnable: RecordingOutput(), stall: .milliseconds(100))
        _ = s.receive(SupervisorMessage.enable, now: t0)
        for k in 1...50 { _ = s.receive(SupervisorMessage.tick, now: t0 + .milliseconds(Int64(90 * k))) }
        #expect(!s.checkStall(now: t0 + .milliseconds(90 * 50 + 99)))
        _ = s.receive(SupervisorMessage.disable, now: t0 + .seconds(5))
        #expect(!s.checkStall(now: t0 + .seconds(500)))
        #expect(s.cutReason == nil)
    }

    @Test("the controller gone: with the outputs enabled a cut, without them a quiet full-OFF")
    func controllerGone() {
        let chip = pulsingChip()
        let s = OutputSupervisor(device: chip, outputEnable: RecordingOutput(), stall: .milliseconds(100))
        _ = s.receive(SupervisorMessage.enable, now: t0)
        s.controllerGone()
        #expect(s.cutReason == "the controller died with the outputs enabled")
        #expect(allFullOff(chip))

        let quiet = pulsingChip()
        let q = OutputSupervisor(device: quiet, outputEnable: RecordingOutput(), stall: .milliseconds(100))
        q.controllerGone()
        #expect(q.cutReason == nil)
        #expect(allFullOff(quiet))
    }

    @Test("a byte that is no message, or an OE line that fails, cuts the outputs")
    func badInputCuts() {
        let chip = pulsingChip()
        let s = OutputSupervisor(device: chip, outputEnable: RecordingOutput(), stall: .milliseconds(100))
        #expect(s.receive(0x41, now: t0) == SupervisorMessage.cut)
        #expect(s.cutReason?.contains("0x41") == true)
        #expect(allFullOff(chip))

        final class FailingOutput: DigitalOutput {
            let name = "oe", safeLevel = false
            func set(_ asserted: Bool) -> DeviceFailure? { asserted ? .io(errno: .ioError) : nil }
        }
        let f = OutputSupervisor(device: pulsingChip(), outputEnable: FailingOutput(), stall: .milliseconds(100))
        #expect(f.receive(SupervisorMessage.enable, now: t0) == SupervisorMessage.cut)
        #expect(!f.outputsEnabled)
    }

    @Test("full-OFF retries a failing write and counts what still failed")
    func fullOffRetries() {
        let chip = pulsingChip()
        chip.failingTransfers = 2
        #expect(PCA9685.writeFullOff(device: chip, channels: 0..<16) == 0)
        #expect(allFullOff(chip))
        chip.detached = true
        #expect(PCA9685.writeFullOff(device: chip, channels: 0..<4) == 5)
    }

    /// The supervisor's loop on a thread over a real socket pair, the controller's link on this one.
    final class Pair: @unchecked Sendable {
        let chip = pulsingChip()
        let oe = RecordingOutput()
        let supervisor: OutputSupervisor
        let link: SupervisorLink
        let done = DispatchSemaphore(value: 0)
        var lines: [String] = []

        init(stall: Duration) {
            var fds: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            supervisor = OutputSupervisor(device: chip, outputEnable: oe, stall: stall)
            link = SupervisorLink(channel: fds[0])
            let channel = fds[1]
            Thread.detachNewThread { [self] in
                runOutputSupervisor(supervisor, channel: channel, clock: SystemClock()) { self.lines.append($0) }
                close(channel)
                done.signal()
            }
        }
    }

    @Test("over a socket pair: OE through the link, ticks keep it, silence cuts it, and the actuators refuse from then on")
    func silenceCutsOverTheChannel() throws {
        let p = Pair(stall: .milliseconds(60))
        #expect(p.link.set(true) == nil)
        #expect(p.oe.level == true)
        let controllerChip = PCA9685Model()
        let driver = PCA9685(device: controllerChip, pwmChannels: [0, 1], frequencyHz: 50, clock: ManualClock(), outputEnable: p.link)
        let actuators = SupervisedActuators(chip: driver, link: p.link)
        #expect(driver.initialize() == nil)
        var lastTick = SystemClock().now()
        for _ in 0..<20 {
            lastTick = SystemClock().now()
            p.link.tick()
            #expect(actuators.write(command([1500, 1600])) == nil)
            usleep(10_000)
        }
        #expect(!p.link.isCut)
        #expect(p.supervisor.cutReason == nil)
        // The controller stops ticking. The supervisor counts the silence from when it read the last
        // tick, which is after it was sent, so no cut can come sooner than the stall after the send.
        while !p.link.isCut {
            usleep(1000)
            try #require((SystemClock().now() - lastTick) < .seconds(5), "no cut 5 s into the silence")
        }
        let waited = (SystemClock().now() - lastTick).inMilliseconds
        #expect(waited >= 60, "cut \(waited) ms after the last tick was sent, the limit is 60 ms")
        #expect(p.oe.level == false)
        #expect(allFullOff(p.chip))
        // The next write does not reach the chip: the driver's own stop is sent once, then nothing.
        #expect(actuators.write(command([1500, 1600])) == .cutBySupervisor)
        #expect(controllerChip.registers[0x06 + 3] & 0x10 != 0)
        let writes = controllerChip.writeCount
        #expect(actuators.write(command([1500, 1600])) == .cutBySupervisor)
        #expect(controllerChip.writeCount == writes)
        #expect(p.link.set(true) == .cutBySupervisor)
        p.link.close()
        #expect(p.done.wait(timeout: .now() + 5) == .success)
        #expect(p.lines.count == 1 && p.lines[0].contains("no control-loop tick") && p.lines[0].contains("outputs cut"), "\(p.lines)")
    }

    @Test("over a socket pair: the controller's end closing with the outputs enabled cuts them at once")
    func deathCutsOverTheChannel() {
        let p = Pair(stall: .seconds(10))
        #expect(p.link.set(true) == nil)
        p.link.tick()
        let start = SystemClock().now()
        p.link.close()  // what the kernel does to a killed process's descriptors
        #expect(p.done.wait(timeout: .now() + 5) == .success)
        #expect((SystemClock().now() - start) < .seconds(1))
        #expect(p.oe.level == false)
        #expect(allFullOff(p.chip))
        #expect(p.lines.first?.contains("the controller died with the outputs enabled") == true, "\(p.lines)")
    }

    @Test("the supervisor gone: the link reports the outputs cut")
    func supervisorGone() {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let link = SupervisorLink(channel: fds[0])
        #expect(!link.isCut)
        close(fds[1])
        #expect(link.isCut)
        #expect(link.set(true) == .cutBySupervisor)
    }

    @Test("tick and the cut check allocate nothing")
    func tickDoesNotAllocate() {
        let p = Pair(stall: .seconds(10))
        #expect(p.link.set(true) == nil)
        p.link.tick()
        _ = p.link.isCut
        // A counting loop, not `for in`: a debug build's unspecialized iterator allocates on aarch64.
        allocation_counter_start()
        var n = 0
        while n < 1000 {
            p.link.tick()
            _ = p.link.isCut
            n += 1
        }
        #expect(allocation_counter_stop() == 0)
        p.link.close()
        _ = p.done.wait(timeout: .now() + 5)
    }

    @Test("a supervisor that cannot start is an error, not a silent run")
    func startFailures() {
        let settings = SupervisorSettings(
            bus: "/dev/i2c-99", address: 0x40, outputEnable: nil, outputEnableActiveLow: true,
            stall: .milliseconds(100), priority: 0)
        #expect(settings.arguments == ["supervise", "--bus", "/dev/i2c-99", "--address", "64", "--stall-ms", "100", "--priority", "0"])
        #expect(throws: HardwareError.self) { try SupervisorLink.start(settings: settings, executable: "/bin/false") }
        #expect(throws: HardwareError.self) { try SupervisorLink.start(settings: settings, executable: "/nonexistent/cerebellum") }
        let silent = NSTemporaryDirectory() + "silent-supervisor-\(getpid()).sh"
        FileManager.default.createFile(
            atPath: silent, contents: Data("#!/bin/sh\nexec sleep 30\n".utf8), attributes: [.posixPermissions: 0o755])
        defer { unlink(silent) }
        do {
            _ = try SupervisorLink.start(settings: settings, executable: silent, readyTimeout: .milliseconds(300))
            Issue.record("a process that never answers was taken for a supervisor")
        } catch { #expect("\(error)".contains("did not answer")) }
    }
}
