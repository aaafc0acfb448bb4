import Configuration
import Foundation
import Control
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing

@Suite struct CalibrationBenchTests {
    func bench() throws -> CalibrationBench {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let loaded = try LoadedBoard.load(boardPath: root + "/boards/sim-two-rooms.yaml")
        return try CalibrationBench(board: loaded, clock: ManualClock())
    }

    @Test func pulsesGoThroughTheGovernorToTheRegisterModel() throws {
        let b = try bench()
        let clock = b.clock as! ManualClock
        #expect(b.arm() == .armed)
        b.target[0] = 1700
        for _ in 0..<50 { clock.advance(by: .milliseconds(20)); b.step(live: true) }
        #expect(abs(b.simulatedPulse(0)! - 1700) < 5, "the chip outputs the asked pulse to one count")
        #expect(b.simulatedDrive(0)! > 0.3)
        // Dead-man: not live → neutral.
        for _ in 0..<50 { clock.advance(by: .milliseconds(20)); b.step(live: false) }
        #expect(abs(b.simulatedPulse(0)! - 1500) < 5)
        #expect(b.simulatedDrive(0)! == 0)
    }

    @Test func theEStopStopsTheBench() throws {
        let b = try bench()
        let clock = b.clock as! ManualClock
        #expect(b.arm() == .armed)
        b.target[0] = 2000
        clock.advance(by: .milliseconds(20))
        b.step(live: true)
        #expect(abs(b.simulatedPulse(0)! - 2000) < 5)
        (b.eStop as! SimulatedInput).pressed = true
        clock.advance(by: .milliseconds(20))
        b.step(live: true)
        #expect(b.governor.latchedFaults.contains(.eStop))
        #expect(abs(b.simulatedPulse(0)! - 1500) < 5)
        b.stop()
        #expect(b.simulatedPulse(0)! == 0, "stop is full-OFF")
    }
}
