import Foundation
import RobotCore
import Safety
import NeuralEngine
import Planning
import Simulation

/// What kind of actuator hangs on a channel.
public enum ActuatorKind: String, Sendable, CaseIterable {
    case servo
    case esc
    case gpioHBridge = "gpio_hbridge"
}

/// Which driver provides a device.
public enum DeviceDriver: String, Sendable, CaseIterable {
    /// The built-in simulated robot.
    case sim
    /// A V4L2 camera through libv4l2 (cameras only).
    case v4l2
    /// A GPIO line through libgpiod (inputs and outputs only).
    case gpiod
}

/// What an input line is for.
public enum InputRole: String, Sendable, CaseIterable {
    /// Emergency stop: asserted latches the governor's e-stop fault.
    case estop
}

/// Real-time settings for the loop thread; each is best effort, with a warning when refused.
public struct RealtimeSettings: Sendable, Equatable {
    /// SCHED_FIFO priority 1...99; 0 leaves the scheduler alone.
    public var priority: Int
    /// mlockall(MCL_CURRENT | MCL_FUTURE): no page faults in the loop.
    public var lockMemory: Bool
    /// CPU to pin the loop thread to; nil leaves affinity alone.
    public var cpu: Int?
}

public struct LoopSettings: Sendable, Equatable {
    /// Control loop rate, Hz.
    public var rateHz: Double
    public var realtime: RealtimeSettings
    public var period: Duration { .seconds(double: 1 / rateHz) }
}

public struct CameraSettings: Sendable, Equatable {
    public var driver: DeviceDriver
    /// The encoder's input size (the frame the controller sees), px.
    public var width: Int
    public var height: Int
    /// `v4l2`: the device and what to ask of it (capture size, rate, format, crop, buffers).
    public var v4l2: V4L2Settings?
    /// Oldest frame the controller may act on.
    public var maxFrameAge: Duration
    /// Simulated camera: exposure-to-delivery latency.
    public var simLatency: Duration
    /// Simulated camera: chance a tick brings no new frame.
    public var simDropProbability: Double
}

/// A V4L2 camera (`camera:` with `driver: v4l2`).
public struct V4L2Settings: Sendable, Equatable {
    /// `/dev/videoN`, `/dev/v4l/by-id/…`, `/dev/v4l/by-path/…`, `driver:NAME` or `card:TEXT`.
    public var device: String
    public var captureWidth: Int
    public var captureHeight: Int
    public var framesPerSecond: Double
    /// grey, yuyv, mjpeg, or nil (the cheapest the device offers).
    public var format: String?
    /// Crop in capture pixels: x, y, width, height; nil: centred.
    public var crop: [Int]?
    public var buffers: Int
    public var pollTimeoutMilliseconds: Int
}

/// A GPIO line: the chip by label, the line by name (or by offset on that labelled chip).
public struct GPIOLineSpec: Sendable, Equatable {
    public var chip: String
    public var line: String
}

/// The PWM board behind the actuator channels (`pwm:`); nil on simulated boards.
public struct PWMSettings: Sendable, Equatable {
    /// Only the PCA9685 so far.
    public var driver: String
    /// I2C bus number or adapter name.
    public var bus: String
    /// 7-bit I2C address.
    public var address: Int
    /// The OE pin on a GPIO (outputs enabled while asserted; configure it active-low, as on the chip).
    public var outputEnable: GPIOLineSpec?
    public var outputEnableActiveLow: Bool
    /// Tries per transfer on EIO / ENXIO / EREMOTEIO before the actuator fault.
    public var attempts: Int
    /// MODE1 is read back every this many writes to catch a chip that lost power.
    public var healthCheckEvery: Int
}

/// What a GPIO output is for.
public enum OutputRole: String, Sendable, CaseIterable {
    /// Asserted while the governor is armed and no fault is latched (a motor driver's enable pin).
    case motorEnable = "motor_enable"
    /// Asserted while armed (a status LED).
    case statusLED = "status_led"
}

/// A GPIO output line (`outputs:`).
public struct OutputLine: Sendable, Equatable {
    public var name: String
    public var role: OutputRole
    public var gpio: GPIOLineSpec
    public var activeLow: Bool
    /// The level on open, on stop and on any fault (logical: true = asserted).
    public var safeLevel: Bool
}

/// The kernel watchdog fed from the loop (`watchdog:`).
public struct WatchdogSettings: Sendable, Equatable {
    public var device: String
    public var timeoutSeconds: Int
}

public struct ActuatorChannel: Sendable, Equatable {
    public var name: String
    /// Output index on the PWM board (0...15).
    public var channel: Int
    public var kind: ActuatorKind
    public var minEffort: Double
    public var maxEffort: Double
    /// Largest change of effort per second.
    public var slewPerSecond: Double
}

public struct InputLine: Sendable, Equatable {
    public var name: String
    public var role: InputRole
    public var driver: DeviceDriver
    /// True when the line reads low while asserted (pressed). A fail-safe e-stop is a normally-closed
    /// button to ground with a pull-up: pressed or cut, the line reads high, so it is *not* active low.
    public var activeLow: Bool
    /// `gpiod`: where the line is.
    public var gpio: GPIOLineSpec?
    /// `gpiod`: as_is, disabled, pull_up, pull_down.
    public var bias: String

    public init(name: String, role: InputRole, driver: DeviceDriver, activeLow: Bool, gpio: GPIOLineSpec? = nil, bias: String = "as_is") {
        self.name = name
        self.role = role
        self.driver = driver
        self.activeLow = activeLow
        self.gpio = gpio
        self.bias = bias
    }
}

/// A USB gamepad as a second operator input (`gamepad:`), read through evdev: sticks drive the planned
/// channels while the dead-man is held, a button latches the e-stop. Same precedence, dead-man and e-stop
/// rules as the serial console: a drive takes over from autonomy, it holds `deadman` after the last report and
/// stops at once when the dead-man is let go.
public struct GamepadSettings: Sendable, Equatable {
    /// `/dev/input/eventN`, or better a stable `/dev/input/by-id/…-event-joystick` path.
    public var device: String
    /// Per actuator, the axis that drives it and whether it is reversed (pushing a stick up reads negative).
    public var axes: [(actuator: String, axis: InputControl, reversed: Bool)]
    /// Stick travel around the centre that reads as zero, fraction of the half-range.
    public var deadzone: Double
    /// Held: the operator drives. A button, or an axis (a trigger) past half its travel.
    public var deadman: InputControl
    /// A drive report holds this long, then outputs go neutral (a pad that stops reporting stops the robot).
    public var deadmanHold: Duration
    /// Latches the e-stop (released with `reset` on the console, or the reset button).
    public var eStop: InputControl
    public var arm: InputControl?
    public var disarm: InputControl?
    /// Clears the faults whose cause is gone (the console's `reset`).
    public var reset: InputControl?
    /// Hands back to autonomy (the console's `mode auto`).
    public var autonomy: InputControl?
    /// Mark the recording's current segment good or bad (the console's `record mark`).
    public var markGood: InputControl?
    public var markBad: InputControl?

