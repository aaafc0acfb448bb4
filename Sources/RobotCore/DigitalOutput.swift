/// A digital output line (motor enable, direction pin, status LED, the PCA9685's OE pin): GPIO
/// through libgpiod, or simulated. Levels are logical: `true` = asserted, after active-low inversion.
public protocol DigitalOutput: Device {
    var name: String { get }
    /// The level the line is driven to when the controller stops or faults.
    var safeLevel: Bool { get }
    /// Drives the line. Never allocates.
    func set(_ asserted: Bool) -> DeviceFailure?
}
