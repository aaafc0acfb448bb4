import CShims
import Foundation
import Glibc
import RobotCore
import Safety

/// The output supervisor: a small second process that outlives the controller, holds the PCA9685's OE
/// line and its own handle on the PWM board's I2C device, and cuts the outputs (OE disabled, every
/// channel full-OFF) when the controller dies (a trap, SIGKILL, the OOM killer: its end of the channel
/// closes) or stops ticking for `stall` while the outputs are enabled (a hung loop, SIGSTOP). A cut is
/// latched for the supervisor's life: the controller sees it on its next write and latches "outputs cut
/// by the supervisor"; only a new run starts a new supervisor.
///
/// The channel is a Unix stream socket pair, one byte per message; sends use MSG_NOSIGNAL, so a dead
/// peer is an error, never a SIGPIPE.
public enum SupervisorMessage {
    /// Controller → supervisor: one control-loop tick ran.
    public static let tick = UInt8(ascii: ".")
    /// Controller → supervisor: assert OE (outputs enabled); answered with `enabled` or `cut`.
    public static let enable = UInt8(ascii: "E")
    /// Controller → supervisor: release OE (outputs disabled); ticks are no longer watched.
    public static let disable = UInt8(ascii: "D")
    /// Supervisor → controller: the I2C device and the OE line are held, OE disabled.
    public static let ready = UInt8(ascii: "R")
    /// Supervisor → controller: OE is asserted.
    public static let enabled = UInt8(ascii: "e")
    /// Supervisor → controller: the outputs were cut (latched).
    public static let cut = UInt8(ascii: "X")
}

/// What the supervisor holds and how it watches, as its command line carries it.
public struct SupervisorSettings: Sendable, Equatable {
    /// The i2c-dev node of the PWM board's bus, e.g. `/dev/i2c-1`.
    public var bus: String
    /// The PCA9685's 7-bit address.
    public var address: UInt8
    /// The OE line, if the board wires one.
    public var outputEnable: GPIOLineAddress?
    /// OE is asserted (outputs enabled) when the line is low: the chip's own polarity.
    public var outputEnableActiveLow: Bool
    /// Longest gap between ticks while the outputs are enabled.
    public var stall: Duration
    /// SCHED_FIFO priority for the supervisor (0: the normal scheduler).
    public var priority: Int

    public init(bus: String, address: UInt8, outputEnable: GPIOLineAddress?, outputEnableActiveLow: Bool, stall: Duration, priority: Int) {
        self.bus = bus
        self.address = address
        self.outputEnable = outputEnable
        self.outputEnableActiveLow = outputEnableActiveLow
        self.stall = stall
        self.priority = priority
    }

    /// The `cerebellum supervise …` arguments that carry these settings.
    public var arguments: [String] {
        var a = [
            "supervise", "--bus", bus, "--address", String(address), "--stall-ms", String(stall.nanoseconds / 1_000_000),
            "--priority", String(priority),
        ]
        if let oe = outputEnable {
            a += ["--oe-chip", oe.chipLabel, "--oe-line", oe.line, "--oe-active-low", outputEnableActiveLow ? "true" : "false"]
        }
        return a
    }
}

/// The supervisor's watch: what it does with each message and with time. Device-agnostic (any
/// `RegisterDevice` and `DigitalOutput`), so the same code runs in the supervisor process and in tests.
public final class OutputSupervisor {
    public let device: RegisterDevice
    public let outputEnable: DigitalOutput?
    public let stall: Duration
    /// The controller asked for the outputs enabled (and they were not cut since).
    public private(set) var outputsEnabled = false
    /// When the last tick arrived since the outputs were enabled; nil before the first one.
    public private(set) var lastTick: Instant?
    /// Why the outputs were cut, once they were.
    public private(set) var cutReason: String?
    /// Register writes that failed during the cut (after retries).
    public private(set) var failedWrites = 0

    public init(device: RegisterDevice, outputEnable: DigitalOutput?, stall: Duration) {
        self.device = device
        self.outputEnable = outputEnable
        self.stall = stall
    }

