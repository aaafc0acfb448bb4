import RobotCore
import Testing

/// A shared log the devices append to through a reference.
private final class Log {
    var lines: [String] = []
}

private final class LoggedDevice: Device {
    let name: String
    let log: Log
    let failsToActivate: Bool
    init(_ name: String, _ log: Log, failsToActivate: Bool = false) {
        self.name = name
        self.log = log
        self.failsToActivate = failsToActivate
    }
    struct Refused: Error {}
    func activate() throws {
        log.lines.append("activate \(name)")
        if failsToActivate { throw Refused() }
    }
    func deactivate() { log.lines.append("deactivate \(name)") }
    func shutdown() { log.lines.append("shutdown \(name)") }
}

/// A device that keeps every default step.
private final class PlainDevice: Device {}

@Suite struct DeviceLifecycleTests {
    @Test("devices activate in the order they were opened; deactivate and shut down in reverse, each pass in full")
    func order() throws {
        let log = Log()
        let set = DeviceSet()
        for n in ["supervisor", "enable", "pwm", "camera"] { set.add(LoggedDevice(n, log)) }
        set.add(PlainDevice())
        try set.activate()
        #expect(log.lines == ["activate supervisor", "activate enable", "activate pwm", "activate camera"])
        log.lines = []
        set.close()
        #expect(
            log.lines == [
                "deactivate camera", "deactivate pwm", "deactivate enable", "deactivate supervisor",
                "shutdown camera", "shutdown pwm", "shutdown enable", "shutdown supervisor",
            ])
        log.lines = []
        set.close()
        #expect(log.lines.isEmpty, "a second close does nothing")
    }

    @Test("a device that cannot activate leaves every device of the set deactivated and shut down, and the error reaches the caller")
    func failedActivation() {
        let log = Log()
        let set = DeviceSet()
        set.add(LoggedDevice("supervisor", log))
        set.add(LoggedDevice("pwm", log, failsToActivate: true))
        set.add(LoggedDevice("camera", log))
        #expect(throws: LoggedDevice.Refused.self) { try set.activate() }
        #expect(
            log.lines == [
                "activate supervisor", "activate pwm",
                "deactivate camera", "deactivate pwm", "deactivate supervisor",
                "shutdown camera", "shutdown pwm", "shutdown supervisor",
            ])
    }
}
