import Glibc
import RobotCore

/// A register-level model of the NXP PCA9685 16-channel 12-bit PWM controller, as its datasheet
/// (rev. 4, 2015) describes it: MODE1/MODE2, per-channel ON/OFF registers, ALL_LED, PRE_SCALE; sleep
/// and restart; auto-increment; PRE_SCALE writable only while asleep; full-ON / full-OFF bits; the
/// power-on reset state. It stands in for the chip in unit tests and behind the simulated board, so the
/// real driver's register protocol is exercised without hardware. Failures can be injected.
public final class PCA9685Model: RegisterDevice {
    public enum Register {
        public static let mode1: UInt8 = 0x00
        public static let mode2: UInt8 = 0x01
        public static let led0OnL: UInt8 = 0x06
        public static let allLedOnL: UInt8 = 0xFA
        public static let allLedOffH: UInt8 = 0xFD
        public static let preScale: UInt8 = 0xFE
    }
    public enum Mode1 {
        public static let restart: UInt8 = 0x80
        public static let extclk: UInt8 = 0x40
        public static let autoIncrement: UInt8 = 0x20
        public static let sleep: UInt8 = 0x10
        public static let allCall: UInt8 = 0x01
    }

    public var location: String { "the simulated bus" }

    /// The chip's real internal oscillator, Hz (nominally 25 MHz; clones drift by a few per cent).
    public var oscillatorHz: Double
    /// The 256 registers as the chip holds them.
    public private(set) var registers = [UInt8](repeating: 0, count: 256)
    /// Writes that reached the chip, and writes to PRE_SCALE ignored because the chip was awake.
    public private(set) var writeCount = 0
    public private(set) var ignoredPrescaleWrites = 0
    /// The next this-many transfers fail with `failureErrno` (a bus glitch).
    public var failingTransfers = 0
    public var failureErrno: Errno = .ioError
    /// While true every transfer fails with ENXIO (the chip does not acknowledge its address).
    public var detached = false
    /// Writes of RESTART sooner than the datasheet's 500 µs after SLEEP was cleared (the oscillator is
    /// not stable yet). Checked when the model has a clock.
    public private(set) var restartTooEarly = 0
    private var wokeAt: Instant?
    private let clock: RobotClock?
    /// Called after every write, e.g. to pass the new pulses to a simulated robot.
    public var onChange: (() -> Void)?

    public init(oscillatorHz: Double = 25_000_000, clock: RobotClock? = nil) {
        self.oscillatorHz = oscillatorHz
        self.clock = clock
        powerOnReset()
    }

    /// The datasheet's power-on state: MODE1 0x11 (asleep, ALLCALL), MODE2 0x04 (totem pole), every
    /// output full-OFF (LEDn_OFF_H bit 4), PRE_SCALE 0x1E (200 Hz).
    public func powerOnReset() {
        for i in registers.indices { registers[i] = 0 }
        registers[Int(Register.mode1)] = Mode1.sleep | Mode1.allCall
        registers[Int(Register.mode2)] = 0x04
        for ch in 0..<16 { registers[Int(Register.led0OnL) + 4 * ch + 3] = 0x10 }
        registers[Int(Register.preScale)] = 0x1E
        wokeAt = nil
    }

    public var isAsleep: Bool { registers[0] & Mode1.sleep != 0 }

    /// The PWM period the chip produces now, s.
    public var periodSeconds: Double { Double(Int(registers[Int(Register.preScale)]) + 1) * 4096 / oscillatorHz }

    /// The high time of channel `ch`'s output per period, µs: 0 when asleep or full-OFF, the whole
    /// period when full-ON.
    public func pulseMicros(channel ch: Int) -> Double {
        precondition((0..<16).contains(ch))
        if isAsleep { return 0 }
        let base = Int(Register.led0OnL) + 4 * ch
        let onH = registers[base + 1], offH = registers[base + 3]
        if offH & 0x10 != 0 { return 0 }
        if onH & 0x10 != 0 { return periodSeconds * 1e6 }
        let on = Int(registers[base]) | Int(onH & 0x0F) << 8
        let off = Int(registers[base + 2]) | Int(offH & 0x0F) << 8
        let high = (off - on + 4096) % 4096
        return Double(high) * periodSeconds * 1e6 / 4096
    }

    private func transferFailure() -> DeviceFailure? {
        if detached { return .io(errno: .noSuchDeviceOrAddress) }
        if failingTransfers > 0 {
            failingTransfers -= 1
            return .io(errno: failureErrno)
        }
        return nil
    }

    public func readByte(register: UInt8) -> Result<UInt8, DeviceFailure> {
        if let f = transferFailure() { return .failure(f) }
        return .success(registers[Int(register)])
    }

    public func writeByte(register: UInt8, value: UInt8) -> DeviceFailure? {
        if let f = transferFailure() { return f }
        store(register, value)
        onChange?()
        return nil
    }

    public func writeBlock(register: UInt8, bytes: UnsafePointer<UInt8>, count: Int) -> DeviceFailure? {
        precondition(count >= 1 && count <= 32, "an I2C block write carries 1...32 bytes")
        if let f = transferFailure() { return f }
        var r = Int(register)
        for i in 0..<count {
            store(UInt8(r), bytes[i])
            // Without MODE1.AI every byte lands in the same register.
            if registers[0] & Mode1.autoIncrement != 0 { r = nextAutoIncrement(r) }
        }
        onChange?()
        return nil
    }

    /// Auto-increment wraps from 0x45 (LED15_OFF_H) to 0x00 and from 0xFF to 0x00; ALL_LED and
    /// PRE_SCALE are reached only by addressing them.
    private func nextAutoIncrement(_ r: Int) -> Int {
        if r == 0x45 || r >= 0xFF { return 0 }
        return r + 1
    }

    private func store(_ register: UInt8, _ value: UInt8) {
        writeCount += 1
        switch register {
        case Register.mode1:
            let old = registers[0]
            var new = value
            // RESTART reads back 1 when the chip was put to sleep with outputs active; writing 1 clears it.
            if value & Mode1.restart != 0 {
                if let clock, let w = wokeAt, clock.now() - w < .microseconds(500) { restartTooEarly += 1 }
                new &= ~Mode1.restart
            } else if old & Mode1.restart != 0 {
                new |= Mode1.restart
            }
            if old & Mode1.sleep == 0 && new & Mode1.sleep != 0 && anyOutputActive { new |= Mode1.restart }
            if old & Mode1.sleep != 0 && new & Mode1.sleep == 0 { wokeAt = clock?.now() }
            registers[0] = new
        case Register.preScale:
            if isAsleep { registers[Int(register)] = value } else { ignoredPrescaleWrites += 1 }
        case Register.allLedOnL...Register.allLedOffH:
            // ALL_LED registers load every channel's register at the same offset; they read back 0.
            let offset = Int(register - Register.allLedOnL)
            for ch in 0..<16 { registers[Int(Register.led0OnL) + 4 * ch + offset] = value }
            registers[Int(register)] = 0
        default:
            registers[Int(register)] = value
        }
    }

    private var anyOutputActive: Bool {
        for ch in 0..<16 where registers[Int(Register.led0OnL) + 4 * ch + 3] & 0x10 == 0 { return true }
        return false
    }
}
