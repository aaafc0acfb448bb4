import ArgumentParser
import Glibc
import LinuxHardware
import RobotCore

/// `cerebellum supervise`: the output supervisor process. `run` starts it on a real board with the
/// channel as file descriptor 3; it is not meant to be started by hand.
struct Supervise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The output supervisor that `run` starts on a real board (not for direct use): holds the PCA9685's OE line, cuts the outputs "
            + "if the controller dies or stops ticking."
    )

    @Option(help: "The PWM board's i2c-dev node, e.g. /dev/i2c-1.")
    var bus: String

    @Option(help: "The PCA9685's 7-bit address (decimal).")
    var address: UInt8

    @Option(help: "Largest gap between control-loop ticks while the outputs are enabled, ms.")
    var stallMs: Int

    @Option(help: "SCHED_FIFO priority (0: the normal scheduler).")
    var priority = 0

    @Option(help: "The OE line's chip label.")
    var oeChip: String?

    @Option(help: "The OE line (name or offset on that chip).")
    var oeLine: String?

    @Option(help: "OE is asserted (outputs enabled) when the line is low.")
    var oeActiveLow = true

    @Option(help: "The channel to the controller (a connected Unix socket).")
    var channel: Int32 = 3

    func run() throws {
        // It lives exactly as long as the controller: terminal and service-manager signals do not end it
        // (it is in a session of its own); the controller's end of the channel closing does.
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE] { signal(s, SIG_IGN) }
        var st = stat()
        guard fstat(channel, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else {
            warn(
                "supervisor: error: file descriptor \(channel) is not the controller's channel (this command is started by `cerebellum "
                    + "run`)"
            )
            throw ExitCode(2)
        }
        if priority > 0 {
            let rt = applyRealtime(priority: priority, lockMemory: true, cpu: nil)
            for w in rt.warnings { warn("supervisor: warning: \(w)") }
        }
        let device: I2CDevice
        var outputEnable: GPIOOutputLine?
        do {
            device = try I2CDevice(bus: try I2CBus.find(bus), address: address)
            if let oeChip, let oeLine {
                outputEnable = try GPIOOutputLine(
                    name: "pwm_output_enable", chip: GPIOChip(label: oeChip), line: oeLine,
                    activeLow: oeActiveLow, safeLevel: false, consumer: "cerebellum-supervisor")
            }
        } catch {
            warn("supervisor: error: \(error)")
            throw ExitCode(2)
        }
        let supervisor = OutputSupervisor(device: device, outputEnable: outputEnable, stall: .milliseconds(Int64(stallMs)))
        guard case .success = sendSupervisorByte(channel, SupervisorMessage.ready) else {
            supervisor.controllerGone()
            throw ExitCode(2)
        }
        runOutputSupervisor(supervisor, channel: channel, clock: SystemClock()) { warn("SUPERVISOR: \($0)") }
        outputEnable?.release()
    }
}