    public init(
        device: String, axes: [(actuator: String, axis: InputControl, reversed: Bool)], deadzone: Double = 0.08, deadman: InputControl,
        deadmanHold: Duration = .milliseconds(250), eStop: InputControl, arm: InputControl? = nil, disarm: InputControl? = nil,
        reset: InputControl? = nil, autonomy: InputControl? = nil, markGood: InputControl? = nil, markBad: InputControl? = nil
    ) {
        (self.device, self.axes, self.deadzone, self.deadman, self.deadmanHold, self.eStop) = (
            device, axes, deadzone, deadman, deadmanHold, eStop
        )
        (self.arm, self.disarm, self.reset, self.autonomy) = (arm, disarm, reset, autonomy)
        (self.markGood, self.markBad) = (markGood, markBad)
    }

    public static func == (a: GamepadSettings, b: GamepadSettings) -> Bool {
        a.device == b.device
            && a.axes.map { "\($0.actuator)\($0.axis)\($0.reversed)" } == b.axes.map { "\($0.actuator)\($0.axis)\($0.reversed)" }
            && a.deadzone == b.deadzone && a.deadman == b.deadman && a.deadmanHold == b.deadmanHold && a.eStop == b.eStop
            && a.arm == b.arm && a.disarm == b.disarm && a.reset == b.reset && a.autonomy == b.autonomy && a.markGood == b.markGood
            && a.markBad == b.markBad
    }
}

/// The teleop console (`serial_console`): where the operator's terminal is and how it drives.
public struct SerialConsoleSettings: Sendable, Equatable {
    public var device: String
    /// Bits per second, 8N1, no flow control.
    public var baud: Int
    /// A typed or machine drive command holds this long, then outputs go neutral.
    public var deadman: Duration
    /// In key mode a key press holds this long (longer than the terminal's auto-repeat delay).
    public var keyHold: Duration
    /// Effort per key press, 0…1.
    public var keySpeed: Double
    /// Actuator driven by a/d and ←/→; a leading "-" inverts it.
    public var keyHorizontal: String?
    /// Actuator driven by w/s and ↑/↓; a leading "-" inverts it.
    public var keyVertical: String?
    /// Leaving teleop hands straight back to autonomy instead of holding disarmed.
    public var resumeAutonomy: Bool
    /// The operator's console is a pre-arm check, and its link going down while armed stops the robot
    /// in any mode (false: only while the operator drives).
    public var required: Bool
    /// With a heartbeat the link counts as up only while bytes arrive at least this often (a UART with
    /// CLOCAL never reports a hang-up, so silence is the only sign that nobody is there).
    public var heartbeat: Duration?
    /// A shared key (hex, `cerebellum console-key`): commands that move or arm must then be signed
    /// sentences, for links that are not a wire. Resolved against the board file's folder.
    public var keyFile: String?

    public init(
        device: String, baud: Int = 115_200, deadman: Duration = .milliseconds(300), keyHold: Duration = .milliseconds(600),
        keySpeed: Double = 0.5, keyHorizontal: String? = nil, keyVertical: String? = nil, resumeAutonomy: Bool = false,
        required: Bool = true, heartbeat: Duration? = nil, keyFile: String? = nil
    ) {
        self.keyFile = keyFile
        self.required = required
        self.heartbeat = heartbeat
        self.device = device
        self.baud = baud
        self.deadman = deadman
        self.keyHold = keyHold
        self.keySpeed = keySpeed
        self.keyHorizontal = keyHorizontal
        self.keyVertical = keyVertical
        self.resumeAutonomy = resumeAutonomy
    }
}

public struct SafetySettings: Sendable, Equatable {
    public var window: Duration
    public var maxWindowChange: Double
    public var maxConsecutiveOverruns: Int
    public var stallTimeout: Duration
    public var heartbeatTimeout: Duration
    /// Safety parts a real board runs without, named on purpose (`safety.acknowledge`); `check-board` and
    /// `run` print each loudly.
    public var acknowledged: [SafetyAcknowledgement] = []
}

/// What a real board may run without only when its profile says so by name (`safety.acknowledge: [...]`).
public enum SafetyAcknowledgement: String, Sendable, CaseIterable, Codable {
    /// No e-stop input: nothing but software stops the robot.
    case noEStopInput = "no_estop_input"
    /// No PCA9685 OE line: a dead controller leaves the last pulses on the outputs.
    case noOutputEnable = "no_output_enable"
    /// No hardware watchdog: a hung board is not reset.
    case noWatchdog = "no_watchdog"

    /// The line `check-board` and `run` print.
    public var warning: String {
        switch self {
        case .noEStopInput: "WARNING: this board has NO e-stop input (safety.acknowledge: no_estop_input): only software can stop it"
        case .noOutputEnable:
            "WARNING: this board has NO PCA9685 output-enable line (safety.acknowledge: no_output_enable): if the controller dies, the "
                + "last pulses stay on"
        case .noWatchdog: "WARNING: this board has NO hardware watchdog (safety.acknowledge: no_watchdog): a hung controller is not reset"
        }
    }
}

/// The ranges a board with real actuators is held to (a simulated one may go past them).
public enum RealBoardLimits {
    /// Largest `slew_per_s`: the whole effort range (2) in 10 ms.
    public static let maxSlewPerSecond = 200.0
    /// Largest `stall_timeout_ms`, `heartbeat_timeout_ms` and `max_frame_age_ms` (an emulated board needs 2 s).
    public static let maxMilliseconds = 2000.0
    /// The longest pulse may fill at most this share of the PWM period (the PCA9685's counts clamp at 4095).
    public static let maxPulseShare = 0.9
}

/// The simulated world behind a `sim` board, and its actuators' ground truth.
public struct SimulationSettings: Sendable, Equatable {
    public var world: SimulatedWorldName
    public var seed: UInt64
    /// The house, the vehicle and the camera of the rooms worlds (nil for two-rooms).
    public var rooms: RoomsSettings?
    /// The environment of a `gymnasium` board (nil for the built-in worlds).
    public var gymnasium: GymnasiumSettings?
    /// What the simulated servos really do, per actuator channel (calibration must find this).
    public var actuatorTruth: [ActuatorPhysics]
    /// The simulated PCA9685's real oscillator, Hz (`cerebellum calibrate pwm` measures its trim).
    public var pwmOscillatorHz: Double = 25_000_000
}

