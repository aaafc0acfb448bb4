import Glibc
import RobotCore

/// `_IOC(direction, 'E', number, size)` of `linux/input.h`.
private func evdevRequest(read: Bool, number: UInt, size: Int) -> UInt {
    (read ? 2 << 30 : 1 << 30) | UInt(size) << 16 | 0x45 << 8 | number
}

/// A Linux input device (`/dev/input/eventN`, a gamepad), read through evdev: opened non-blocking, its name
/// and axis ranges asked once, its events read after poll(2). `struct input_event` is 24 bytes on the
/// 64-bit kernels Cerebellum runs on (a 16-byte `timeval`, then type, code, value).
public final class EvdevDevice: InputEventSource, @unchecked Sendable {
    public let path: String
    public let name: String
    private let fd: FileDescriptor
    private var buffer = [UInt8](repeating: 0, count: 64 * 24)
    static let eventBytes = 24

    /// Opens `path`; throws, naming it, when it is missing, not readable or not an input device.
    public init(path: String) throws {
        self.path = path
        let device = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        var text = [CChar](repeating: 0, count: 256)
        let named = text.withUnsafeMutableBytes { device.control(evdevRequest(read: true, number: 0x06, size: 255), $0.baseAddress) }
        if case .failure(let e) = named {
            device.close()
            throw HardwareError(device: path, "not an input device (EVIOCGNAME)", errno: e)
        }
        fd = device
        name = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private var isClosed = false

    deinit { close() }

    /// The events of `bytes`, whole 24-byte records only (the kernel never splits one).
    static func decode(_ bytes: UnsafeRawBufferPointer, into events: inout [InputEvent]) {
        var at = 0
        while at + eventBytes <= bytes.count {
            events.append(
                InputEvent(
                    type: bytes.loadUnaligned(fromByteOffset: at + 16, as: UInt16.self),
                    code: bytes.loadUnaligned(fromByteOffset: at + 18, as: UInt16.self),
                    value: bytes.loadUnaligned(fromByteOffset: at + 20, as: Int32.self)))
            at += eventBytes
        }
    }

    public func read(into events: inout [InputEvent], timeout: Duration) -> DeviceFailure? {
        guard !isClosed else { return .lost }
        switch fd.poll(Int32(POLLIN), timeoutMilliseconds: Int32(max(0, timeout.inMilliseconds))) {
        case .failure(let e) where e == .interrupted: return nil
        case .failure(let e): return .io(errno: e)
        case .success(let revents):
            if revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && revents & Int16(POLLIN) == 0 { return .lost }
            guard revents & Int16(POLLIN) != 0 else { return nil }
        }
        while true {
            let r = buffer.withUnsafeMutableBytes { fd.read(into: $0.baseAddress!, count: $0.count) }
            switch r {
            case .success(0): return .lost
            case .success(let n):
                buffer.withUnsafeBytes { Self.decode(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &events) }
                if n < buffer.count { return nil }
            case .failure(let e) where e.rawValue == EAGAIN: return nil
            case .failure(let e) where e.rawValue == ENODEV: return .lost
            case .failure(let e): return .io(errno: e)
            }
        }
    }

    /// `struct input_absinfo`: value, minimum, maximum, fuzz, flat, resolution.
    private func absInfo(_ code: UInt16) -> [Int32]? {
        var info = [Int32](repeating: 0, count: 6)
        let r = info.withUnsafeMutableBytes { fd.control(evdevRequest(read: true, number: 0x40 + UInt(code), size: 24), $0.baseAddress) }
        guard case .success = r else { return nil }
        return info
    }

    public func axisRange(_ code: UInt16) -> ClosedRange<Int32>? {
        guard let info = absInfo(code), info[1] < info[2] else { return nil }
        return info[1]...info[2]
    }

    public func currentValue(_ control: InputControl) -> Int32? {
        if control.isAxis { return absInfo(control.code)?[0] }
        var keys = [UInt8](repeating: 0, count: 96)  // KEY_MAX 0x2ff
        let r = keys.withUnsafeMutableBytes { fd.control(evdevRequest(read: true, number: 0x18, size: 96), $0.baseAddress) }
        guard case .success = r, Int(control.code) / 8 < keys.count else { return nil }
        return keys[Int(control.code) / 8] & (1 << (control.code % 8)) != 0 ? 1 : 0
    }

    /// Closes the device (once; later calls and reads find it gone).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        fd.close()
    }
}

/// A virtual gamepad made through `/dev/uinput` (the kernel then shows it as `/dev/input/eventN`, read like a
/// real one): for the HIL guest's test of the gamepad path, and the host's when `/dev/uinput` is there.
public final class VirtualGamepad: @unchecked Sendable {
    public let eventPath: String
    private let fd: FileDescriptor

