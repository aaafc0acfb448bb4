import Glibc
import LinuxHardware
import RobotCore
import Testing

@Suite("stall detector")
struct StallDetectorTests {
    /// A sleep inside the spin is a gap the OS knows of: preempted (the thread's CPU clock stood
    /// still), at least as long as the sleep. Busy work inside the spin is a gap the CPU clock
    /// accounts for, the signature of a hidden stall. Either may share its window with a real stall
    /// of the machine, so the test looks for its own gap among the longest, by what it must show.
    @Test func sleepsArePreemptedGapsAndBusyWorkIsHidden() {
        let slept = StallDetector.measure(seconds: 0.1, threshold: .microseconds(500), halfway: { usleep(8_000) })
        #expect(slept.longest.contains { $0.milliseconds >= 8 && $0.cpuMilliseconds < 1 && !$0.hidden }, "\(slept.longest)")
        #expect(slept.preempted >= 1 && (slept.over["5 ms"] ?? 0) >= 1)
        #expect(slept.reads > 1_000, "the spin read the clock \(slept.reads) times")
        #expect(slept.longest == slept.longest.sorted { $0.milliseconds > $1.milliseconds })
        #expect(slept.longest.count == min(10, slept.preempted + slept.hidden))
        #expect(
            slept.longest.allSatisfy {
                $0.hidden == StallDetector.isHidden(milliseconds: $0.milliseconds, cpuMilliseconds: $0.cpuMilliseconds)
            })
        #expect(slept.stealMilliseconds != nil, "/proc/stat has a steal column")

        // 8 ms of this thread's own CPU time inside the spin.
        let busy = StallDetector.measure(
            seconds: 0.1, threshold: .microseconds(500),
            halfway: {
                var x = 1.0
                let start = ThreadCPUTime.now()
                while ThreadCPUTime.now() - start < .milliseconds(8) { x = x * 1.000001 + 1e-9 }
                #expect(x > 1)
            })
        #expect(busy.longest.contains { $0.milliseconds >= 8 && $0.cpuMilliseconds >= 8 }, "\(busy.longest)")
        #expect(
            StallDetector.isHidden(milliseconds: 8.2, cpuMilliseconds: 8.0)
                && !StallDetector.isHidden(milliseconds: 8.2, cpuMilliseconds: 0.1))
    }
}