/// The world model's surprise watch (`surprise:`).
public struct SurpriseSettings: Sendable, Equatable {
    /// The smoothed one-step surprise trips at this multiple of the model's validation p99.
    public var thresholdFactor = 3.0
    /// What the governor does while the model is surprised.
    public var action = SurpriseAction.stop
    /// `slow`: efforts are scaled by this factor.
    public var slowFactor = 0.3
    public init() {}
}

/// A board profile: what is wired where (`boards/NAME.yaml`).
public struct BoardProfile: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var loop: LoopSettings
    public var camera: CameraSettings
    public var actuators: [ActuatorChannel]
    /// The PWM board (real boards).
    public var pwm: PWMSettings?
    public var inputs: [InputLine]
    public var outputs: [OutputLine] = []
    public var watchdog: WatchdogSettings?
    /// The output supervisor's limit on the gap between ticks while the outputs are enabled (real boards;
    /// `supervisor.stall_ms`, default the larger of 100 ms and three periods).
    public var supervisorStall: Duration = .milliseconds(100)
    public var serialConsole: SerialConsoleSettings?
    public var gamepad: GamepadSettings?
    public var safety: SafetySettings
    public var simulation: SimulationSettings?
    /// The latent planner (`planner:`); nil: the defaults of `PlannerConfig`.
    public var planner: PlannerConfig?
    /// What happens when the world model is surprised (`surprise:`).
    public var surprise = SurpriseSettings()
    /// The calibration file, resolved against the board file's folder.
    public var calibrationPath: String
    /// Where this profile was read from.
    public var path: String

    /// The actuators the planner drives, in the world model's action order (`planner.actuators`; default every one).
    public var plannedActuators: [String] { planner?.actuators ?? actuators.map(\.name) }
}

/// What the bench calibration measured (`calibration/NAME.yaml`).
public struct Calibration: Sendable, Equatable {
    public var board: String
    /// PCA9685 output frequency, Hz.
    public var pwmFrequencyHz: Double
    /// Measured oscillator correction (actual / nominal 25 MHz).
    public var oscillatorTrim: Double
    /// Pulse calibration per actuator name.
    public var channels: [String: PulseCalibration]
    /// When it was measured (free text, written by `cerebellum calibrate`).
    public var measured: String?
    /// The camera crop chosen on the bench (x, y, width, height in capture pixels); overrides the profile's.
    public var cameraCrop: [Int]?
    public var path: String

    public init(
        board: String, pwmFrequencyHz: Double, oscillatorTrim: Double, channels: [String: PulseCalibration],
        measured: String? = nil, cameraCrop: [Int]? = nil, path: String
    ) {
        self.board = board
        self.pwmFrequencyHz = pwmFrequencyHz
        self.oscillatorTrim = oscillatorTrim
        self.channels = channels
        self.measured = measured
        self.cameraCrop = cameraCrop
        self.path = path
    }
}

/// A board profile with its calibration, checked against each other.
public struct LoadedBoard: Sendable {
    public var profile: BoardProfile
    public var calibration: Calibration

    /// The governor's configuration: limits from the board profile, pulse widths from calibration.
    public var safetyConfig: SafetyConfig {
        SafetyConfig(
            channels: profile.actuators.map {
                ChannelLimits(
                    name: $0.name, minEffort: $0.minEffort, maxEffort: $0.maxEffort,
                    maxSlewPerSecond: $0.slewPerSecond, calibration: calibration.channels[$0.name]!)
            },
            tickPeriod: profile.loop.period, window: profile.safety.window,
            maxWindowChange: profile.safety.maxWindowChange, maxFrameAge: profile.camera.maxFrameAge,
            maxConsecutiveOverruns: profile.safety.maxConsecutiveOverruns,
            stallTimeout: profile.safety.stallTimeout, heartbeatTimeout: profile.safety.heartbeatTimeout,
            surpriseResponse: profile.surprise.action, slowFactor: profile.surprise.slowFactor,
            starvationResponse: profile.planner?.starvedAction ?? .stop)
    }

    /// Reads and checks a board profile and the calibration it names. Any problem throws a
    /// `ConfigError` naming the file, line and field; nothing is started from a bad file.
    public static func load(boardPath: String) throws -> LoadedBoard {
        let profile = try BoardProfile.load(path: boardPath)
        let calibration = try Calibration.load(path: profile.calibrationPath)
        return try LoadedBoard(profile: profile, calibration: calibration)
    }

    public init(profile: BoardProfile, calibration: Calibration) throws {
        let file = calibration.path
        if calibration.board != profile.name {
            throw ConfigError(
                file: file, line: nil, column: nil, field: "board",
                message: "calibration is for board '\(calibration.board)', profile is '\(profile.name)'")
        }
        for a in profile.actuators where calibration.channels[a.name] == nil {
            throw ConfigError(
                file: file, line: nil, column: nil, field: "channels.\(a.name)",
                message: "no calibration for actuator '\(a.name)' of board '\(profile.name)'")
        }
        for name in calibration.channels.keys.sorted() where !profile.actuators.contains(where: { $0.name == name }) {
            throw ConfigError(
                file: file, line: nil, column: nil, field: "channels.\(name)",
                message: "board '\(profile.name)' has no actuator named '\(name)'")
        }
        // A pulse longer than the period clamps at the PCA9685's 4095 counts: a constant high.
        let periodMicros = 1e6 / calibration.pwmFrequencyHz
        for a in profile.actuators {
            let c = calibration.channels[a.name]!
            let longest = max(c.minMicros, c.maxMicros, c.neutralMicros)
            if longest > RealBoardLimits.maxPulseShare * periodMicros {
                throw ConfigError(
                    file: file, line: nil, column: nil, field: "channels.\(a.name)",
                    message: String(
                        format:
                            "pulses up to %.0f µs do not fit the %.1f Hz PWM period (%.0f µs, at most %.0f %% of it): lower "
                            + "pwm.frequency_hz",
                        longest, calibration.pwmFrequencyHz, periodMicros, 100 * RealBoardLimits.maxPulseShare))
            }
        }
        self.profile = profile
        self.calibration = calibration
        if let problem = safetyConfig.problems().first {
            throw ConfigError(file: profile.path, line: nil, column: nil, field: "safety", message: problem)
        }
    }
}

func readFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ConfigError(file: path, line: nil, column: nil, field: "", message: "cannot read the file (missing or unreadable)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ConfigError(file: path, line: nil, column: nil, field: "", message: "the file is not UTF-8 text")
    }
    return text
}

