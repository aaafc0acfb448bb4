import Glibc
import RobotCore
import Safety

/// The NXP PCA9685 16-channel 12-bit PWM controller driving servos and ESCs, over any
/// `RegisterDevice` (i2c-dev on a board, the register model in tests and the simulator).
///
/// - The output frequency comes from PRE_SCALE = round(osc / (4096 · f)) − 1, with the oscillator
///   trimmed by the calibrated factor (clone boards run a few per cent off 25 MHz). PRE_SCALE is
///   written only while the chip sleeps, as the datasheet requires.
/// - A pulse width in µs becomes OFF counts (ON = 0) at the frequency the prescale really gives.
/// - Stop is full-OFF on every channel (ALL_LED_OFF_H bit 4), never SLEEP, plus the OE pin released
///   when the board wires one: the outputs go low and stay low.
/// - MODE1 is read back every `healthCheckEvery` writes; a chip that lost power (SLEEP set or
///   auto-increment cleared: the power-on state) is initialized again and counted.
/// - EIO / ENXIO / EREMOTEIO and friends are retried `attempts` times per transfer, then returned,
///   which the governor latches as an actuator fault.
public final class PCA9685: ActuatorOutput {
    public enum Register {
        public static let mode1: UInt8 = 0x00
        public static let mode2: UInt8 = 0x01
        public static let led0OnL: UInt8 = 0x06
        public static let allLedOffH: UInt8 = 0xFD
        public static let preScale: UInt8 = 0xFE
    }
    static let sleep: UInt8 = 0x10, autoIncrement: UInt8 = 0x20, allCall: UInt8 = 0x01, restart: UInt8 = 0x80
    static let outDrv: UInt8 = 0x04, fullBit: UInt8 = 0x10
    /// Nominal internal oscillator, Hz.
    public static let nominalOscillatorHz = 25_000_000.0

    public let device: RegisterDevice
    /// PWM channel (0...15) per actuator channel of the `SafeCommand`.
    public let pwmChannels: [Int]
    public let requestedFrequencyHz: Double
    /// Calibrated oscillator / nominal.
    public let oscillatorTrim: Double
    public let prescale: UInt8
    /// The PWM frequency the prescale gives with the trimmed oscillator, Hz.
    public let actualFrequencyHz: Double
    /// Optional OE line (active low on the chip; configure the GPIO active-low so asserted = enabled).
    public let outputEnable: DigitalOutput?
    public let attempts: Int
    public let healthCheckEvery: Int
    private let clock: RobotClock
    private var block = (UInt8(0), UInt8(0), UInt8(0), UInt8(0))
    private var writesSinceCheck = 0
    public var channelCount: Int { pwmChannels.count }
    /// Times the chip was found reset (power loss) and initialized again.
    public private(set) var reinitializations = 0
    /// Transfers that failed once and succeeded on a retry.
    public private(set) var retriedTransfers = 0

    public init(
        device: RegisterDevice, pwmChannels: [Int], frequencyHz: Double, oscillatorTrim: Double = 1, clock: RobotClock,
        outputEnable: DigitalOutput? = nil, attempts: Int = 3, healthCheckEvery: Int = 10
    ) {
        precondition(pwmChannels.allSatisfy { (0..<16).contains($0) }, "PCA9685 channels are 0...15")
        precondition(attempts >= 1 && healthCheckEvery >= 1)
        self.device = device
        self.pwmChannels = pwmChannels
        self.requestedFrequencyHz = frequencyHz
        self.oscillatorTrim = oscillatorTrim
        let p = PCA9685.prescale(frequencyHz: frequencyHz, oscillatorHz: PCA9685.nominalOscillatorHz * oscillatorTrim)
        prescale = p
        actualFrequencyHz = PCA9685.nominalOscillatorHz * oscillatorTrim / (4096 * (Double(p) + 1))
        self.outputEnable = outputEnable
        self.attempts = attempts
        self.healthCheckEvery = healthCheckEvery
        self.clock = clock
    }

    /// PRE_SCALE for a frequency (datasheet eq. 1), clamped to the chip's 3...255 (1526...24 Hz at 25 MHz).
    public static func prescale(frequencyHz: Double, oscillatorHz: Double) -> UInt8 {
        let p = (oscillatorHz / (4096 * frequencyHz)).rounded() - 1
        return UInt8(min(255, max(3, p)))
    }

    /// OFF count for a pulse width, µs, at the actual frequency (0...4095).
    public func counts(pulseMicros: Double) -> Int {
        let c = (pulseMicros * 1e-6 * actualFrequencyHz * 4096).rounded()
        return Int(min(4095, max(0, c)))
    }

    private func retrying(_ op: () -> DeviceFailure?) -> DeviceFailure? {
        var last: DeviceFailure?
        for attempt in 0..<attempts {
            last = op()
            guard let f = last else {
                if attempt > 0 { retriedTransfers += 1 }
                return nil
            }
            if !f.isTransientBusError { return f }
        }
        return last
    }

    private func readRetrying(_ register: UInt8) -> Result<UInt8, DeviceFailure> {
        var result: Result<UInt8, DeviceFailure> = .failure(.io(errno: .ioError))
        _ = retrying {
            result = device.readByte(register: register)
            if case .failure(let f) = result { return f }
            return nil
        }
        return result
    }

