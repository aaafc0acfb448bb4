import RobotCore

/// What a gamepad's controls mean for one board: which axis drives which channel, the dead-man, the
/// e-stop and the other buttons.
public struct GamepadMapping: Sendable {
    public var channels: Int
    public var axes: [(channel: Int, control: InputControl, reversed: Bool)]
    /// Stick travel around the centre that reads as zero, fraction of the half-range.
    public var deadzone: Double
    public var deadman: InputControl
    public var buttons: [(control: InputControl, action: GamepadAction)]

    public init(
        channels: Int, axes: [(channel: Int, control: InputControl, reversed: Bool)], deadzone: Double, deadman: InputControl,
        buttons: [(control: InputControl, action: GamepadAction)]
    ) {
        (self.channels, self.axes, self.deadzone, self.deadman, self.buttons) = (channels, axes, deadzone, deadman, buttons)
    }
}

/// A button's job.
public enum GamepadAction: Sendable, Equatable {
    case eStop, arm, disarm, reset
    /// Hands control back to autonomy (the console's `mode auto`: disarmed hold unless the console resumes autonomy).
    case autonomy
    /// Marks the recording's current segment ("good", "bad").
    case mark(String)
}

/// The gamepad's state from its events: axis positions, buttons held, the dead-man. `handle` returns the
/// action of a button just pressed (a press, not a hold or the kernel's auto-repeat); `efforts` is what the
/// sticks ask for. Axes are scaled from their raw range to −1…1 around its centre, with the dead zone cut out
/// and the rest stretched back to full scale; a trigger used as the dead-man counts as held past half its travel.
public struct GamepadState: Sendable {
    public let mapping: GamepadMapping
    private var ranges: [UInt16: ClosedRange<Int32>]
    private var axisValues: [UInt16: Int32] = [:]
    private var pressed: Set<UInt16> = []

    /// `range`: each axis's raw range as the device reports it (−32768…32767 when it does not).
    public init(mapping: GamepadMapping, range: (UInt16) -> ClosedRange<Int32>?) {
        self.mapping = mapping
        var r: [UInt16: ClosedRange<Int32>] = [:]
        for c in mapping.axes.map(\.control) + [mapping.deadman] where c.isAxis { r[c.code] = range(c.code) ?? -32768...32767 }
        ranges = r
        for (code, range) in r {
            axisValues[code] = mapping.deadman.isAxis && code == mapping.deadman.code ? range.lowerBound : Self.centre(range)
        }
    }

    private static func centre(_ r: ClosedRange<Int32>) -> Int32 { Int32((Int64(r.lowerBound) + Int64(r.upperBound)) / 2) }

    /// Takes one event; returns the action of a button it pressed.
    public mutating func handle(_ e: InputEvent) -> GamepadAction? {
        switch e.type {
        case InputEvent.absolute:
            if ranges[e.code] != nil { axisValues[e.code] = e.value }
            return nil
        case InputEvent.key:
            if e.value == 0 {
                pressed.remove(e.code)
                return nil
            }
            guard e.value == 1, pressed.insert(e.code).inserted else { return nil }
            return mapping.buttons.first { !$0.control.isAxis && $0.control.code == e.code }?.action
        default: return nil
        }
    }

    /// After the kernel dropped events (`SYN_DROPPED`): every control as the device says it is now
    /// (a control it cannot tell counts as released, an axis it cannot tell as centred).
    public mutating func resync(current: (InputControl) -> Int32?) {
        for c in mapping.axes.map(\.control) + [mapping.deadman] + mapping.buttons.map(\.control) {
            if c.isAxis, let r = ranges[c.code] {
                axisValues[c.code] = current(c) ?? (c == mapping.deadman ? r.lowerBound : Self.centre(r))
            } else if !c.isAxis {
                if current(c) == 1 { pressed.insert(c.code) } else { pressed.remove(c.code) }
            }
        }
    }

    /// The dead-man is held: the sticks drive.
    public var deadmanHeld: Bool {
        let d = mapping.deadman
        guard d.isAxis else { return pressed.contains(d.code) }
        guard let r = ranges[d.code], let v = axisValues[d.code] else { return false }
        return Double(Int64(v) - Int64(r.lowerBound)) > Double(Int64(r.upperBound) - Int64(r.lowerBound)) / 2
    }

    /// A stick axis scaled to −1…1 with the dead zone.
    public func position(_ control: InputControl) -> Double {
        guard let r = ranges[control.code], let v = axisValues[control.code] else { return 0 }
        let half = Double(Int64(r.upperBound) - Int64(r.lowerBound)) / 2
        let x = max(-1, min(1, (Double(v) - Double(r.lowerBound) - half) / half))
        let dz = mapping.deadzone
        guard abs(x) > dz else { return 0 }
        return (x < 0 ? -1 : 1) * (abs(x) - dz) / (1 - dz)
    }

    /// What the sticks ask of each channel (channels no axis drives stay at 0).
    public var efforts: ChannelVector {
        var out = ChannelVector(count: mapping.channels)
        for a in mapping.axes where a.channel < mapping.channels {
            out[a.channel] = (a.reversed ? -1 : 1) * position(a.control)
        }
        return out
    }
}