/// Removes `.` and `dir/..` pairs from a path without touching the file system.
func normalizedPath(_ path: String) -> String {
    var out: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == "..", let last = out.last, last != ".." { out.removeLast(); continue }
        out.append(part)
    }
    let joined = out.joined(separator: "/")
    return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
}

func milliseconds(_ v: YAMLValue, in range: ClosedRange<Double>) throws -> Duration {
    .seconds(double: try v.double(in: range) / 1000)
}

extension BoardProfile {
    /// Reads `boards/NAME.yaml`.
    public static func load(path: String) throws -> BoardProfile { try parse(text: try readFile(path), path: path) }

    /// A board profile from its text; errors name `path`. Each top-level section has its reader below; the
    /// checks that span sections (sim devices need a simulation, a real board needs its safety lines) follow.
    public static func parse(text: String, path: String) throws -> BoardProfile {
        let root = try YAMLValue.parse(text, file: path).mapping()
        let name = try root.required("name").string()
        let summary = try root.optional("description")?.string() ?? ""
        // A board with real actuators is held to tighter ranges than a simulated one (`RealBoardLimits`).
        let realBoard = root.optional("simulation") == nil
        let loop = try loopSection(root.required("loop").mapping())
        let camera = try cameraSection(root.required("camera").mapping(), realBoard: realBoard)
        let actuators = try actuatorsSection(root.required("actuators"), realBoard: realBoard)
        let pwm = try root.optional("pwm").map { try pwmSection($0.mapping()) }
        let inputs = try inputsSection(root.optional("inputs")?.sequence() ?? [])
        let outputs = try outputsSection(root.optional("outputs")?.sequence() ?? [])
        let watchdog = try root.optional("watchdog").flatMap { try watchdogSection($0.mapping()) }
        // The output supervisor (a second process on real boards) cuts the outputs when ticks stop for this long.
        var supervisorStall = Duration.seconds(double: max(0.1, 3 / loop.rateHz))
        if let sv = try root.optional("supervisor")?.mapping() {
            supervisorStall = try milliseconds(sv.required("stall_ms"), in: max(20, (2000 / loop.rateHz).rounded(.up))...1000)
            try sv.finish()
        }
        let serial = try root.optional("serial_console").map {
            try serialConsoleSection($0.mapping(), actuators: actuators.map(\.name), profilePath: path)
        }
        let gamepad = try root.optional("gamepad").map { try gamepadSection($0.mapping(), actuators: actuators.map(\.name)) }
        let safety = try safetySection(root.required("safety").mapping(), realBoard: realBoard)
        let simulation = try root.optional("simulation").map {
            try simulationSection($0.mapping(), actuators: actuators, profilePath: path)
        }
        try checkDeviceKinds(
            simulated: simulation != nil, camera: camera, pwm: pwm, inputs: inputs, outputs: outputs, at: root.value)
        let planner = try root.optional("planner").map {
            try plannerSection($0.mapping(), actuators: actuators.map(\.name), profilePath: path)
        }
        let surprise = try root.optional("surprise").map { try surpriseSection($0.mapping()) } ?? SurpriseSettings()
        let calibrationPath = normalizedPath(relativeTo(profile: path, try root.required("calibration").string()))
        try root.finish()
        if realBoard {
            try checkSafetyLines(inputs: inputs, pwm: pwm, watchdog: watchdog, safety: safety, at: root.value)
        }
        var profile = BoardProfile(
            name: name, summary: summary, loop: loop, camera: camera,
            actuators: actuators, pwm: pwm, inputs: inputs, outputs: outputs, watchdog: watchdog,
            serialConsole: serial, safety: safety,
            simulation: simulation, planner: planner, surprise: surprise,
            calibrationPath: calibrationPath, path: path)
        profile.supervisorStall = supervisorStall
        profile.gamepad = gamepad
        return profile
    }

    /// `loop:` — the rate and the real-time settings.
    static func loopSection(_ loopMap: YAMLMapping) throws -> LoopSettings {
        let rate = try loopMap.required("rate_hz").double(in: 1...1000)
        var rt = RealtimeSettings(priority: 0, lockMemory: false, cpu: nil)
        if let rtMap = try loopMap.optional("realtime")?.mapping() {
            rt.priority = try rtMap.optional("priority")?.int(in: 0...99) ?? 0
            rt.lockMemory = try rtMap.optional("lock_memory")?.bool() ?? false
            rt.cpu = try rtMap.optional("cpu")?.int(in: 0...1023)
            try rtMap.finish()
        }
        try loopMap.finish()
        return LoopSettings(rateHz: rate, realtime: rt)
    }

    /// `camera:` — the image the loop sees, and the V4L2 capture behind it on a real board.
    static func cameraSection(_ camMap: YAMLMapping, realBoard: Bool) throws -> CameraSettings {
        var camera = CameraSettings(
            driver: try camMap.required("driver").choice(DeviceDriver.self),
            width: try camMap.required("width").int(in: 8...4096),
            height: try camMap.required("height").int(in: 8...4096),
            maxFrameAge: try milliseconds(
                camMap.required("max_frame_age_ms"), in: 1...(realBoard ? RealBoardLimits.maxMilliseconds : 10_000)),
            simLatency: .zero, simDropProbability: 0)
        camera.simLatency = try camMap.optional("sim_latency_ms").map { try milliseconds($0, in: 0...1000) } ?? .zero
        camera.simDropProbability = try camMap.optional("sim_drop_probability")?.double(in: 0...1) ?? 0
        if camera.driver == .v4l2 {
            let crop = try camMap.optional("crop").map(cropRectangle)
            camera.v4l2 = V4L2Settings(
                device: try camMap.required("device").string(),
                captureWidth: try camMap.optional("capture_width")?.int(in: 16...8192) ?? 320,
                captureHeight: try camMap.optional("capture_height")?.int(in: 16...8192) ?? 240,
                framesPerSecond: try camMap.optional("fps")?.double(in: 1...1000) ?? 30,
                format: try camMap.optional("format").map { v in
                    let f = try v.string()
                    guard ["grey", "yuyv", "mjpeg"].contains(f) else { throw v.error("'\(f)' is not one of: grey, yuyv, mjpeg") }
                    return f
                },
                crop: crop,
                buffers: try camMap.optional("buffers")?.int(in: 2...4) ?? 3,
                pollTimeoutMilliseconds: try camMap.optional("poll_timeout_ms")?.int(in: 0...1000) ?? 0)
        } else if camera.driver != .sim {
            throw try camMap.required("driver").error("a camera's driver is sim or v4l2")
        }
        try camMap.finish()
        return camera
    }

