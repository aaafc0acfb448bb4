import ArgumentParser
import Configuration
import Control
import Foundation
import LinuxHardware
import NeuralEngine
import Planning
import Safety

struct CheckBoard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-board",
        abstract: "Validate a board profile and its calibration; print what the governor will enforce.",
        discussion: "Exits 0 when both files are valid, 2 with file:line:column: field: problem otherwise.")

    @Argument(help: "Board profile (YAML).")
    var board = "boards/sim-two-rooms.yaml"

    func run() throws {
        let b = loadBoardOrExit(board)
        let c = b.safetyConfig
        print("\(board): valid — board \(b.profile.name), calibration \(b.calibration.path)")
        for a in b.profile.safety.acknowledged { print(a.warning) }
        print(
            String(format: "loop %.1f Hz (period %.3f ms); ", b.profile.loop.rateHz, c.tickPeriod.inMilliseconds)
                + LimitsDescription.timing(c))
        if b.profile.simulation == nil {
            print(
                "output supervisor: a second process holds "
                    + "\(b.profile.pwm?.outputEnable.map { "the OE line \($0.chip)/\($0.line)" } ?? "no OE line")"
                    + " and cuts the outputs if the controller dies or no tick comes for \(Int(b.profile.supervisorStall.inMilliseconds)) "
                    + "ms (supervisor.stall_ms)"
            )
        }
        for (a, l) in zip(b.profile.actuators, c.channels) {
            print(
                String(format: "  ch %2d ", a.channel) + padded(a.name, 8) + " " + padded(a.kind.rawValue, 12) + " "
                    + LimitsDescription.channel(l))
        }
        print(
            "planner: the world model's actions are [\(b.profile.plannedActuators.joined(separator: ", "))] "
                + "(planner.actuators), motion \((b.profile.planner ?? PlannerConfig()).motion.rawValue), "
                + "predictor \(predictorChoice((b.profile.planner ?? PlannerConfig()).predictor))")
    }
}

/// What `precision` runs on this CPU: the first candidate kernel (before its start-up check), with the setting.
func predictorChoice(_ precision: DensePrecision) -> String {
    let kernel = DenseKernel.candidates(precision).first ?? .portable
    return "\(precision.rawValue) (\(kernel.precision.rawValue), the \(kernel.rawValue) kernel on this CPU)"
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the linked libraries and the devices a board profile can name on this machine.")

    func run() throws {
        print("\(LinkedLibraries.kernel), C library \(LinkedLibraries.cLibrary)")
        print("libgpiod \(LinkedLibraries.libgpiod)")
        print("OpenBLAS \(BLAS.configuration), \(BLAS.coreName) kernels")
        if let fallback = BLAS.fallback {
            print(
                "  WARNING: \(fallback); `cerebellum train` restarts itself with OPENBLAS_CORETYPE=\(BLAS.safeAVX2CoreType) "
                    + "(checked against the portable kernel); the planner does not use OpenBLAS")
        }
        print(String(format: "  OpenBLAS against the portable kernel: relative difference %.1e", BLAS.disagreementWithPortable()))
        print(
            "dense kernels (planner): \(DenseKernel.available.map(\.rawValue).joined(separator: ", ")); int8 kernels (encoder): "
                + Int8Kernel.available.map(\.rawValue).joined(separator: ", "))
        print("  planner.predictor auto runs \(predictorChoice(.auto)) here")
        print("CPUs \(ProcessInfo.processInfo.activeProcessorCount)")
        let cameras = V4L2Camera.list()
        print("cameras (camera.device): " + (cameras.isEmpty ? "none" : ""))
        for c in cameras { print("  \(c.path)  driver \(c.driver), card \(c.card)") }
        let chips = GPIOChip.list()
        print("GPIO chips (chip: label): " + (chips.isEmpty ? "none" : ""))
        for c in chips { print("  \(c.label)  (\(c.name), \(c.lines) lines)") }
        let buses = I2CBus.list()
        print("I2C buses (pwm.bus): " + (buses.isEmpty ? "none" : ""))
        for b in buses { print("  \(b.number)  \(b.adapterName)") }
        print("watchdog: " + (FileManager.default.fileExists(atPath: "/dev/watchdog") ? "/dev/watchdog" : "none"))
    }
}
