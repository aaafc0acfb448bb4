import Configuration
import LinuxHardware
import RobotCore
import Safety
import Simulation

/// What `cerebellum calibrate` drives: the board's PWM board (the PCA9685 over I2C, or on a simulated
/// board a register-level PCA9685 model whose outputs feed the simulated servos) with the safety governor
/// in the path, in a calibration mode: each channel's pulse maps linearly to effort over a wide range
/// around its current neutral (500 µs either side, inside 400…2600), so the tool can ask for any pulse
/// while the governor still enforces slew and window limits, the e-stop input and the arm state.
/// On a real board the output supervisor holds the outputs as it does for `run`: the bench must `step`
/// (or `hold`) at least every `supervisor.stall_ms` while they are enabled, prompts included, or they are cut.
public final class CalibrationBench {
    public let board: LoadedBoard
    public let clock: RobotClock
    public let pwm: PCA9685
    /// What `step` writes through: on a real board the PCA9685 behind the output supervisor.
    private let output: ActuatorOutput
    /// The output supervisor, on a real board.
    public let supervisor: SupervisorLink?
    /// On a simulated board: the PCA9685 register model and what the simulated actuators really do.
    public let simulatedChip: PCA9685Model?
    public let simulatedTruth: [ActuatorPhysics]?
    public let eStop: DigitalInput?
    public let governor: SafetyGovernor
    /// The calibration-mode pulse map per channel (what effort means here).
    public let benchMaps: [PulseCalibration]
    /// Pulse each channel should have while the output is live, µs.
    public var target: [Double]
    private var command: Command
    /// The bench's devices, for their lifecycle.
    private let devices: DeviceSet
    private var stopped = false

    /// Opens the PWM board (and the e-stop input) and initializes the chip. Nothing moves until `arm()`
    /// and a live `step`.
    public init(board: LoadedBoard, clock: RobotClock, tickPeriod: Duration = .milliseconds(20)) throws {
        self.board = board
        self.clock = clock
        let p = board.profile
        let devices = DeviceSet()
        self.devices = devices
        if let sim = p.simulation {
            let chip = PCA9685Model(oscillatorHz: sim.pwmOscillatorHz, clock: clock)
            simulatedChip = chip
            simulatedTruth = sim.actuatorTruth
            pwm = devices.add(
                PCA9685(
                    device: chip, pwmChannels: p.actuators.map(\.channel), frequencyHz: board.calibration.pwmFrequencyHz,
                    oscillatorTrim: board.calibration.oscillatorTrim, clock: clock))
            eStop = p.inputs.first { $0.role == .estop }.map { devices.add(SimulatedInput(name: $0.name)) }
            output = pwm
            supervisor = nil
        } else {
            simulatedChip = nil
            simulatedTruth = nil
            let opener = BoardDevices(board: board, consumer: "cerebellum-calibrate")
            do {
                let link = devices.add(try opener.startSupervisor(priority: 0))
                supervisor = link
                pwm = try opener.pca9685(clock: clock, supervisor: link)
                output = devices.add(SupervisedActuators(chip: pwm, link: link))
                eStop = try opener.eStop().map { devices.add($0) }
            } catch {
                devices.close()
                throw error
            }
        }
        benchMaps = p.actuators.map { a in
            let n = board.calibration.channels[a.name]?.neutralMicros ?? 1500
            return PulseCalibration(
                minMicros: max(PulseCalibration.plausibleMicros.lowerBound, n - 500), neutralMicros: n,
                maxMicros: min(PulseCalibration.plausibleMicros.upperBound, n + 500))
        }
        let limits = zip(p.actuators, benchMaps).map { a, m in
            ChannelLimits(name: a.name, minEffort: -1, maxEffort: 1, maxSlewPerSecond: max(a.slewPerSecond, 2), calibration: m)
        }
        do {
            governor = try SafetyGovernor(
                config: SafetyConfig(
                    channels: limits, tickPeriod: tickPeriod, window: p.safety.window, maxWindowChange: 2,
                    maxFrameAge: .seconds(3600), maxConsecutiveOverruns: 1000, stallTimeout: .milliseconds(500),
                    heartbeatTimeout: .milliseconds(500)))
        } catch {
            devices.close()
            throw error
        }
        target = benchMaps.map(\.neutralMicros)
        command = .neutral(channels: limits.count, at: clock.now(), origin: .calibration)
        try devices.activate()
    }