    /// `actuators:` — the channels, each named once and on its own PWM channel.
    static func actuatorsSection(_ list: YAMLValue, realBoard: Bool) throws -> [ActuatorChannel] {
        var actuators: [ActuatorChannel] = []
        for item in try list.sequence() {
            let m = try item.mapping()
            let a = ActuatorChannel(
                name: try m.required("name").string(),
                channel: try m.required("channel").int(in: 0...(maxChannels - 1)),
                kind: try m.required("kind").choice(ActuatorKind.self),
                minEffort: try m.optional("min_effort")?.double(in: -1...0) ?? -1,
                maxEffort: try m.optional("max_effort")?.double(in: 0...1) ?? 1,
                slewPerSecond: try m.required("slew_per_s").double(in: 0.001...(realBoard ? RealBoardLimits.maxSlewPerSecond : 1_000_000)))
            try m.finish()
            if actuators.contains(where: { $0.name == a.name }) { throw item.error("actuator name '\(a.name)' is used twice") }
            if actuators.contains(where: { $0.channel == a.channel }) { throw item.error("channel \(a.channel) is used twice") }
            actuators.append(a)
        }
        if actuators.isEmpty { throw list.error("a board needs at least one actuator") }
        return actuators
    }

    /// `pwm:` — the PCA9685 board: bus, address, output-enable line, retries.
    static func pwmSection(_ pm: YAMLMapping) throws -> PWMSettings {
        let driver = try pm.required("driver").string()
        guard driver == "pca9685" else {
            throw try pm.required("driver").error("'\(driver)' is not a PWM driver this build has (pca9685)")
        }
        var oe: GPIOLineSpec?
        var oeActiveLow = true
        if let o = try pm.optional("output_enable")?.mapping() {
            oe = try gpioLine(o)
            oeActiveLow = try o.optional("active_low")?.bool() ?? true
            try o.finish()
        }
        let busValue = try pm.required("bus")
        let pwm = PWMSettings(
            driver: driver, bus: try busValue.string(), address: try pm.optional("address")?.int(in: 0x03...0x77) ?? 0x40,
            outputEnable: oe, outputEnableActiveLow: oeActiveLow,
            attempts: try pm.optional("attempts")?.int(in: 1...20) ?? 3,
            healthCheckEvery: try pm.optional("health_check_every")?.int(in: 1...10_000) ?? 10)
        try pm.finish()
        return pwm
    }

    /// `inputs:` — e-stop and other input lines.
    static func inputsSection(_ items: [YAMLValue]) throws -> [InputLine] {
        var inputs: [InputLine] = []
        for item in items {
            let m = try item.mapping()
            let driverValue = try m.required("driver")
            let driver = try driverValue.choice(DeviceDriver.self)
            var line = InputLine(
                name: try m.required("name").string(),
                role: try m.required("role").choice(InputRole.self),
                driver: driver,
                activeLow: try m.optional("active_low")?.bool() ?? false)
            switch driver {
            case .gpiod:
                line.gpio = try gpioLine(m)
                if let b = m.optional("bias") {
                    line.bias = try b.string()
                    guard ["as_is", "disabled", "pull_up", "pull_down"].contains(line.bias) else {
                        throw b.error("'\(line.bias)' is not one of: as_is, disabled, pull_up, pull_down")
                    }
                }
            case .sim: break
            case .v4l2: throw driverValue.error("an input's driver is sim or gpiod")
            }
            try m.finish()
            if inputs.contains(where: { $0.name == line.name }) { throw item.error("input name '\(line.name)' is used twice") }
            inputs.append(line)
        }
        return inputs
    }

    /// `outputs:` — motor-enable and status lines.
    static func outputsSection(_ items: [YAMLValue]) throws -> [OutputLine] {
        var outputs: [OutputLine] = []
        for item in items {
            let m = try item.mapping()
            let o = OutputLine(
                name: try m.required("name").string(), role: try m.required("role").choice(OutputRole.self),
                gpio: try gpioLine(m), activeLow: try m.optional("active_low")?.bool() ?? false,
                safeLevel: try m.optional("safe_level")?.bool() ?? false)
            try m.finish()
            if outputs.contains(where: { $0.name == o.name }) { throw item.error("output name '\(o.name)' is used twice") }
            outputs.append(o)
        }
        return outputs
    }

    /// `watchdog:` — the kernel watchdog; nil when `enabled: false`.
    static func watchdogSection(_ w: YAMLMapping) throws -> WatchdogSettings? {
        var watchdog: WatchdogSettings?
        if try w.optional("enabled")?.bool() ?? true {
            watchdog = WatchdogSettings(
                device: try w.optional("device")?.string() ?? "/dev/watchdog",
                timeoutSeconds: try w.optional("timeout_s")?.int(in: 1...600) ?? 15)
        } else {
            _ = w.optional("device")
            _ = w.optional("timeout_s")
        }
        try w.finish()
        return watchdog
    }

    /// `serial_console:` — the teleop console's link and keys; `names` are the actuators its axes may name.
    static func serialConsoleSection(_ s: YAMLMapping, actuators names: [String], profilePath: String) throws -> SerialConsoleSettings {
        func axis(_ key: String) throws -> String? {
            guard let v = s.optional(key) else { return nil }
            let text = try v.string()
            let name = text.hasPrefix("-") ? String(text.dropFirst()) : text
            guard names.contains(name) else {
                throw v.error("no actuator named \"\(name)\" (actuators: \(names.joined(separator: ", ")))")
            }
            return text
        }
        let serial = SerialConsoleSettings(
            device: try s.required("device").string(),
            baud: try s.optional("baud")?.int(oneOf: [
                1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400,
                460_800, 500_000, 921_600, 1_000_000, 1_500_000, 2_000_000,
                3_000_000, 4_000_000,
            ]) ?? 115_200,
            deadman: try s.optional("deadman_ms").map { try milliseconds($0, in: 20...5000) } ?? .milliseconds(300),
            keyHold: try s.optional("key_hold_ms").map { try milliseconds($0, in: 50...5000) } ?? .milliseconds(600),
            keySpeed: try s.optional("key_speed")?.double(in: 0.05...1) ?? 0.5,
            keyHorizontal: try axis("key_horizontal"),
            keyVertical: try axis("key_vertical"),
            resumeAutonomy: try s.optional("resume_autonomy")?.bool() ?? false,
            required: try s.optional("required")?.bool() ?? true,
            heartbeat: try s.optional("heartbeat_ms").map { try milliseconds($0, in: 50...10_000) },
            keyFile: try s.optional("key_file").map { v in
                let file = try v.string()
                return relativeTo(profile: profilePath, file)
            })
        try s.finish()
        return serial
    }

