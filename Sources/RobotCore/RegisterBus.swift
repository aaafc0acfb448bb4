/// One device on an SMBus / I2C bus, addressed by register: the real i2c-dev driver, or a
/// register-level model of a chip for tests and the simulator. Every call returns the failure
/// instead of throwing, so it can run inside the tick without allocating.
public protocol RegisterDevice: AnyObject {
    /// Where the device is, for messages ("/dev/i2c-1 address 0x40").
    var location: String { get }
    /// Reads one register (SMBus "read byte data").
    func readByte(register: UInt8) -> Result<UInt8, DeviceFailure>
    /// Writes one register (SMBus "write byte data").
    func writeByte(register: UInt8, value: UInt8) -> DeviceFailure?
    /// Writes `count` bytes (≤ 32) from `bytes` to consecutive registers starting at `register`
    /// (SMBus "I2C block write": no count byte on the wire; the chip's auto-increment moves the register).
    func writeBlock(register: UInt8, bytes: UnsafePointer<UInt8>, count: Int) -> DeviceFailure?
}

extension DeviceFailure {
    /// errno values that a bounded retry may cure on I2C (a glitch on the bus, a NAK, arbitration lost).
    public var isTransientBusError: Bool {
        switch self {
        case .io(let e): return e == .ioError || e == .noSuchDeviceOrAddress || e == .remoteIO || e == .tryAgain || e == .timedOut
        case .lost, .injected, .cutBySupervisor: return false
        }
    }
}
