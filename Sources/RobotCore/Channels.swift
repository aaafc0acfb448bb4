/// The most actuator channels one board drives (a PCA9685 has 16).
public let maxChannels = 16

/// One value per actuator channel, stored inline (no heap allocation), first `count` slots used.
public struct ChannelVector: Sendable, Equatable {
    public var values: InlineArray<16, Double>
    public private(set) var count: Int

    /// `count` channels, every one set to `value`. `count` is clamped to 0...maxChannels.
    public init(count: Int, repeating value: Double = 0) {
        self.count = min(max(count, 0), maxChannels)
        self.values = InlineArray(repeating: value)
    }

    /// The channels from an array (at most `maxChannels`; more are dropped).
    public init(_ array: [Double]) {
        self.init(count: array.count)
        for i in 0..<count { values[i] = array[i] }
    }

    public subscript(i: Int) -> Double {
        get { values[i] }
        set { values[i] = newValue }
    }

    public var indices: Range<Int> { 0..<count }

    /// The channels as an array (allocates: not for use inside the control tick).
    public var array: [Double] { indices.map { values[$0] } }

    public static func == (a: ChannelVector, b: ChannelVector) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.values[i] != b.values[i] { return false }
        return true
    }
}

/// Who proposed a command. The arbiter picks between sources; the governor gates all of them.
public enum CommandOrigin: UInt8, Sendable, CustomStringConvertible {
    case autonomy, teleop, calibration, script

    public var description: String {
        switch self {
        case .autonomy: "autonomy"
        case .teleop: "teleop"
        case .calibration: "calibration"
        case .script: "script"
        }
    }
}

/// A proposed actuation: per-channel effort, normalized to [-1, 1] (0 = neutral), not yet checked.
/// Only the safety governor turns it into something an actuator accepts.
public struct Command: Sendable, Equatable {
    /// Normalized effort per channel in [-1, 1]; the governor rejects anything else.
    public var efforts: ChannelVector
    /// When the source produced it (its heartbeat).
    public var issuedAt: Instant
    public var origin: CommandOrigin

    public init(efforts: ChannelVector, issuedAt: Instant, origin: CommandOrigin) {
        self.efforts = efforts
        self.issuedAt = issuedAt
        self.origin = origin
    }

    /// All channels at neutral.
    public static func neutral(channels: Int, at time: Instant, origin: CommandOrigin) -> Command {
        Command(efforts: ChannelVector(count: channels), issuedAt: time, origin: origin)
    }
}