    /// `gamepad:` — the device, which axis drives which actuator, and the buttons; `names` are the actuators.
    static func gamepadSection(_ g: YAMLMapping, actuators names: [String]) throws -> GamepadSettings {
        func control(_ v: YAMLValue, axisAllowed: Bool = true, buttonAllowed: Bool = true) throws -> InputControl {
            let text = try v.string()
            guard let c = InputControl.known[text], (c.isAxis && axisAllowed) || (!c.isAxis && buttonAllowed) else {
                let kinds = InputControl.known.values.filter { ($0.isAxis && axisAllowed) || (!$0.isAxis && buttonAllowed) }
                throw v.error(
                    "\"\(text)\" is not a known "
                        + "\(axisAllowed && !buttonAllowed ? "axis" : buttonAllowed && !axisAllowed ? "button" : "axis or button") "
                        + "(\(kinds.map(\.name).sorted().joined(separator: ", ")))"
                )
            }
            return c
        }
        var axes: [(actuator: String, axis: InputControl, reversed: Bool)] = []
        let axesValue = try g.required("axes")
        let axisMap = try axesValue.mapping()
        for (name, v) in axisMap.all() {
            guard names.contains(name) else { throw v.error("no actuator named \"\(name)\" (actuators: \(names.joined(separator: ", ")))") }
            let text = try v.string()
            let reversed = text.hasPrefix("-")
            guard let c = InputControl.known[reversed ? String(text.dropFirst()) : text], c.isAxis else {
                throw v.error("\"\(text)\" is not an axis (ABS_X, ABS_Y, ABS_RX, ABS_RY …; a leading - reverses it)")
            }
            axes.append((name, c, reversed))
        }
        try axisMap.finish()
        guard !axes.isEmpty else { throw axesValue.error("name at least one actuator and its axis") }
        let settings = GamepadSettings(
            device: try g.required("device").string(), axes: axes,
            deadzone: try g.optional("deadzone")?.double(in: 0...0.5) ?? 0.08,
            deadman: try control(g.required("deadman")),
            deadmanHold: try g.optional("deadman_ms").map { try milliseconds($0, in: 20...2000) } ?? .milliseconds(250),
            eStop: try control(g.required("estop"), axisAllowed: false),
            arm: try g.optional("arm").map { try control($0, axisAllowed: false) },
            disarm: try g.optional("disarm").map { try control($0, axisAllowed: false) },
            reset: try g.optional("reset").map { try control($0, axisAllowed: false) },
            autonomy: try g.optional("autonomy").map { try control($0, axisAllowed: false) },
            markGood: try g.optional("mark_good").map { try control($0, axisAllowed: false) },
            markBad: try g.optional("mark_bad").map { try control($0, axisAllowed: false) })
        let buttons =
            [settings.deadman, settings.eStop]
            + [settings.arm, settings.disarm, settings.reset, settings.autonomy, settings.markGood, settings.markBad].compactMap { $0 }
        if let twice = buttons.first(where: { b in buttons.filter { $0.code == b.code && $0.type == b.type }.count > 1 }) {
            throw g.value.error(
                "\(twice) is given two jobs (deadman, estop, arm, disarm, reset, autonomy, mark_good, mark_bad need one control each)")
        }
        if axes.contains(where: { $0.axis == settings.deadman }) {
            throw g.value.error("the dead-man \(settings.deadman) also drives an actuator")
        }
        try g.finish()
        return settings
    }

    /// `safety:` — the governor's window and timeouts, and the safety lines a real board runs without on purpose.
    static func safetySection(_ sm: YAMLMapping, realBoard: Bool) throws -> SafetySettings {
        let safety = SafetySettings(
            window: try sm.optional("window_ms").map { try milliseconds($0, in: 1...10_000) } ?? .milliseconds(250),
            maxWindowChange: try sm.required("max_window_change").double(in: 0.001...2),
            maxConsecutiveOverruns: try sm.required("max_consecutive_overruns").int(in: 1...1000),
            stallTimeout: try milliseconds(sm.required("stall_timeout_ms"), in: 1...(realBoard ? RealBoardLimits.maxMilliseconds : 60_000)),
            heartbeatTimeout: try milliseconds(
                sm.required("heartbeat_timeout_ms"), in: 1...(realBoard ? RealBoardLimits.maxMilliseconds : 60_000)),
            acknowledged: try sm.optional("acknowledge").map { v in try v.sequence().map { try $0.choice(SafetyAcknowledgement.self) } }
                ?? [])
        try sm.finish()
        return safety
    }

    /// `simulation:` — the simulated world and what its actuators really do, one entry per actuator.
    static func simulationSection(_ simMap: YAMLMapping, actuators: [ActuatorChannel], profilePath: String) throws
        -> SimulationSettings
    {
        let worldValue = try simMap.required("world")
        let world = try worldValue.choice(SimulatedWorldName.self)
        let rooms = try roomsSettings(simMap, world: world)
        var gymnasium: GymnasiumSettings?
        if let g = simMap.optional("gymnasium") {
            guard world == .gymnasium else { throw g.error("'gymnasium' is for world: gymnasium, not \(world.rawValue)") }
            gymnasium = try gymnasiumSettings(g, actuators: actuators, profilePath: profilePath)
        } else if world == .gymnasium {
            throw worldValue.error("world: gymnasium needs a 'gymnasium:' section (env, action, …; docs/gym-bridge.md)")
        }
        if let rooms {
            let wanted = rooms.vehicle.channelNames
            if actuators.map(\.name) != wanted {
                throw worldValue.error(
                    "the \(world.rawValue) robot's actuators are \(wanted.joined(separator: ", ")), in this order "
                        + "(the profile lists \(actuators.map(\.name).joined(separator: ", ")))")
            }
        }
        var truth: [ActuatorPhysics] = []
        let truthMap = try simMap.required("actuator_truth").mapping()
        for a in actuators {
            let m = try truthMap.required(a.name).mapping()
            truth.append(
                ActuatorPhysics(
                    neutralMicros: try m.required("neutral_us").double(in: 400...2600),
                    fullScaleMicros: try m.required("full_scale_us").double(in: 10...1000),
                    deadbandMicros: try m.optional("deadband_us")?.double(in: 0...200) ?? 0,
                    reversed: try m.optional("reversed")?.bool() ?? false))
            try m.finish()
        }
        try truthMap.finish()
        var simulation = SimulationSettings(
            world: world, seed: UInt64(try simMap.optional("seed")?.int(in: 0...Int(Int32.max)) ?? 1),
            rooms: rooms, actuatorTruth: truth)
        simulation.gymnasium = gymnasium
        if let v = simMap.optional("pwm_oscillator_hz") { simulation.pwmOscillatorHz = try v.double(in: 20e6...30e6) }
        try simMap.finish()
        return simulation
    }

