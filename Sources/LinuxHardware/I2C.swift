import CI2C
import CShims
import Glibc
import RobotCore

/// An I2C adapter through i2c-dev (`/dev/i2c-N`), found by bus number or by the adapter's name
/// (`/sys/bus/i2c/devices/i2c-N/name`, e.g. `bcm2835 (i2c@7e804000)`, `SMBus stub driver`).
public struct I2CBus: Sendable, Equatable, CustomStringConvertible {
    public let number: Int
    public let adapterName: String
    public var path: String { "/dev/i2c-\(number)" }
    public var description: String { "\(path) (\(adapterName))" }

    /// Every adapter the kernel lists, in bus order.
    public static func list(sysfs: String = "/sys/bus/i2c/devices") -> [I2CBus] {
        guard let dir = opendir(sysfs) else { return [] }
        defer { closedir(dir) }
        var out: [I2CBus] = []
        while let e = readdir(dir) {
            let name = cString(fixed: e.pointee.d_name)
            guard name.hasPrefix("i2c-"), let n = Int(name.dropFirst(4)) else { continue }
            let adapter = readSysfsLine("\(sysfs)/\(name)/name") ?? "?"
            out.append(I2CBus(number: n, adapterName: adapter))
        }
        return out.sorted { $0.number < $1.number }
    }

    /// A bus given as a number ("1", "i2c-1", "/dev/i2c-1") or as the adapter's name (exact, or a
    /// unique substring).
    public static func find(_ spec: String) throws -> I2CBus {
        let buses = list()
        var digits = Substring(spec)
        for prefix in ["/dev/i2c-", "i2c-"] where digits.hasPrefix(prefix) { digits = digits.dropFirst(prefix.count) }
        if let n = Int(digits) {
            if let b = buses.first(where: { $0.number == n }) { return b }
            if access("/dev/i2c-\(n)", F_OK) == 0 { return I2CBus(number: n, adapterName: "?") }
            throw HardwareError(
                message: "I2C bus \(n): /dev/i2c-\(n) does not exist (is i2c-dev loaded and the bus enabled?); buses: \(describe(buses))")
        }
        if let b = buses.first(where: { $0.adapterName == spec }) { return b }
        let matches = buses.filter { $0.adapterName.contains(spec) }
        if matches.count == 1 { return matches[0] }
        throw HardwareError(
            message: matches.isEmpty
                ? "no I2C adapter is named '\(spec)'; buses: \(describe(buses))"
                : "I2C adapter name '\(spec)' is ambiguous: \(describe(matches))")
    }

    private static func describe(_ buses: [I2CBus]) -> String {
        buses.isEmpty ? "none" : buses.map(\.description).joined(separator: ", ")
    }
}

/// The first line of a small text file (a sysfs attribute), without its newline; nil if unreadable.
public func readSysfsLine(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 256)
    guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
    let s = cString(buf)
    return s.hasSuffix("\n") ? String(s.dropLast()) : s
}

/// One device on an I2C bus: SMBus byte, word and block transfers through i2c-dev (libi2c). Calls
/// return the errno as a `DeviceFailure`; a vanished adapter (ENODEV) is `.lost`.
public final class I2CDevice: RegisterDevice {
    public let bus: I2CBus
    /// 7-bit address.
    public let address: UInt8
    private let fd: Int32
    /// The adapter's functionality mask (I2C_FUNCS).
    public let functionality: UInt

    public var location: String { "\(bus.path) address 0x\(String(address, radix: 16))" }

