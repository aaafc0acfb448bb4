/// Why a device operation failed. Carries no strings so it can be raised inside the tick.
public enum DeviceFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The OS returned this errno.
    case io(errno: Errno)
    /// The device disappeared (ENODEV, unplugged).
    case lost
    /// A simulated failure injected by a test or the simulator.
    case injected
    /// The output supervisor cut the outputs (the controller stalled, or the supervisor is gone).
    case cutBySupervisor

    public var description: String {
        switch self {
        case .io(let e): "I/O error: \(e)"
        case .lost: "device lost"
        case .injected: "injected failure"
        case .cutBySupervisor: "outputs cut by the output supervisor"
        }
    }
}

/// What one capture attempt produced.
public enum CaptureResult: Equatable, Sendable {
    /// A new image is in the frame.
    case newFrame
    /// No new image since the last call; the frame keeps the previous one (its age grows).
    case noNewFrame
    case failed(DeviceFailure)
}

/// A camera: the V4L2 driver or a simulated camera.
public protocol FrameSource: Device {
    var width: Int { get }
    var height: Int { get }
    /// Writes the newest image into `frame` if there is one. Never blocks past the tick; never allocates.
    func capture(into frame: Frame) -> CaptureResult
}

/// What a digital input read gave.
public enum InputReading: Equatable, Sendable {
    /// Logical level after active-low inversion: true = asserted (e.g. e-stop pressed).
    case level(Bool)
    case failed(DeviceFailure)
}

/// A digital input line (e-stop, limit switch): GPIO through libgpiod, or simulated.
public protocol DigitalInput: Device {
    var name: String { get }
    func read() -> InputReading
}

/// Whatever proposes actuator commands each tick: the planner, a teleop session, a script.
public protocol CommandSource: AnyObject {
    var origin: CommandOrigin { get }
    /// Looks at the newest frame and proposes efforts for this tick. Writes into `command`; never allocates.
    /// Returns false when the source has nothing to say this tick (the governor then holds, and
    /// its heartbeat timeout runs).
    func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool
    /// True when the source is driving for a remote operator whose link is down (the governor
    /// then latches a fault). Sources without an operator link leave the default, false.
    var isLinkLost: Bool { get }
    /// True when the source's world model is surprised by what the camera shows (the governor then
    /// stops or slows, as the board profile says). Sources without a model leave the default, false.
    var isSurprised: Bool { get }
    /// True when the source's planner has produced no fresh plan for too many ticks (its compute does
    /// not fit the budget): the governor then stops, slows or reports, as the board profile says.
    var isStarved: Bool { get }
    /// True when the source's world model produced a NaN or ∞ (latent or forecast): a latched fault.
    var isModelOutputInvalid: Bool { get }
    /// Called when the source drives again after another one drove in its place (an operator took
    /// over, then handed back): whatever it carried from tick to tick (a last observation, a plan, a
    /// manoeuvre under way) describes a world the other driver has since changed. Default: nothing.
    func resume()
}

extension CommandSource {
    public var isLinkLost: Bool { false }
    public var isSurprised: Bool { false }
    public var isStarved: Bool { false }
    public var isModelOutputInvalid: Bool { false }
    public func resume() {}
}

/// A command source that steers toward a named goal (a goal image saved with `goal capture`).
public protocol GoalDirected: CommandSource {
    /// Switches to goal `name`; false (with the reason) if there is no such goal.
    func selectGoal(named name: String) -> (accepted: Bool, reason: String)
}

/// What a read from the console's link gave.
public enum TransportRead: Sendable, Equatable {
    case data(Int)
    case timeout
    /// The far end hung up, or the device vanished (a USB adapter pulled).
    case hangup
}

/// A byte link to an operator's terminal (a serial port, or a pseudo-terminal in tests).
public protocol ConsoleTransport: AnyObject {
    /// Human name for messages (the device path).
    var name: String { get }
    var isOpen: Bool { get }
    /// Opens (or reopens) the link; throws with a reason when it cannot.
    func open() throws
    func close()
    /// Waits up to `timeout` for input and reads what is there into `buffer`.
    func read(into buffer: inout [UInt8], timeout: Duration) -> TransportRead
    /// Writes everything; false when the link hung up.
    func write(_ bytes: [UInt8]) -> Bool
}