    /// The rooms worlds' keys of `simulation:` (refused on two-rooms boards): the house, the camera, the
    /// episodes and `vehicle:` (the car's or the base's geometry and response).
    static func roomsSettings(_ m: YAMLMapping, world: SimulatedWorldName) throws -> RoomsSettings? {
        let keys = [
            "vehicle", "house_seed", "house_per_episode", "rooms", "camera_fov_deg", "camera_height_m", "camera_noise",
            "motion_blur", "light", "goal_distance_m", "goal_heading_deg", "max_steps",
        ]
        guard world.isRooms else {
            if let k = keys.first(where: { m.optional($0) != nil }), let v = m.optional(k) {
                throw v.error("'\(k)' is for the rooms worlds (car-rooms, diffdrive-rooms), not \(world.rawValue)")
            }
            return nil
        }
        let car = world == .carRooms
        let vm = try m.required("vehicle").mapping()
        let radius = try vm.required("radius_m").double(in: 0.05...0.5)
        let drive: GroundVehicle.Drive
        if car {
            var c = BicycleCar()
            c.wheelbase = try vm.required("wheelbase_m").double(in: 0.05...2)
            c.maxSteer = try vm.required("max_steer_deg").double(in: 5...45) * Double.pi / 180
            if let v = vm.optional("steer_rate_dps") { c.steerRate = try v.double(in: 10...2000) * Double.pi / 180 }
            c.maxSpeed = try vm.required("max_speed_mps").double(in: 0.05...5)
            c.reverseSpeed = try vm.required("reverse_speed_mps").double(in: 0...5)
            if let v = vm.optional("speed_time_constant_s") { c.speedTimeConstant = try v.double(in: 0.001...5) }
            drive = .car(c)
        } else {
            var b = DifferentialDrive()
            b.track = try vm.required("track_m").double(in: 0.05...2)
            b.maxWheelSpeed = try vm.required("max_wheel_speed_mps").double(in: 0.05...5)
            if let v = vm.optional("time_constant_s") { b.timeConstant = try v.double(in: 0.001...5) }
            drive = .differential(b)
        }
        try vm.finish()
        var r = RoomsSettings(vehicle: GroundVehicle(drive: drive, radius: radius))
        r.houseSeed = UInt64(try m.optional("house_seed")?.int(in: 0...Int(Int32.max)) ?? 1)
        if try m.optional("house_per_episode")?.bool() ?? false { r.houseSeed = nil }
        if let v = m.optional("rooms") {
            let grid = try v.sequence()
            guard grid.count == 2 else { throw v.error("rooms is [columns, rows]") }
            (r.roomColumns, r.roomRows) = (try grid[0].int(in: 1...4), try grid[1].int(in: 1...4))
            if r.roomColumns * r.roomRows < 2 { throw v.error("a house needs at least two rooms") }
        }
        if let v = m.optional("camera_fov_deg") { r.fieldOfViewDegrees = try v.double(in: 30...160) }
        if let v = m.optional("camera_height_m") { r.cameraHeight = try v.double(in: 0.02...0.9) }
        if let v = m.optional("camera_noise") { r.noise = try v.double(in: 0...50) }
        if let v = m.optional("motion_blur") { r.motionBlur = try v.double(in: 0...1) }
        if let v = m.optional("light") {
            let range = try v.sequence()
            guard range.count == 2 else { throw v.error("light is [lowest, highest]") }
            let (lo, hi) = (try range[0].double(in: 0.1...3), try range[1].double(in: 0.1...3))
            guard lo <= hi else { throw v.error("light is [lowest, highest], lowest first") }
            r.lightRange = lo...hi
        }
        if let v = m.optional("goal_distance_m") { r.goalDistance = try v.double(in: 0.05...5) }
        if let v = m.optional("goal_heading_deg") { r.goalHeading = try v.double(in: 1...180) * Double.pi / 180 }
        if let v = m.optional("max_steps") { r.maxSteps = try v.int(in: 1...100_000) }
        return r
    }

    /// `surprise:` — how the governor answers a world model that no longer predicts the camera.
    static func surpriseSection(_ sm: YAMLMapping) throws -> SurpriseSettings {
        var surprise = SurpriseSettings()
        if let v = sm.optional("threshold_factor") { surprise.thresholdFactor = try v.double(in: 0.1...1000) }
        if let v = sm.optional("action") { surprise.action = try v.choice(SurpriseAction.self) }
        if let v = sm.optional("slow_factor") { surprise.slowFactor = try v.double(in: 0...1) }
        try sm.finish()
        return surprise
    }

