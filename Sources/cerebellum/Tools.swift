import ArgumentParser
import Configuration
import Control
import Foundation
import LinuxHardware
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
        print(String(format: "loop %.1f Hz (period %.3f ms); ", b.profile.loop.rateHz, c.tickPeriod.inMilliseconds)
              + LimitsDescription.timing(c))
        for (a, l) in zip(b.profile.actuators, c.channels) {
            print(String(format: "  ch %2d ", a.channel) + padded(a.name, 8) + " " + padded(a.kind.rawValue, 12) + " "
                  + LimitsDescription.channel(l))
        }
    }
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the linked libraries and what real-time setup this machine permits.")

    func run() throws {
        print("libgpiod \(LinkedLibraries.libgpiod)")
        print("OpenBLAS \(LinkedLibraries.openBLAS)")
        print("CPUs \(ProcessInfo.processInfo.activeProcessorCount)")
    }
}