    /// By when the next tick must arrive; nil when nothing is watched (outputs disabled, no tick yet, or cut).
    public var deadline: Instant? {
        guard outputsEnabled, cutReason == nil, let lastTick else { return nil }
        return lastTick + stall
    }

    /// Handles one message from the controller at `now`; returns the reply to send, if any.
    public func receive(_ message: UInt8, now: Instant) -> UInt8? {
        switch message {
        case SupervisorMessage.tick:
            if outputsEnabled { lastTick = now }
            return nil
        case SupervisorMessage.enable:
            if cutReason != nil { return SupervisorMessage.cut }
            if let f = outputEnable?.set(true) {
                cut(reason: "the OE line could not be asserted (\(f))")
                return SupervisorMessage.cut
            }
            outputsEnabled = true
            lastTick = nil
            return SupervisorMessage.enabled
        case SupervisorMessage.disable:
            _ = outputEnable?.set(false)
            outputsEnabled = false
            lastTick = nil
            return nil
        default:
            // Not a message the controller sends: something is wrong with it; stop its outputs.
            cut(reason: "the controller sent byte 0x\(String(message, radix: 16)), not a supervisor message")
            return SupervisorMessage.cut
        }
    }

    /// Cuts the outputs if the watched tick is overdue at `now`. Returns true if it cut them now.
    @discardableResult
    public func checkStall(now: Instant) -> Bool {
        guard let deadline, now > deadline, let lastTick else { return false }
        cut(
            reason: String(
                format:
                    "no control-loop tick for %.0f ms while the outputs were enabled (limit %.0f ms): the controller hangs or was stopped",
                (now - lastTick).inMilliseconds, stall.inMilliseconds))
        return true
    }

    /// The controller's end of the channel closed. Whether it died or exited, every output goes off;
    /// it counts as a cut (reported loudly) only if it left the outputs enabled.
    public func controllerGone() {
        if outputsEnabled && cutReason == nil {
            cut(reason: "the controller died with the outputs enabled")
        } else {
            stopOutputs()
        }
    }

    /// OE released and every channel full-OFF; latched.
    public func cut(reason: String) {
        if cutReason == nil { cutReason = reason }
        outputsEnabled = false
        stopOutputs()
    }

    private func stopOutputs() {
        _ = outputEnable?.set(false)
        failedWrites += PCA9685.writeFullOff(device: device, channels: 0..<16)
    }
}

/// Runs the supervisor on `channel` (its end of the socket pair) until the controller's end closes:
/// poll with the watch's deadline as timeout, handle messages, cut on a stall. `report` gets one line
/// per cut. Returns when the controller is gone.
public func runOutputSupervisor(_ supervisor: OutputSupervisor, channel: Int32, clock: RobotClock, report: (String) -> Void) {
    let fd = FileDescriptor(rawValue: channel)
    var buffer = [UInt8](repeating: 0, count: 64)
    var reported = false
    func reportCut(at start: Instant) {
        guard !reported, let why = supervisor.cutReason else { return }
        reported = true
        let failures = supervisor.failedWrites == 0 ? "" : " (\(supervisor.failedWrites) register writes failed)"
        report(
            String(
                format: "%@: outputs cut: OE disabled, PCA9685 full-OFF on all 16 channels in %.1f ms%@",
                why, (clock.now() - start).inMilliseconds, failures))
    }
    while true {
        var timeoutMs: Int32 = 1000
        if let d = supervisor.deadline {
            let left = (d - clock.now()).nanoseconds
            timeoutMs = Int32(clamping: max(0, (left + 999_999) / 1_000_000))
        }
        let ready: Bool
        switch fd.poll(POLLIN, timeoutMilliseconds: timeoutMs) {
        case .success(let events): ready = events != 0
        case .failure(.interrupted): ready = false
        case .failure(let e):
            let start = clock.now()
            supervisor.cut(reason: "poll on the controller's channel failed: \(e)")
            reportCut(at: start)
            return
        }
        if ready {
            let received = buffer.withUnsafeMutableBytes { fd.receive(into: $0.baseAddress!, count: $0.count, flags: Int32(MSG_DONTWAIT)) }
            let n: Int
            switch received {
            case .success(let count) where count > 0: n = count
            case .failure(.tryAgain): n = 0
            default:  // the channel closed (0 bytes) or failed: the controller is gone
                let start = clock.now()
                supervisor.controllerGone()
                reportCut(at: start)
                return
            }
            if n > 0 {
                let now = clock.now()
                for i in 0..<n {
                    let wasCut = supervisor.cutReason != nil
                    if let reply = supervisor.receive(buffer[i], now: now) { sendSupervisorByte(channel, reply) }
                    if !wasCut && supervisor.cutReason != nil { reportCut(at: now) }
                }
            }
        }
        let now = clock.now()
        if supervisor.checkStall(now: now) {
            reportCut(at: now)
            sendSupervisorByte(channel, SupervisorMessage.cut)
        }
    }
}

