import Foundation
import Glibc
import RobotCore
import Testing
@testable import LinuxHardware

@Suite("evdev")
struct EvdevTests {
    @Test("24-byte input_event records decode to type, code and value; a partial record is left alone")
    func decode() {
        var bytes = [UInt8](repeating: 0, count: 24 * 2 + 7)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt16(3), toByteOffset: 16, as: UInt16.self)
            b.storeBytes(of: UInt16(1), toByteOffset: 18, as: UInt16.self)
            b.storeBytes(of: Int32(-32768), toByteOffset: 20, as: Int32.self)
            b.storeBytes(of: UInt16(1), toByteOffset: 40, as: UInt16.self)
            b.storeBytes(of: UInt16(0x131), toByteOffset: 42, as: UInt16.self)
            b.storeBytes(of: Int32(1), toByteOffset: 44, as: Int32.self)
        }
        var events: [InputEvent] = []
        bytes.withUnsafeBytes { EvdevDevice.decode($0, into: &events) }
        #expect(events == [InputEvent(type: 3, code: 1, value: -32768), InputEvent(type: 1, code: 0x131, value: 1)])
    }

    @Test("a file that is not an input device is refused, naming it")
    func notAnInputDevice() {
        #expect {
            _ = try EvdevDevice(path: "/dev/null")
        } throws: { e in
            "\(e)".contains("/dev/null") && "\(e)".contains("not an input device")
        }
    }

    @Test(
        "a virtual gamepad (uinput) reads back through evdev: its name, axis ranges, events, and unplugging",
        .enabled(if: access("/dev/uinput", W_OK) == 0, "needs /dev/uinput (the HIL guest runs the same check)"))
    func virtualPad() throws {
        let pad = try VirtualGamepad(name: "cerebellum test pad", buttons: [0x130, 0x136], axes: [0x00, 0x01])
        let device = try EvdevDevice(path: pad.eventPath)
        #expect(device.name == "cerebellum test pad" && device.axisRange(0x01) == -32768...32767)
        try pad.emit([InputEvent(type: 1, code: 0x136, value: 1), InputEvent(type: 3, code: 0x01, value: -20000)])
        var events: [InputEvent] = []
        for _ in 0..<20 where events.count < 3 { _ = device.read(into: &events, timeout: .milliseconds(50)) }
        #expect(events.contains(InputEvent(type: 1, code: 0x136, value: 1)) && events.contains(InputEvent(type: 3, code: 1, value: -20000)))
        #expect(device.currentValue(InputControl.known["BTN_TL"]!) == 1)
        pad.unplug()
        var failure: DeviceFailure?
        for _ in 0..<20 where failure == nil { failure = device.read(into: &events, timeout: .milliseconds(50)) }
        #expect(failure != nil)
    }
}
