import RobotCore
import Testing
@testable import Safety

/// The two troubles a command source reports to the governor, each with its own response setting.
enum SourceReport: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case surprise, starvation

    var testDescription: String { rawValue }
    var fault: Faults { self == .surprise ? .modelSurprised : .plannerStarved }

    func harness(_ response: SurpriseAction, slow: Double = 0.3) throws -> Harness {
        var c = makeConfig()
        switch self {
        case .surprise: c.surpriseResponse = response
        case .starvation: c.starvationResponse = response
        }
        c.slowFactor = slow
        return try Harness(c)
    }

    func set(_ h: inout Harness, _ on: Bool) {
        switch self {
        case .surprise: h.modelSurprised = on
        case .starvation: h.plannerStarved = on
        }
    }

    func ticks(_ g: SafetyGovernor) -> Int { self == .surprise ? g.surprisedTicks : g.starvedTicks }
}

@Suite("World model surprise and planner starvation")
struct SurpriseTests {
    @Test("stop: the report latches a fault, outputs neutral, reset clears it once the trouble is gone", arguments: SourceReport.allCases)
    func stop(_ report: SourceReport) throws {
        var h = try report.harness(.stop)
        #expect(h.arm() == .armed)
        for _ in 0..<5 { h.tick([0.3, 0.3, 0.1]) }
        report.set(&h, true)
        let out = h.tick([0.3, 0.3, 0.1])
        #expect(out.isNeutral && h.governor.latchedFaults == report.fault && h.governor.state == .faulted)
        #expect(h.governor.clearFaults() == .stillActive(report.fault), "not while the trouble lasts")
        report.set(&h, false)
        h.tick(nil)
        #expect(h.governor.clearFaults() == .cleared)
        #expect(h.governor.requestArm() == .armed)
        #expect(report.ticks(h.governor) == 1)
    }

    @Test("stop: the report before arming is a failed pre-arm check", arguments: SourceReport.allCases)
    func preArm(_ report: SourceReport) throws {
        var h = try report.harness(.stop)
        report.set(&h, true)
        h.tick([0, 0, 0])
        #expect(h.governor.requestArm() == .refused(latched: [], notReady: report.fault))
    }

    @Test("slow: efforts are scaled while it lasts, full again after; nothing latches", arguments: SourceReport.allCases)
    func slow(_ report: SourceReport) throws {
        var h = try report.harness(.slow, slow: 0.25)
        #expect(h.arm() == .armed)
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.8) < 1e-9)
        report.set(&h, true)
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.2) < 1e-9 && abs(h.governor.lastOutput.efforts[1] - 0.1) < 1e-9)
        #expect(h.governor.latchedFaults.isEmpty && report.ticks(h.governor) == 10 && h.governor.slowed)
        report.set(&h, false)
        for _ in 0..<10 { h.tick([0.8, 0.4, 0.2]) }
        #expect(abs(h.governor.lastOutput.efforts[0] - 0.8) < 1e-9 && !h.governor.slowed)
    }

    @Test("report: only counted", arguments: SourceReport.allCases)
    func report(_ report: SourceReport) throws {
        var h = try report.harness(.report)
        #expect(h.arm() == .armed)
        report.set(&h, true)
        for _ in 0..<10 { h.tick([0.5, 0, 0]) }
        #expect(h.governor.state == .armed && report.ticks(h.governor) == 10 && h.governor.lastOutput.efforts[0] == 0.5)
    }

    @Test("a NaN or ∞ from the model latches 'model output invalid' whatever surprise.action says, armed or not")
    func invalidOutput() throws {
        var c = makeConfig()
        c.surpriseResponse = .report
        var h = try Harness(c)
        #expect(h.arm() == .armed)
        h.modelOutputInvalid = true
        #expect(h.tick([0.4, 0.2, 0.1]).isNeutral && h.governor.latchedFaults == .modelOutputInvalid)
        #expect(h.governor.latchedFaults.description == "model output invalid")
        #expect(h.governor.clearFaults() == .stillActive(.modelOutputInvalid))
        h.modelOutputInvalid = false
        h.tick(nil)
        #expect(h.governor.clearFaults() == .cleared)
        var idle = try Harness(c)
        idle.modelOutputInvalid = true
        idle.tick([0, 0, 0])
        #expect(idle.governor.latchedFaults == .modelOutputInvalid, "latched while disarmed too")
    }

    @Test("the starvation fault has its name")
    func names() {
        #expect(Faults.plannerStarved.description == "planner starved")
        #expect(Faults.latchWhileArmed.contains(.plannerStarved))
    }
}