    /// `file` as written in the profile at `profile`: absolute as it is, relative to the profile's directory.
    static func relativeTo(profile: String, _ file: String) -> String {
        if file.hasPrefix("/") { return file }
        let dir = (profile as NSString).deletingLastPathComponent
        return normalizedPath(((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(file))
    }

    /// A simulated board has sim devices only; a real board has none and has a PWM board.
    static func checkDeviceKinds(
        simulated: Bool, camera: CameraSettings, pwm: PWMSettings?, inputs: [InputLine], outputs: [OutputLine], at root: YAMLValue
    ) throws {
        let usesSim = camera.driver == .sim || inputs.contains { $0.driver == .sim }
        if usesSim && !simulated { throw root.error("a board with sim devices needs a 'simulation' section") }
        if !simulated && pwm == nil {
            throw root.error("a board without 'simulation' needs a 'pwm' section (the actuators' PWM board)")
        }
        if simulated && (camera.driver != .sim || pwm != nil || inputs.contains { $0.driver != .sim } || !outputs.isEmpty) {
            throw root.error("a simulated board uses sim devices only (no v4l2 camera, pwm, gpiod lines)")
        }
    }

    /// What makes a dead or hung controller, or a pressed button, stop a real robot: an e-stop input, the
    /// PCA9685's output-enable line and a watchdog, each required unless the safety section names it.
    static func checkSafetyLines(
        inputs: [InputLine], pwm: PWMSettings?, watchdog: WatchdogSettings?, safety: SafetySettings, at root: YAMLValue
    ) throws {
        let missing: [(SafetyAcknowledgement, Bool, String)] = [
            (.noEStopInput, !inputs.contains { $0.role == .estop }, "a real board needs an e-stop input (inputs: a line with role: estop)"),
            (.noOutputEnable, pwm?.outputEnable == nil, "a real board needs the PCA9685's output-enable line (pwm.output_enable)"),
            (.noWatchdog, watchdog == nil, "a real board needs a hardware watchdog (watchdog:)"),
        ]
        for (ack, isMissing, why) in missing where isMissing && !safety.acknowledged.contains(ack) {
            throw root.error("\(why), or `safety: {acknowledge: [\(ack.rawValue)]}` to run without it on purpose")
        }
    }
}

/// A camera crop `{x, y, width, height}` in capture pixels, as [x, y, width, height].
private func cropRectangle(_ v: YAMLValue) throws -> [Int] {
    let c = try v.mapping()
    let r = [
        try c.required("x").int(in: 0...16384), try c.required("y").int(in: 0...16384),
        try c.required("width").int(in: 1...16384), try c.required("height").int(in: 1...16384),
    ]
    try c.finish()
    return r
}

/// `chip:` (a label) and `line:` (a name, or an offset on that chip) from a mapping.
private func gpioLine(_ m: YAMLMapping) throws -> GPIOLineSpec {
    let chip = try m.required("chip").string()
    let lineValue = try m.required("line")
    let line = try lineValue.string()
    if chip.hasPrefix("gpiochip") && Int(chip.dropFirst(8)) != nil {
        throw try m.required("chip").error(
            "give the chip's label (gpiodetect shows it in brackets), not '\(chip)': chip numbers change between kernels")
    }
    if line.isEmpty { throw lineValue.error("a line name or offset is needed") }
    return GPIOLineSpec(chip: chip, line: line)
}

extension BoardProfile {
    /// The `planner:` section: every key optional, each in its range, the whole checked by
    /// `PlannerConfig.problems()`; an unknown key is an error.
    static func plannerSection(_ pm: YAMLMapping, actuators: [String], profilePath: String) throws -> PlannerConfig {
        var c = PlannerConfig()
        if let v = pm.optional("memory") { c.memory = relativeTo(profile: profilePath, try v.string()) }
        if let v = pm.optional("memory_follow") { c.memoryFollow = try v.choice(MemoryFollow.self) }
        let ints: [(String, ClosedRange<Int>, WritableKeyPath<PlannerConfig, Int>)] = [
            ("horizon", 1...512, \.horizon), ("samples", 2...4096, \.samples), ("iterations", 1...100, \.iterations),
            ("elites", 1...4096, \.elites), ("knot_spacing", 1...64, \.knotSpacing), ("roadmap_every", 0...10_000, \.roadmapEvery),
            ("roadmap_directions", 4...64, \.roadmapDirections), ("roadmap_macro_steps", 1...16, \.roadmapMacroSteps),
            ("roadmap_max_nodes", 16...100_000, \.roadmapMaxNodes), ("blocked_moves", 0...4096, \.blockedMoves),
            ("wall_follow_steps", 0...10_000, \.wallFollowSteps), ("max_stale_ticks", 0...10_000, \.maxStaleTicks),
            ("memory_lookahead", 1...10_000, \.memoryLookahead), ("memory_final_steps", 0...10_000, \.memoryFinalSteps),
        ]
        let doubles: [(String, ClosedRange<Double>, WritableKeyPath<PlannerConfig, Double>)] = [
            ("temperature", 0.0001...100, \.temperature), ("smoothing", 0...0.99, \.smoothing), ("noise", 0.001...4, \.noise),
            ("min_noise", 0...4, \.minNoise), ("terminal_weight", 0...1e6, \.terminalWeight), ("running_weight", 0...1e6, \.runningWeight),
            ("action_weight", 0...1e6, \.actionWeight), ("smoothness_weight", 0...1e6, \.smoothnessWeight),
            ("max_effort", 0.01...1, \.maxEffort), ("budget_ms", 0.01...10_000, \.budgetMilliseconds),
            ("primitive_fraction", 0...0.9, \.primitiveFraction), ("roadmap_merge_factor", 0.01...4, \.roadmapMergeFactor),
            ("roadmap_goal_factor", 0.01...4, \.roadmapGoalFactor), ("memory_place_factor", 0.01...8, \.memoryPlaceFactor),
        ]
        if let v = pm.optional("actuators") {
            let items = try v.sequence()
            c.actuators = try items.map { item in
                let name = try item.string()
                guard actuators.contains(name) else {
                    throw item.error("no actuator named \"\(name)\" (actuators: \(actuators.joined(separator: ", ")))")
                }
                return name
            }
        }
        if let v = pm.optional("motion") { c.motion = try v.choice(PlannerMotion.self) }
        if let v = pm.optional("method") { c.method = try v.choice(PlannerMethod.self) }
        if let v = pm.optional("predictor") { c.predictor = try v.choice(DensePrecision.self) }
        for (key, range, field) in ints { if let v = pm.optional(key) { c[keyPath: field] = try v.int(in: range) } }
        for (key, range, field) in doubles { if let v = pm.optional(key) { c[keyPath: field] = try v.double(in: range) } }
        if let v = pm.optional("starved_action") { c.starvedAction = try v.choice(SurpriseAction.self) }
        if let problem = c.problems().first { throw pm.value.error(problem) }
        try pm.finish()
        return c
    }
}

extension Calibration {
    /// Reads `calibration/NAME.yaml`.
    public static func load(path: String) throws -> Calibration { try parse(text: try readFile(path), path: path) }

    /// A calibration from its text; errors name `path`.
    public static func parse(text: String, path: String) throws -> Calibration {
        let root = try YAMLValue.parse(text, file: path).mapping()
        let board = try root.required("board").string()
        let measured = try root.optional("measured")?.string()
        var frequency = 50.0, trim = 1.0
        if let pwm = try root.optional("pwm")?.mapping() {
            frequency = try pwm.optional("frequency_hz")?.double(in: 24...1526) ?? 50
            trim = try pwm.optional("oscillator_trim")?.double(in: 0.8...1.2) ?? 1
            try pwm.finish()
        }
        var crop: [Int]?
        if let cam = try root.optional("camera")?.mapping() {
            crop = try cam.optional("crop").map(cropRectangle)
            try cam.finish()
        }
        var channels: [String: PulseCalibration] = [:]
        for (name, value) in try root.required("channels").mapping().all() {
            let m = try value.mapping()
            let c = PulseCalibration(
                minMicros: try m.required("min_us").double(in: 400...2600),
                neutralMicros: try m.required("neutral_us").double(in: 400...2600),
                maxMicros: try m.required("max_us").double(in: 400...2600),
                reversed: try m.optional("reversed")?.bool() ?? false,
                deadbandMicros: try m.optional("deadband_us")?.double(in: 0...500) ?? 0)
            try m.finish()
            if let problem = c.problems().first { throw value.error(problem) }
            channels[name] = c
        }
        try root.finish()
        return Calibration(
            board: board, pwmFrequencyHz: frequency, oscillatorTrim: trim, channels: channels, measured: measured,
            cameraCrop: crop, path: path)
    }
}
