import Foundation
import RobotCore
import Testing
@testable import Safety

/// Random command and fault sequences against the governor's invariants (openpilot-style safety
/// testing): whatever happens, no output leaves its limits, no output moves faster than its slew
/// rate or more than the window allows, and every fault puts every output at neutral in the tick
/// it is seen.
@Suite("Safety governor properties")
struct GovernorPropertyTests {
    /// 100 000; `CEREBELLUM_PROPERTY_SEQUENCES` sets fewer for the mutation runs (`make mutation-safety`).
    static let sequences = ProcessInfo.processInfo.environment["CEREBELLUM_PROPERTY_SEQUENCES"].flatMap { Int($0) } ?? 100_000
    static let ticksPerSequence = 16

    @Test("100 000 random command/fault sequences keep every invariant")
    func randomSequences() throws {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        let config = makeConfig(window: .milliseconds(300), maxWindowChange: 0.7)
        let windowTicks = 3
        var checked = 0, faultTicks = 0, limitedTicks = 0
        for _ in 0..<Self.sequences {
            var h = try Harness(config)
            var history: [[Double]] = []  // outputs since the last neutralization
            var previous = h.governor.lastOutput.efforts
            for _ in 0..<Self.ticksPerSequence {
                // Random world.
                let r = rng.unit()
                h.eStop = r < 0.03 ? .level(true) : (r < 0.04 ? .failed(.io(errno: .ioError)) : .level(false))
                h.cameraFailure = rng.unit() < 0.02 ? .lost : nil
                h.frameAge = rng.unit() < 0.03 ? (rng.unit() < 0.5 ? nil : .milliseconds(400)) : .milliseconds(Int64(rng.uniform(0, 140)))
                h.overruns = rng.unit() < 0.05 ? Int(rng.uniform(0, 5)) : 0
                let gap: Duration = rng.unit() < 0.02 ? .milliseconds(700) : .milliseconds(100)
                // Random operator actions.
                let a = rng.unit()
                if a < 0.25 {
                    _ = h.governor.requestArm()
                } else if a < 0.30 {
                    _ = h.governor.clearFaults()
                } else if a < 0.32 {
                    h.governor.disarm()
                }
                // Random command.
                var efforts: [Double]? = nil
                if rng.unit() < 0.9 {
                    efforts = (0..<3).map { _ in
                        let k = rng.unit()
                        return k < 0.01 ? .nan : (k < 0.02 ? .infinity : (k < 0.05 ? rng.uniform(-3, 3) : rng.uniform(-1, 1)))
                    }
                    if rng.unit() < 0.01 { efforts!.removeLast() }
                }
                let armedBefore = h.governor.state == .armed
                let out = h.tick(efforts, after: gap)
                let causes = h.governor.activeCauses
                let failedWrite = rng.unit() < 0.01
                if failedWrite { #expect(h.governor.recordWrite(.injected).isNeutral) } else { h.governor.recordWrite(nil) }

                // Invariant 1: absolute limits and calibrated pulse range.
                for i in 0..<3 {
                    let l = config.channels[i]
                    #expect(out.efforts[i] >= l.minEffort && out.efforts[i] <= l.maxEffort)
                    #expect(out.pulseMicros[i] >= l.calibration.minMicros && out.pulseMicros[i] <= l.calibration.maxMicros)
                }
                // Invariant 2: a fault seen this tick neutralizes this tick; not armed means neutral.
                let mustStop =
                    !causes.intersection(Faults.latchAlways).isEmpty
                    || (armedBefore && !causes.intersection(Faults.latchWhileArmed).isEmpty)
                if mustStop { faultTicks += 1; #expect(out.isNeutral) }
                if h.governor.state != .armed && !failedWrite { #expect(out.isNeutral) }
                if h.governor.state == .faulted { #expect(!h.governor.latchedFaults.isEmpty) }
                // Invariant 3: outside neutralization, slew and window limits hold.
                if out.isNeutral {
                    history = []
                } else {
                    for i in 0..<3 {
                        let slew = config.channels[i].maxSlewPerSecond * 0.1
                        #expect(abs(out.efforts[i] - previous[i]) <= slew + 1e-9)
                        for past in history.suffix(windowTicks) { #expect(abs(out.efforts[i] - past[i]) <= 0.7 + 1e-9) }
                    }
                    history.append(out.efforts.array)
                    limitedTicks += 1
                }
                previous = failedWrite ? h.governor.lastOutput.efforts : out.efforts
                if failedWrite { history = [] }
                checked += 1
            }
        }
        #expect(checked == Self.sequences * Self.ticksPerSequence)
        // The sequences must exercise both sides: faults and moving outputs.
        #expect(faultTicks > checked / 20)
        #expect(limitedTicks > checked / 20)
    }
}
