import CGPIOD
import Glibc
import RobotCore

/// Bias for an input line.
public enum GPIOBias: String, Sendable, CaseIterable {
    case asIs = "as_is", disabled, pullUp = "pull_up", pullDown = "pull_down"
}

/// Where a line is: the chip by its label (e.g. `pinctrl-bcm2711`, `gpio-sim.0-node0`), the line by
/// its name (e.g. `GPIO17`) or, on boards whose device tree names no lines, by its offset on that
/// labelled chip. Never a bare global number: numbers move between kernels and boards.
public struct GPIOLineAddress: Sendable, Equatable, CustomStringConvertible {
    public var chipLabel: String
    public var line: String
    public init(chipLabel: String, line: String) {
        self.chipLabel = chipLabel
        self.line = line
    }
    public var description: String { "\(chipLabel)/\(line)" }
}

/// One chip, opened by label, shared by the lines requested on it.
public final class GPIOChip {
    public let label: String
    public let name: String
    let chip: OpaquePointer

    public init(label: String) throws {
        guard let c = gpiod_chip_open_by_label(label) else {
            let why = errno == ENOENT ? "no GPIO chip has this label" : Errno.current.description
            let known = GPIOChip.list().map { "\($0.label) (\($0.name), \($0.lines) lines)" }
            throw HardwareError(message: "GPIO chip '\(label)': \(why); chips: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        chip = c
        self.label = label
        name = String(cString: gpiod_chip_name(c))
    }

    deinit { gpiod_chip_close(chip) }

    /// Every GPIO chip on this machine: name (gpiochipN), label and line count.
    public static func list() -> [(name: String, label: String, lines: Int)] {
        var out: [(String, String, Int)] = []
        guard let iter = gpiod_chip_iter_new() else { return [] }
        while let c = gpiod_chip_iter_next(iter) {
            out.append((String(cString: gpiod_chip_name(c)), String(cString: gpiod_chip_label(c)), Int(gpiod_chip_num_lines(c))))
        }
        gpiod_chip_iter_free(iter)
        return out
    }

    /// The names of this chip's lines ("" for unnamed ones), in offset order.
    public func lineNames() -> [String] {
        (0..<gpiod_chip_num_lines(chip)).map { off in
            guard let l = gpiod_chip_get_line(chip, off), let n = gpiod_line_name(l) else { return "" }
            return String(cString: n)
        }
    }

    /// Finds a line by name, or by decimal offset when `line` is all digits.
    func find(_ line: String) throws -> OpaquePointer {
        if let offset = UInt32(line) {
            guard offset < gpiod_chip_num_lines(chip), let l = gpiod_chip_get_line(chip, offset) else {
                throw HardwareError(message: "GPIO chip '\(label)' has no line at offset \(offset) (it has \(gpiod_chip_num_lines(chip)))")
            }
            return l
        }
        guard let l = gpiod_chip_find_line(chip, line) else {
            let names = lineNames().filter { !$0.isEmpty }
            throw HardwareError(
                message: "GPIO chip '\(label)' has no line named '\(line)'"
                    + (names.isEmpty ? " (its lines are unnamed: give the offset)" : "; lines: \(names.prefix(64).joined(separator: ", "))")
            )
        }
        return l
    }

    fileprivate func request(_ line: OpaquePointer, address: GPIOLineAddress, type: Int, flags: Int32, initial: Int32, consumer: String)
        throws
    {
        var config = gpiod_line_request_config()
        let rc = consumer.withCString { name -> Int32 in
            config.consumer = name
            config.request_type = Int32(type)
            config.flags = flags
            return gpiod_line_request(line, &config, initial)
        }
        if rc != 0 {
            let why =
                errno == EBUSY
                ? "the line is in use by '\(gpiod_line_consumer(line).map { String(cString: $0) } ?? "another program")'"
                : Errno.current.description
            throw HardwareError(message: "GPIO \(address): cannot request the line: \(why)")
        }
    }
}

/// An output line requested with its safe level as the initial value, so it never glitches to an
/// unsafe level on open; on `release()` (and deinit) it is driven back to the safe level first.
public final class GPIOOutputLine: DigitalOutput {
    public let name: String
    public let address: GPIOLineAddress
    public let safeLevel: Bool
    private let chip: GPIOChip
    private var line: OpaquePointer?

    /// - Parameters:
    ///   - activeLow: the line is asserted when low (`set(true)` drives it low).
    public init(name: String, chip: GPIOChip, line: String, activeLow: Bool, safeLevel: Bool, consumer: String = "cerebellum") throws {
        self.name = name
        self.chip = chip
        self.safeLevel = safeLevel
        address = GPIOLineAddress(chipLabel: chip.label, line: line)
        let l = try chip.find(line)
        try chip.request(
            l, address: address, type: GPIOD_LINE_REQUEST_DIRECTION_OUTPUT,
            flags: activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0,
            initial: safeLevel ? 1 : 0, consumer: consumer)
        self.line = l
    }

    deinit { release() }

    public func set(_ asserted: Bool) -> DeviceFailure? {
        guard let line else { return .lost }
        return gpiod_line_set_value(line, asserted ? 1 : 0) == 0 ? nil : .io(errno: .current)
    }

    /// Back to the safe level; the line stays requested.
    public func deactivate() { _ = set(safeLevel) }

    /// `release()`.
    public func shutdown() { release() }

    /// Drives the safe level, then gives the line back to the kernel.
    public func release() {
        guard let l = line else { return }
        _ = gpiod_line_set_value(l, safeLevel ? 1 : 0)
        gpiod_line_release(l)
        line = nil
    }
}

/// An input line (e-stop, limit switch) with bias, active-low and edge events on both edges. A read
/// reports the line asserted if it is asserted now *or* was asserted at any moment since the last read
/// (an edge event queued by the kernel), so a press shorter than a tick is never missed.
public final class GPIOInputLine: DigitalInput {
    public let name: String
    public let address: GPIOLineAddress
    private let chip: GPIOChip
    private var line: OpaquePointer?
    private var event = gpiod_line_event()
    /// Edge events seen, by kind.
    public private(set) var assertEdges = 0
    public private(set) var releaseEdges = 0

    public init(name: String, chip: GPIOChip, line: String, activeLow: Bool, bias: GPIOBias, consumer: String = "cerebellum") throws {
        self.name = name
        self.chip = chip
        address = GPIOLineAddress(chipLabel: chip.label, line: line)
        let l = try chip.find(line)
        var flags: Int32 = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        switch bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
        try chip.request(l, address: address, type: GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES, flags: flags, initial: 0, consumer: consumer)
        self.line = l
    }

    deinit { release() }

    public func read() -> InputReading {
        guard let line else { return .failed(.lost) }
        var pulsed = false
        var timeout = timespec(tv_sec: 0, tv_nsec: 0)
        // Drain the queued edges without blocking (the kernel keeps up to 16 per line).
        while true {
            let w = gpiod_line_event_wait(line, &timeout)
            if w < 0 { return .failed(.io(errno: .current)) }
            if w == 0 { break }
            if gpiod_line_event_read(line, &event) != 0 { return .failed(.io(errno: .current)) }
            if event.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE) {
                assertEdges += 1
                pulsed = true
            } else {
                releaseEdges += 1
            }
        }
        let v = gpiod_line_get_value(line)
        if v < 0 { return .failed(errno == ENODEV ? .lost : .io(errno: .current)) }
        return .level(v == 1 || pulsed)
    }

    /// `release()`.
    public func shutdown() { release() }

    public func release() {
        if let l = line { gpiod_line_release(l) }
        line = nil
    }
}