    /// Full initialization: every output full-OFF, sleep, totem-pole outputs, prescale, wake, wait for
    /// the oscillator (500 µs), restart if the chip asks for it; then read MODE1 and PRE_SCALE back.
    /// The OE line is asserted (outputs enabled) only after all of that succeeded.
    public func initialize() -> DeviceFailure? {
        if let f = retrying({ device.writeByte(register: Register.allLedOffH, value: PCA9685.fullBit) }) { return f }
        if let f = retrying({ device.writeByte(register: Register.mode1, value: PCA9685.sleep | PCA9685.autoIncrement | PCA9685.allCall) })
        {
            return f
        }
        if let f = retrying({ device.writeByte(register: Register.mode2, value: PCA9685.outDrv) }) { return f }
        if let f = retrying({ device.writeByte(register: Register.preScale, value: prescale) }) { return f }
        if let f = retrying({ device.writeByte(register: Register.mode1, value: PCA9685.autoIncrement | PCA9685.allCall) }) { return f }
        clock.sleep(until: clock.now() + .microseconds(500))
        switch readRetrying(Register.mode1) {
        case .failure(let f): return f
        case .success(let m):
            if m & PCA9685.restart != 0,
                let f = retrying({
                    device.writeByte(register: Register.mode1, value: PCA9685.autoIncrement | PCA9685.allCall | PCA9685.restart)
                })
            {
                return f
            }
        }
        switch readRetrying(Register.preScale) {
        case .failure(let f): return f
        case .success(let p) where p != prescale: return .io(errno: .ioError)
        default: break
        }
        writesSinceCheck = 0
        if let oe = outputEnable, let f = oe.set(true) { return f }
        return nil
    }

    /// `initialize()`, with a failure thrown as an error that names the bus and address.
    public func activate() throws {
        guard let f = initialize() else { return }
        throw HardwareError(message: "PCA9685 at \(device.location): initialization failed: \(f)")
    }

    /// `stop()`: outputs disabled and full-OFF.
    public func deactivate() { stop() }

    /// Writes one channel's four registers in one auto-incremented block: ON = 0, OFF = counts
    /// (or full-OFF for a pulse ≤ 0).
    private func writeChannel(_ ch: Int, pulseMicros: Double) -> DeviceFailure? {
        let c = pulseMicros > 0 ? counts(pulseMicros: pulseMicros) : 0
        block = (0, 0, UInt8(c & 0xFF), pulseMicros > 0 ? UInt8(c >> 8) : PCA9685.fullBit)
        let register = Register.led0OnL + UInt8(4 * ch)
        return withUnsafePointer(to: &block) { p in
            p.withMemoryRebound(to: UInt8.self, capacity: 4) { bytes in
                retrying { device.writeBlock(register: register, bytes: bytes, count: 4) }
            }
        }
    }

    /// Reads MODE1; a chip in its power-on state (asleep or without auto-increment) is initialized again
    /// (a rare recovery: its 500 µs oscillator wait then happens inside that tick).
    public func checkHealth() -> DeviceFailure? {
        writesSinceCheck = 0
        switch readRetrying(Register.mode1) {
        case .failure(let f): return f
        case .success(let m):
            if m & PCA9685.sleep != 0 || m & PCA9685.autoIncrement == 0 {
                reinitializations += 1
                return initialize()
            }
            return nil
        }
    }

    public func write(_ command: SafeCommand) -> DeviceFailure? {
        writesSinceCheck += 1
        if writesSinceCheck >= healthCheckEvery, let f = checkHealth() { return f }
        for i in 0..<pwmChannels.count {
            if let f = writeChannel(pwmChannels[i], pulseMicros: command.pulseMicros[i]) { return f }
        }
        return nil
    }

    /// Stops every output: OE released (outputs disabled) and full-OFF on all channels. The chip
    /// keeps running (no SLEEP), so the next `write` needs no restart.
    @discardableResult
    public func stop() -> DeviceFailure? {
        let oeFailure = outputEnable?.set(false)
        let f = retrying { device.writeByte(register: Register.allLedOffH, value: PCA9685.fullBit) }
        for ch in pwmChannels { _ = retrying { device.writeByte(register: Register.led0OnL + UInt8(4 * ch) + 3, value: PCA9685.fullBit) } }
        return f ?? oeFailure
    }

    /// Full-OFF written the way any holder of the bus can (the output supervisor, after the driver's
    /// process died): ALL_LED_OFF_H first (one write stops every channel of a real chip, whatever its
    /// mode), then the channels' own registers (ON = 0, OFF = full-OFF) in auto-incremented blocks of eight
    /// channels, so the state is in every channel's register too; a block that fails is written channel by
    /// channel (LEDn_OFF_H). Each transfer is tried up to three times. Returns how many writes failed.
    public static func writeFullOff(device: RegisterDevice, channels: Range<Int>) -> Int {
        func tried(_ write: () -> DeviceFailure?) -> Bool {
            for _ in 0..<3 where write() == nil { return true }
            return false
        }
        var failed = tried { device.writeByte(register: Register.allLedOffH, value: fullBit) } ? 0 : 1
        var block = [UInt8](repeating: 0, count: 32)
        var first = channels.lowerBound
        while first < channels.upperBound {
            let n = min(8, channels.upperBound - first)
            for k in 0..<n { block[4 * k + 3] = fullBit }
            let register = Register.led0OnL + UInt8(4 * first)
            if !tried({ device.writeBlock(register: register, bytes: block, count: 4 * n) }) {
                for ch in first..<(first + n)
                where !tried({ device.writeByte(register: register + UInt8(4 * (ch - first)) + 3, value: fullBit) }) {
                    failed += 1
                }
            }
            first += n
        }
        return failed
    }
}
