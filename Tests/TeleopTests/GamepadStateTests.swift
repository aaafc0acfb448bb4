import RobotCore
import Teleop
import Testing

@Suite("Gamepad state")
struct GamepadStateTests {
    let x = InputControl.known["ABS_X"]!, y = InputControl.known["ABS_Y"]!, z = InputControl.known["ABS_Z"]!
    let tl = InputControl.known["BTN_TL"]!, east = InputControl.known["BTN_EAST"]!, start = InputControl.known["BTN_START"]!

    func mapping(deadman: InputControl) -> GamepadMapping {
        GamepadMapping(
            channels: 2, axes: [(0, y, true), (1, x, false)], deadzone: 0.1, deadman: deadman,
            buttons: [(east, .eStop), (start, .arm)])
    }
    func abs(_ c: InputControl, _ v: Int32) -> InputEvent { InputEvent(type: InputEvent.absolute, code: c.code, value: v) }
    func key(_ c: InputControl, _ v: Int32) -> InputEvent { InputEvent(type: InputEvent.key, code: c.code, value: v) }

    @Test("axes scale from their raw range to −1…1 with the dead zone cut out and the rest stretched; reversed axes negate")
    func scaling() {
        var s = GamepadState(mapping: mapping(deadman: tl), range: { $0 == self.x.code ? 0...255 : -32768...32767 })
        #expect(s.efforts[0] == 0 && s.efforts[1] == 0)
        _ = s.handle(abs(x, 255))
        _ = s.handle(abs(y, -32768))
        #expect(s.efforts[1] == 1 && s.efforts[0] == 1)
        _ = s.handle(abs(x, 140))  // 12.5/127.5 ≈ 0.098 of the half-range: inside the dead zone
        #expect(s.efforts[1] == 0)
        _ = s.handle(abs(y, 16384))  // +0.5 → reversed −(0.5 − 0.1)/0.9
        #expect(Swift.abs(s.efforts[0] + 0.4 / 0.9) < 1e-4, "\(s.efforts[0])")
    }

    @Test("buttons act on the press, not on holds, auto-repeat or release; the dead-man is a held button or a trigger past half travel")
    func buttons() {
        var s = GamepadState(mapping: mapping(deadman: tl), range: { _ in nil })
        #expect(!s.deadmanHeld)
        #expect(s.handle(key(tl, 1)) == nil && s.deadmanHeld)
        #expect(s.handle(key(east, 1)) == .eStop)
        #expect(s.handle(key(east, 2)) == nil && s.handle(key(east, 1)) == nil)
        #expect(s.handle(key(east, 0)) == nil && s.handle(key(east, 1)) == .eStop)
        #expect(s.handle(key(start, 1)) == .arm)
        _ = s.handle(key(tl, 0))
        #expect(!s.deadmanHeld)
        var t = GamepadState(mapping: mapping(deadman: z), range: { $0 == self.z.code ? 0...1023 : nil })
        #expect(!t.deadmanHeld)
        _ = t.handle(abs(z, 400))
        #expect(!t.deadmanHeld)
        _ = t.handle(abs(z, 800))
        #expect(t.deadmanHeld)
    }

    @Test("after dropped events the state is what the device says now; what it cannot tell reads released and centred")
    func resync() {
        var s = GamepadState(mapping: mapping(deadman: tl), range: { _ in -100...100 })
        _ = s.handle(key(tl, 1))
        _ = s.handle(abs(x, 100))
        s.resync { c in c == self.x ? -100 : nil }
        #expect(!s.deadmanHeld && s.efforts[1] == -1 && s.efforts[0] == 0)
    }
}