/// One byte on the channel without blocking and without SIGPIPE (`.tryAgain` when the channel is full).
@discardableResult
public func sendSupervisorByte(_ channel: Int32, _ byte: UInt8) -> Result<Int, Errno> {
    var b = byte
    return FileDescriptor(rawValue: channel).send(&b, count: 1, flags: Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
}

/// The controller's side of the supervisor: it starts the process, sends a tick each loop tick, drives OE
/// through it (this is the PCA9685 driver's `outputEnable`), and learns of a cut without blocking.
public final class SupervisorLink: DigitalOutput {
    public let name = "pwm_output_enable (held by the output supervisor)"
    public let safeLevel = false
    /// The supervisor's process id (0 when it runs in this process, in tests).
    public let pid: Int32
    private var fd: Int32
    private var cutSeen = false
    private var buffer = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
    private var enabledAcks = 0

    /// Over an already connected channel (tests run the supervisor on a thread).
    public init(channel: Int32, pid: Int32 = 0) {
        fd = channel
        self.pid = pid
    }

    /// Starts `executable supervise …` and waits until it holds the devices. Throws if it cannot start,
    /// exits (its own error is on standard error) or does not answer within `readyTimeout`.
    public static func start(
        settings: SupervisorSettings, executable: String = "/proc/self/exe",
        readyTimeout: Duration = .seconds(10)
    ) throws -> SupervisorLink {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw HardwareError(message: "output supervisor: socketpair failed", errno: .current)
        }
        let args = ["cerebellum"] + settings.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var child: Int32 = 0
        let r = cb_spawn_with_channel(executable, &cArgs, pair[1], &child)
        FileDescriptor(rawValue: pair[1]).close()
        guard r == 0 else {
            FileDescriptor(rawValue: pair[0]).close()
            throw HardwareError(message: "output supervisor: cannot start \(executable)", errno: Errno(r))
        }
        let link = SupervisorLink(channel: pair[0], pid: child)
        switch link.waitFor(SupervisorMessage.ready, timeout: readyTimeout) {
        case .ok: return link
        case .cut, .closed:
            let status = link.reap(timeout: .seconds(2))
            throw HardwareError(message: "output supervisor did not start (\(status)); its message is above")
        case .timedOut:
            kill(child, SIGKILL)
            _ = link.reap(timeout: .seconds(2))
            throw HardwareError(message: "output supervisor did not answer within \(Int(readyTimeout.inSeconds)) s")
        }
    }

    deinit { close() }

    private enum Answer { case ok, cut, closed, timedOut }

    /// Waits for `message`, noting a cut or a closed channel on the way.
    private func waitFor(_ message: UInt8, timeout: Duration) -> Answer {
        let clock = SystemClock()
        let end = clock.now() + timeout
        while fd >= 0 {
            let left = (end - clock.now()).nanoseconds
            if left <= 0 { return .timedOut }
            let channel = FileDescriptor(rawValue: fd)
            switch channel.poll(POLLIN, timeoutMilliseconds: Int32(clamping: (left + 999_999) / 1_000_000)) {
            case .success(0), .failure(.interrupted): continue
            case .success: break
            case .failure: return .closed
            }
            var b: UInt8 = 0
            let n: Int
            switch channel.receive(into: &b, count: 1, flags: Int32(MSG_DONTWAIT)) {
            case .success(let count) where count > 0: n = count
            case .failure(.tryAgain): n = 0
            default:
                cutSeen = true
                return .closed
            }
            if n == 1 {
                if b == SupervisorMessage.cut {
                    cutSeen = true
                    return .cut
                }
                if b == message { return .ok }
            }
        }
        return .closed
    }

    /// One tick. Never blocks, never allocates: a full channel (the supervisor is not reading) drops it.
    public func tick() {
        guard fd >= 0, !cutSeen else { return }
        if case .failure(let e) = sendSupervisorByte(fd, SupervisorMessage.tick), e != .tryAgain { cutSeen = true }
    }

    /// True once the supervisor cut the outputs or is gone. Reads its messages without blocking (one
    /// `recv` per call); never allocates.
    public var isCut: Bool {
        guard !cutSeen else { return true }
        guard fd >= 0 else { return true }
        let channel = FileDescriptor(rawValue: fd)
        let received = withUnsafeMutableBytes(of: &buffer) {
            channel.receive(into: $0.baseAddress!, count: $0.count, flags: Int32(MSG_DONTWAIT))
        }
        switch received {
        case .success(let n) where n > 0:
            withUnsafeBytes(of: &buffer) { b in
                for i in 0..<n where b[i] == SupervisorMessage.cut { cutSeen = true }
            }
        case .failure(.tryAgain): break
        default: cutSeen = true  // the channel closed, or failed: the supervisor is gone
        }
        return cutSeen
    }

    /// OE through the supervisor: asserting waits (up to 1 s) for it to confirm; releasing does not wait.
    public func set(_ asserted: Bool) -> DeviceFailure? {
        guard fd >= 0, !isCut else { return .cutBySupervisor }
        guard case .success = sendSupervisorByte(fd, asserted ? SupervisorMessage.enable : SupervisorMessage.disable) else {
            cutSeen = true
            return .cutBySupervisor
        }
        guard asserted else { return nil }
        switch waitFor(SupervisorMessage.enabled, timeout: .seconds(1)) {
        case .ok: return nil
        case .timedOut: return .io(errno: .timedOut)
        case .cut, .closed: return .cutBySupervisor
        }
    }

    /// `close()`.
    public func shutdown() { close() }

    /// Closes the channel (the supervisor turns every output off and exits) and waits for it to exit.
    public func close() {
        guard fd >= 0 else { return }
        FileDescriptor(rawValue: fd).close()
        fd = -1
        _ = reap(timeout: .seconds(2))
    }

    /// Waits up to `timeout` for the supervisor process to exit; says how it ended.
    private func reap(timeout: Duration) -> String {
        var status: String?
        return reapChild(pid, timeout: timeout, status: &status) ?? "still running"
    }
}

/// The PWM board as the control loop sees it when a supervisor holds its outputs: every write first
/// asks whether the supervisor cut them; once it did, nothing more is written (the chip's own stop is
/// sent once, in case a write slipped in after the cut) and every write reports `.cutBySupervisor`.
public final class SupervisedActuators: ActuatorOutput {
    public let chip: PCA9685
    public let link: SupervisorLink
    private var stoppedAfterCut = false
    public var channelCount: Int { chip.channelCount }

    public init(chip: PCA9685, link: SupervisorLink) {
        self.chip = chip
        self.link = link
    }

    /// The chip initialized; its outputs enabled through the supervisor.
    public func activate() throws { try chip.activate() }

    /// The chip's outputs off and disabled.
    public func deactivate() { chip.deactivate() }

    public func write(_ command: SafeCommand) -> DeviceFailure? {
        if link.isCut {
            if !stoppedAfterCut {
                chip.stop()
                stoppedAfterCut = true
            }
            return .cutBySupervisor
        }
        return chip.write(command)
    }
}