    /// The profile's index of an actuator given by name or by PWM channel number.
    public func channelIndex(_ spec: String) -> Int? {
        let acts = board.profile.actuators
        if let i = acts.firstIndex(where: { $0.name == spec }) { return i }
        if let n = Int(spec) { return acts.firstIndex { $0.channel == n } }
        return nil
    }

    /// The effort that gives `pulse` on channel `i` under the calibration-mode map.
    func effort(_ i: Int, pulse: Double) -> Double {
        let m = benchMaps[i]
        let e =
            pulse >= m.neutralMicros
            ? (pulse - m.neutralMicros) / (m.maxMicros - m.neutralMicros)
            : (pulse - m.neutralMicros) / (m.neutralMicros - m.minMicros)
        return min(1, max(-1, e))
    }

    /// The range the tool may ask of channel `i`, µs.
    public func pulseRange(_ i: Int) -> ClosedRange<Double> { benchMaps[i].minMicros...benchMaps[i].maxMicros }

    /// One bench tick: the e-stop is read, the governor gates `target` (when `live`) or neutral, and the
    /// result is written to the PWM board. Returns what was written.
    @discardableResult
    public func step(live: Bool) -> SafeCommand {
        let now = clock.now()
        for i in 0..<target.count { command.efforts[i] = live ? effort(i, pulse: target[i]) : 0 }
        command.issuedAt = now
        // The calibration bench has no camera: the governor's frame-age check is given the current time.
        let inputs = TickInputs(
            now: now, eStop: eStop?.read() ?? .level(false), frameTimestamp: now, cameraFailure: nil,
            consecutiveOverruns: 0, teleopLinkLost: false, modelSurprised: false)
        var out = governor.step(command: command, inputs: inputs)
        if let f = output.write(out) {
            out = governor.recordWrite(f)
            _ = output.write(out)
        } else {
            governor.recordWrite(nil)
        }
        supervisor?.tick()
        return out
    }

    /// A tick at neutral while the tool waits for the user (a prompt, a measurement): the outputs hold
    /// their neutral pulses and the supervisor keeps seeing ticks.
    public func hold() {
        guard !stopped else { return }
        step(live: false)
    }

    /// Arms the governor (after a first `step` has shown every check passing).
    public func arm() -> ArmResult {
        step(live: false)
        return governor.requestArm()
    }

    /// Outputs off: disarmed, full-OFF, OE released, lines given back, the supervisor told to finish
    /// (it writes full-OFF once more and exits). Safe to call more than once.
    public func stop() {
        stopped = true
        governor.disarm()
        devices.close()
    }

    /// On a simulated board: the drive (−1…1) the simulated actuator on channel `i` produces with the
    /// pulse the chip is really putting out now (what a person watching the servo would see).
    public func simulatedDrive(_ i: Int) -> Double? {
        guard let chip = simulatedChip, let truth = simulatedTruth else { return nil }
        let p = chip.pulseMicros(channel: board.profile.actuators[i].channel)
        return p > 0 ? truth[i].drive(pulseMicros: p) : 0
    }

    /// On a simulated board: the PWM frequency a scope would measure on the outputs, Hz.
    public var simulatedOutputHz: Double? { simulatedChip.map { 1 / $0.periodSeconds } }

    /// On a simulated board: the high time a scope would measure on channel `i`, µs.
    public func simulatedPulse(_ i: Int) -> Double? { simulatedChip?.pulseMicros(channel: board.profile.actuators[i].channel) }
}
