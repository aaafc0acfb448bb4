/// The lifecycle every device of a rig goes through, after ros2_control's hardware components:
/// - *configure* is the device's initializer: it opens the device, checks it and holds it in its safe
///   state (an output line at its safe level, a PWM board with its outputs disabled); nothing moves;
/// - `activate()` makes it ready to act (a PWM board initialized and its outputs enabled);
/// - `deactivate()` puts it back in its safe state and keeps holding it (outputs full-OFF, lines at
///   their safe levels);
/// - `shutdown()` lets it go (descriptors closed, lines returned to the kernel). Safe to call twice.
/// A device with nothing to do in a step (a simulated one, an input) keeps the default, which does nothing.
public protocol Device: AnyObject {
    func activate() throws
    func deactivate()
    func shutdown()
}

extension Device {
    public func activate() throws {}
    public func deactivate() {}
    public func shutdown() {}
}

/// The configured devices of a rig or a bench, in the order they were opened, taken through the rest of
/// the lifecycle together: activated in that order; deactivated, and then shut down, in reverse — so what
/// holds the outputs safe (the output supervisor, the enable lines, opened first) is let go last.
public final class DeviceSet {
    public private(set) var devices: [any Device] = []
    private var closed = false

    public init() {}

    /// Adds a configured device and returns it.
    @discardableResult
    public func add<D: Device>(_ device: D) -> D {
        devices.append(device)
        return device
    }

    /// Activates every device in order. If one throws, every device is deactivated and shut down and the
    /// error is rethrown: nothing stays enabled.
    public func activate() throws {
        do {
            for d in devices { try d.activate() }
        } catch {
            close()
            throw error
        }
    }

    /// Every device deactivated (safe state), then every device shut down, each pass in reverse order.
    /// A second call does nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        for d in devices.reversed() { d.deactivate() }
        for d in devices.reversed() { d.shutdown() }
    }
}
