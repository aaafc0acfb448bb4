/// One Linux input event (`struct input_event` without its time): a key or button (`EV_KEY`, value 1 pressed,
/// 0 released, 2 auto-repeat), an absolute axis (`EV_ABS`, its raw value), or a report boundary (`EV_SYN`).
public struct InputEvent: Sendable, Equatable {
    public var type: UInt16
    public var code: UInt16
    public var value: Int32

    public init(type: UInt16, code: UInt16, value: Int32) { (self.type, self.code, self.value) = (type, code, value) }

    public static let sync: UInt16 = 0, key: UInt16 = 1, absolute: UInt16 = 3
    /// `SYN_REPORT` ends a consistent report; `SYN_DROPPED`: the kernel's buffer overflowed and events were lost.
    public static let syncReport: UInt16 = 0, syncDropped: UInt16 = 3
}

/// A gamepad control by its Linux name (`linux/input-event-codes.h`): an axis or a button.
public struct InputControl: Sendable, Hashable, CustomStringConvertible {
    public var type: UInt16
    public var code: UInt16
    public var name: String
    public var isAxis: Bool { type == InputEvent.absolute }
    public var description: String { name }

    /// The controls a board profile may name, with the kernel's codes.
    public static let known: [String: InputControl] = {
        let axes: [(String, UInt16)] = [
            ("ABS_X", 0x00), ("ABS_Y", 0x01), ("ABS_Z", 0x02), ("ABS_RX", 0x03), ("ABS_RY", 0x04), ("ABS_RZ", 0x05),
            ("ABS_THROTTLE", 0x06), ("ABS_RUDDER", 0x07), ("ABS_GAS", 0x09), ("ABS_BRAKE", 0x0a), ("ABS_HAT0X", 0x10),
            ("ABS_HAT0Y", 0x11),
        ]
        let buttons: [(String, UInt16)] = [
            ("BTN_SOUTH", 0x130), ("BTN_A", 0x130), ("BTN_EAST", 0x131), ("BTN_B", 0x131), ("BTN_C", 0x132), ("BTN_NORTH", 0x133),
            ("BTN_X", 0x133), ("BTN_WEST", 0x134), ("BTN_Y", 0x134), ("BTN_Z", 0x135), ("BTN_TL", 0x136), ("BTN_TR", 0x137),
            ("BTN_TL2", 0x138), ("BTN_TR2", 0x139), ("BTN_SELECT", 0x13a), ("BTN_START", 0x13b), ("BTN_MODE", 0x13c),
            ("BTN_THUMBL", 0x13d), ("BTN_THUMBR", 0x13e), ("BTN_TRIGGER", 0x120), ("BTN_THUMB", 0x121), ("BTN_THUMB2", 0x122),
            ("BTN_TOP", 0x123), ("BTN_TOP2", 0x124), ("BTN_PINKIE", 0x125), ("BTN_BASE", 0x126),
        ]
        var out: [String: InputControl] = [:]
        for (n, c) in axes { out[n] = InputControl(type: InputEvent.absolute, code: c, name: n) }
        for (n, c) in buttons { out[n] = InputControl(type: InputEvent.key, code: c, name: n) }
        return out
    }()
}

/// A device that delivers input events (a gamepad through evdev, or a test's script).
public protocol InputEventSource: AnyObject {
    var name: String { get }
    /// Waits up to `timeout` for events and appends what arrived to `events`. A failure means the device is
    /// gone (unplugged, or it could not be read).
    func read(into events: inout [InputEvent], timeout: Duration) -> DeviceFailure?
    /// The raw range of an absolute axis (nil when the device has no such axis).
    func axisRange(_ code: UInt16) -> ClosedRange<Int32>?
    /// Where each control is now (after `SYN_DROPPED`: the kernel's state, not the lost events).
    func currentValue(_ control: InputControl) -> Int32?
    func close()
}
