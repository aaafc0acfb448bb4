import RobotCore
import Testing
@testable import Safety

@Suite("World model surprise")
struct SurpriseTests {
    func harness(_ response: SurpriseAction, slow: Double = 0.3) throws -> Harness {
        var c = makeConfig()
        c.surpriseResponse = response
        c.slowFactor = slow
        return try Harness(c)
    }

    @Test("stop: a surprised model latches a fault, outputs neutral, reset clears it once the surprise is gone")
    func stop() throws {
        var h = try harness(.stop)
        #expect(h.arm() == .armed)
        for _ in 0..<5 { h.tick([0.3, 0.3, 0.1]) }
        h.modelSurprised = true
        let out = h.tick([0.3, 0.3, 0.1])
        #expect(out.isNeutral && h.governor.latchedFaults == .modelSurprised && h.governor.state == .faulted)
        #expect(h.governor.clearFaults() == .stillActive(.modelSurprised), "not while the model is still surprised")
        h.modelSurprised = false
        h.tick(nil)
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.governor.requestArm() == .armed)
    }

    @Test("stop: surprise before arming is a failed pre-arm check")
    func preArm() throws {
        var h = try harness(.stop)
        h.modelSurprised = true
        h.tick([0, 0, 0])
        #expect(h.governor.requestArm() == .refused(latched: [], notReady: .modelSurprised))
    }

    @Test("slow: efforts are scaled while surprised, full again after; nothing latches")
    func slow() throws {
        var h = try harness(.slow, slow: 0.25)
        #expect(h.arm() == .armed)
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.8) < 1e-9)
        h.modelSurprised = true
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.2) < 1e-9 && abs(h.governor.lastOutput.efforts[1] - 0.1) < 1e-9)
        #expect(h.governor.latchedFaults.isEmpty && h.governor.surprisedTicks == 10)
        h.modelSurprised = false
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.8) < 1e-9)
    }

    @Test("report: only counted")
    func report() throws {
        var h = try harness(.report)
        #expect(h.arm() == .armed)
        h.modelSurprised = true
        for _ in 0..<10 { h.tick([0.5, 0, 0]) }
        #expect(h.governor.state == .armed && h.governor.surprisedTicks == 10 && h.governor.lastOutput.efforts[0] == 0.5)
    }
}
