import Configuration
import LinuxHardware
import RobotCore

/// Opens the devices a real board's profile names that both the control loop's `Rig` and the
/// calibration bench need: GPIO chips (each label opened once), the output lines, the e-stop input, the
/// output supervisor and the PCA9685 behind it. Lines are requested under `consumer`, so `gpioinfo` shows who holds them.
final class BoardDevices {
    let board: LoadedBoard
    let consumer: String
    private var chips: [String: GPIOChip] = [:]

    init(board: LoadedBoard, consumer: String = "cerebellum") {
        self.board = board
        self.consumer = consumer
    }

    /// The chip with this label, opened on first use.
    func chip(_ label: String) throws -> GPIOChip {
        if let c = chips[label] { return c }
        let c = try GPIOChip(label: label)
        chips[label] = c
        return c
    }

    /// An output line of the profile, at its safe level.
    func output(_ o: OutputLine) throws -> GPIOOutputLine {
        try GPIOOutputLine(
            name: o.name, chip: chip(o.gpio.chip), line: o.gpio.line, activeLow: o.activeLow,
            safeLevel: o.safeLevel, consumer: consumer)
    }

    /// The profile's e-stop input on a GPIO line, if it has one.
    func eStop() throws -> GPIOInputLine? {
        guard let i = board.profile.inputs.first(where: { $0.role == .estop && $0.gpio != nil }), let g = i.gpio else { return nil }
        return try GPIOInputLine(
            name: i.name, chip: chip(g.chip), line: g.line, activeLow: i.activeLow,
            bias: GPIOBias(rawValue: i.bias) ?? .asIs, consumer: consumer)
    }

    /// The profile's PWM section (a real board has one).
    func pwmSettings() throws -> PWMSettings {
        let p = board.profile
        guard let pw = p.pwm else {
            throw ConfigError(file: p.path, line: nil, column: nil, field: "pwm", message: "a real board needs a pwm section")
        }
        return pw
    }

    /// Starts the output supervisor for the profile's PWM board: it holds the OE line and its own handle
    /// on the I2C device, and watches for ticks at the profile's `supervisor.stall_ms`.
    func startSupervisor(priority: Int) throws -> SupervisorLink {
        let pw = try pwmSettings()
        let settings = SupervisorSettings(
            bus: try I2CBus.find(pw.bus).path, address: UInt8(pw.address),
            outputEnable: pw.outputEnable.map { GPIOLineAddress(chipLabel: $0.chip, line: $0.line) },
            outputEnableActiveLow: pw.outputEnableActiveLow, stall: board.profile.supervisorStall,
            priority: priority)
        return try SupervisorLink.start(settings: settings)
    }

    /// The PCA9685 on the profile's bus and address with the calibrated frequency and trim, its outputs
    /// enabled through `supervisor` (which holds the OE line, if there is one, and so knows when the outputs
    /// are enabled and watches the ticks then). Not yet initialized: `activate()` does that.
    func pca9685(clock: RobotClock, supervisor: SupervisorLink) throws -> PCA9685 {
        let pw = try pwmSettings()
        let device = try I2CDevice(bus: try I2CBus.find(pw.bus), address: UInt8(pw.address))
        return PCA9685(
            device: device, pwmChannels: board.profile.actuators.map(\.channel), frequencyHz: board.calibration.pwmFrequencyHz,
            oscillatorTrim: board.calibration.oscillatorTrim, clock: clock, outputEnable: supervisor,
            attempts: pw.attempts, healthCheckEvery: pw.healthCheckEvery)
    }
}
