import Configuration
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Simulation
import Teleop
import TestSupport
import Testing
@testable import Control

/// A gamepad the test plays: events queued by the test, handed out by `read`; `unplugged` makes reads fail.
final class ScriptedPad: InputEventSource, @unchecked Sendable {
    let name = "scripted pad"
    var queued: [InputEvent] = []
    var unplugged = false
    func read(into events: inout [InputEvent], timeout: Duration) -> DeviceFailure? {
        if unplugged { return .lost }
        events += queued
        queued = []
        return nil
    }
    func axisRange(_ code: UInt16) -> ClosedRange<Int32>? { -32768...32767 }
    func currentValue(_ control: InputControl) -> Int32? { control.isAxis ? 0 : 0 }
    func close() {}
    func press(_ name: String, _ value: Int32 = 1) {
        queued.append(InputEvent(type: InputEvent.key, code: InputControl.known[name]!.code, value: value))
    }
    func move(_ name: String, _ value: Int32) {
        queued.append(InputEvent(type: InputEvent.absolute, code: InputControl.known[name]!.code, value: value))
    }
}

/// The simulated board with a gamepad and no console: the pad's operator thread is pumped by hand between ticks.
final class GamepadRig {
    let clock = ManualClock()
    let rig: Rig
    let governor: SafetyGovernor
    let link = TeleopLink()
    let pad = ScriptedPad()
    let gamepad: GamepadOperator
    let arbiter: Arbiter
    let loop: ControlLoop

    init() throws {
        let board = try boardWithGamepad()
        let settings = try #require(board.profile.gamepad)
        rig = try Rig(board: board, clock: clock, seed: 3)
        governor = try SafetyGovernor(config: board.safetyConfig)
        let pad = pad
        gamepad = GamepadOperator(
            settings: settings, channels: board.profile.actuators.map(\.name), link: link, openDevice: { _ in pad }, log: { _ in })
        arbiter = Arbiter(autonomy: ScriptedWaypointFollower(world: rig.robot!.world), link: link, governor: governor)
        loop = rig.makeLoop(source: arbiter, governor: governor)
    }

    /// Opens the pad, presses its arm button and checks that the governor armed.
    func armWithPad() throws {
        step()
        pad.press("BTN_START")
        step(3)
        try #require(governor.state == .armed, "the arm button arms")
    }

    /// Pumps the pad's thread once, then runs `n` ticks.
    func step(_ n: Int = 1) {
        gamepad.pump(timeout: .zero)
        for _ in 0..<n {
            loop.tick()
            clock.advance(by: loop.period)
        }
    }
}

@Suite("Gamepad operator", .serialized)
struct GamepadOperatorTests {
    @Test("held dead-man and a stick take over from autonomy at once; letting go is neutral on the next tick")
    func drives() throws {
        let r = try GamepadRig()
        try r.armWithPad()
        #expect(r.link.isConnected && r.gamepad.deviceName == "scripted pad")
        r.pad.press("BTN_TL")
        r.pad.move("ABS_Y", -32768)  // up: +vx (the sim board maps vx ← -ABS_Y)
        r.step()
        #expect(r.arbiter.mode == .teleop)
        #expect(r.loop.governor.lastOutput.efforts[0] > 0, "\(r.loop.governor.lastOutput.efforts)")
        r.pad.press("BTN_TL", 0)
        r.step()
        #expect(r.loop.governor.lastOutput.efforts[0] == 0 && r.loop.governor.lastOutput.efforts[1] == 0)
        r.pad.press("BTN_THUMBR")
        r.step(3)
        #expect(r.arbiter.mode == .auto && r.governor.state == .disarmed, "the hand-back button: autonomy, in a disarmed hold")
    }

    @Test("without the dead-man the sticks do nothing; the e-stop button latches the e-stop on the next tick")
    func eStop() throws {
        let r = try GamepadRig()
        try r.armWithPad()
        r.pad.move("ABS_X", 32767)
        r.step(2)
        #expect(r.arbiter.mode == .auto)
        r.pad.press("BTN_EAST")
        r.step()
        #expect(r.governor.latchedFaults.contains(.eStop) && r.governor.state == .faulted)
        #expect(r.gamepad.eStops == 1)
    }

    @Test("a pad unplugged while the operator drives latches teleop link lost; it is reopened when it is back")
    func unplugged() throws {
        let r = try GamepadRig()
        try r.armWithPad()
        r.pad.press("BTN_TL")
        r.pad.move("ABS_X", 20000)
        r.step()
        #expect(r.arbiter.mode == .teleop && r.governor.state == .armed)
        r.pad.unplugged = true
        r.step(2)
        #expect(!r.link.isConnected && r.gamepad.losses == 1)
        #expect(r.governor.latchedFaults.contains(.teleopLinkLost), "\(r.governor.latchedFaults)")
        r.pad.unplugged = false
        Thread.sleep(forTimeInterval: 0.25)
        r.step()
        #expect(r.link.isConnected)
    }
}