    /// Creates a pad with these buttons and axes (each axis −32768…32767); throws when uinput is missing.
    public init(name: String, buttons: [UInt16], axes: [UInt16], uinput: String = "/dev/uinput") throws {
        let device = try FileDescriptor.open(uinput, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        func set(_ number: UInt, _ value: Int32) throws {
            // UI_SET_*BIT take the value itself as the ioctl's argument.
            let r = device.control(1 << 30 | 4 << 16 | 0x55 << 8 | number, UnsafeMutableRawPointer(bitPattern: Int(value)))
            if case .failure(let e) = r { throw HardwareError(device: uinput, "ioctl 0x\(String(number, radix: 16))", errno: e) }
        }
        do {
            try set(100, Int32(InputEvent.key))  // UI_SET_EVBIT
            try set(100, Int32(InputEvent.absolute))
            for b in buttons { try set(101, Int32(b)) }  // UI_SET_KEYBIT
            for a in axes {
                try set(103, Int32(a))  // UI_SET_ABSBIT
                // struct uinput_abs_setup: u16 code, 2 bytes padding, struct input_absinfo.
                var setup = [UInt8](repeating: 0, count: 28)
                setup.withUnsafeMutableBytes { b in
                    b.storeBytes(of: a, toByteOffset: 0, as: UInt16.self)
                    b.storeBytes(of: Int32(-32768), toByteOffset: 8, as: Int32.self)
                    b.storeBytes(of: Int32(32767), toByteOffset: 12, as: Int32.self)
                }
                let r = setup.withUnsafeMutableBytes { device.control(1 << 30 | 28 << 16 | 0x55 << 8 | 4, $0.baseAddress) }  // UI_ABS_SETUP
                if case .failure(let e) = r { throw HardwareError(device: uinput, "UI_ABS_SETUP", errno: e) }
            }
            // struct uinput_setup: struct input_id (bustype, vendor, product, version), char name[80], u32 ff_effects_max.
            var setup = [UInt8](repeating: 0, count: 92)
            setup.withUnsafeMutableBytes { b in
                b.storeBytes(of: UInt16(0x03), toByteOffset: 0, as: UInt16.self)  // BUS_USB
                b.storeBytes(of: UInt16(0x1209), toByteOffset: 2, as: UInt16.self)
                b.storeBytes(of: UInt16(0x0001), toByteOffset: 4, as: UInt16.self)
                for (i, c) in name.utf8.prefix(79).enumerated() { b[8 + i] = c }
            }
            if case .failure(let e) = setup.withUnsafeMutableBytes({ device.control(1 << 30 | 92 << 16 | 0x55 << 8 | 3, $0.baseAddress) }) {
                throw HardwareError(device: uinput, "UI_DEV_SETUP", errno: e)
            }
            if case .failure(let e) = device.control(0x5501, nil) { throw HardwareError(device: uinput, "UI_DEV_CREATE", errno: e) }
            // UI_GET_SYSNAME(len): "inputN", whose event node is /sys/class/input/inputN/eventM.
            var sys = [CChar](repeating: 0, count: 64)
            if case .failure(let e) = sys.withUnsafeMutableBytes({ device.control(2 << 30 | 64 << 16 | 0x55 << 8 | 44, $0.baseAddress) }) {
                throw HardwareError(device: uinput, "UI_GET_SYSNAME", errno: e)
            }
            let input = sys.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            eventPath = try Self.eventNode(of: input)
            fd = device
        } catch {
            device.close()
            throw error
        }
    }

    /// `/dev/input/eventM` of `/sys/class/input/inputN` (waiting up to a second for the kernel to make it).
    private static func eventNode(of input: String) throws -> String {
        for _ in 0..<100 {
            if let dir = opendir("/sys/class/input/\(input)") {
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if name.hasPrefix("event"), access("/dev/input/\(name)", R_OK) == 0 { return "/dev/input/\(name)" }
                }
            }
            usleep(10_000)
        }
        throw HardwareError(device: "/sys/class/input/\(input)", "no readable /dev/input/event node appeared")
    }

    /// Writes events and a `SYN_REPORT`.
    public func emit(_ events: [InputEvent]) throws {
        var bytes = [UInt8](repeating: 0, count: (events.count + 1) * 24)
        bytes.withUnsafeMutableBytes { b in
            for (i, e) in (events + [InputEvent(type: InputEvent.sync, code: InputEvent.syncReport, value: 0)]).enumerated() {
                b.storeBytes(of: e.type, toByteOffset: i * 24 + 16, as: UInt16.self)
                b.storeBytes(of: e.code, toByteOffset: i * 24 + 18, as: UInt16.self)
                b.storeBytes(of: e.value, toByteOffset: i * 24 + 20, as: Int32.self)
            }
        }
        let r = bytes.withUnsafeBytes { fd.write($0.baseAddress!, count: $0.count) }
        if case .failure(let e) = r { throw HardwareError(device: "uinput", "write", errno: e) }
    }

    /// Unplugs the pad (UI_DEV_DESTROY) and closes uinput.
    public func unplug() {
        _ = fd.control(0x5502, nil)
        fd.close()
    }
}