    public init(bus: I2CBus, address: UInt8) throws {
        guard (0x03...0x77).contains(address) else {
            throw HardwareError(message: "I2C address 0x\(String(address, radix: 16)) is outside the 7-bit range 0x03...0x77")
        }
        let f = try FileDescriptor.open(bus.path, O_RDWR | O_CLOEXEC)
        var funcs: UInt = 0
        if case .failure = f.control(UInt(I2C_FUNCS), &funcs) { funcs = 0 }
        if case .failure(let e) = f.control(UInt(I2C_SLAVE), UnsafeMutableRawPointer(bitPattern: UInt(address))) {
            f.close()
            let place = "\(bus.path) address 0x\(String(address, radix: 16))"
            if e == Errno(EBUSY) { throw HardwareError(message: "\(place): a kernel driver owns this address") }
            throw HardwareError(device: place, "cannot select the address", errno: e)
        }
        fd = f.rawValue
        functionality = funcs
        self.bus = bus
        self.address = address
    }

    deinit { FileDescriptor(rawValue: fd).close() }

    /// The open i2c-dev file (for poll-free diagnostics and the hardware-in-the-loop fault injection).
    public var fileDescriptor: Int32 { fd }

    /// True if the adapter can do SMBus byte-data reads and writes and I2C block writes (what the
    /// PCA9685 driver needs).
    public var supportsRegisterAccess: Bool {
        let need = UInt(I2C_FUNC_SMBUS_READ_BYTE_DATA) | UInt(I2C_FUNC_SMBUS_WRITE_BYTE_DATA) | UInt(I2C_FUNC_SMBUS_WRITE_I2C_BLOCK)
        return functionality & need == need
    }

    @inline(__always) private func failure() -> DeviceFailure { errno == ENODEV ? .lost : .io(errno: .current) }

    public func readByte(register: UInt8) -> Result<UInt8, DeviceFailure> {
        let r = i2c_smbus_read_byte_data(fd, register)
        return r < 0 ? .failure(failure()) : .success(UInt8(truncatingIfNeeded: r))
    }

    public func writeByte(register: UInt8, value: UInt8) -> DeviceFailure? {
        i2c_smbus_write_byte_data(fd, register, value) < 0 ? failure() : nil
    }

    public func writeBlock(register: UInt8, bytes: UnsafePointer<UInt8>, count: Int) -> DeviceFailure? {
        precondition(count >= 1 && count <= 32, "an I2C block write carries 1...32 bytes")
        return i2c_smbus_write_i2c_block_data(fd, register, UInt8(count), bytes) < 0 ? failure() : nil
    }

    /// Which 7-bit addresses answer on `bus`, probing as i2cdetect does by default: a quick write,
    /// except a byte read in 0x30–0x37 and 0x50–0x5F (where a quick write can corrupt EEPROMs or
    /// lock up some chips). Addresses claimed by a kernel driver are reported as busy, not probed.
    public static func scan(bus: I2CBus, range: ClosedRange<UInt8> = 0x08...0x77) throws -> [(address: UInt8, state: ProbeResult)] {
        let device = try FileDescriptor.open(bus.path, O_RDWR | O_CLOEXEC)
        defer { device.close() }
        let f = device.rawValue
        var funcs: UInt = 0
        _ = device.control(UInt(I2C_FUNCS), &funcs)
        let canQuick = funcs & UInt(I2C_FUNC_SMBUS_QUICK) != 0
        let canReadByte = funcs & UInt(I2C_FUNC_SMBUS_READ_BYTE) != 0
        var out: [(UInt8, ProbeResult)] = []
        for a in range {
            if case .failure(let e) = device.control(UInt(I2C_SLAVE), UnsafeMutableRawPointer(bitPattern: UInt(a))) {
                out.append((a, e == Errno(EBUSY) ? .busy : .absent))
                continue
            }
            let readFirst = (0x30...0x37).contains(a) || (0x50...0x5F).contains(a) || !canQuick
            let r: Int32
            if readFirst {
                guard canReadByte else { out.append((a, .unprobed)); continue }
                r = i2c_smbus_read_byte(f)
            } else {
                r = i2c_smbus_write_quick(f, UInt8(I2C_SMBUS_WRITE))
            }
            out.append((a, r < 0 ? .absent : .present))
        }
        return out
    }

    public enum ProbeResult: Sendable, Equatable {
        case present, absent, busy, unprobed
    }
}
