import Glibc
import LinuxHardware
import RobotCore
import Testing

@Suite("stall detector")
struct StallDetectorTests {
    /// A sleep inside the spin is a gap the OS knows of: preempted (the thread's CPU clock stood
    /// still), at least as long as the sleep; busy work inside it is a gap the CPU clock accounts for,
    /// the signature of a hidden stall. The report's counts agree with its gaps.
    @Test func sleepsArePreemptedGapsAndBusyWorkIsHidden() {
        let slept = StallDetector.measure(seconds: 0.1, threshold: .microseconds(500), halfway: { usleep(8_000) })
        let gap = slept.longest.first
        #expect(gap.map { $0.milliseconds >= 8 && !$0.hidden && $0.cpuMilliseconds < 1 } == true, "\(String(describing: gap))")
        #expect(slept.preempted >= 1 && (slept.over["5 ms"] ?? 0) >= 1)
        #expect(slept.reads > 1_000, "the spin read the clock \(slept.reads) times")
        #expect(slept.longest == slept.longest.sorted { $0.milliseconds > $1.milliseconds })
        #expect(slept.longest.count == min(10, slept.preempted + slept.hidden))
        #expect(slept.stealMilliseconds != nil, "/proc/stat has a steal column")

        let busy = StallDetector.measure(seconds: 0.1, threshold: .microseconds(500), halfway: {
            var x = 1.0
            let clock = SystemClock(), start = clock.now()
            while (clock.now() - start) < .milliseconds(8) { x = x * 1.000001 + 1e-9 }
            #expect(x > 1)
        })
        #expect(busy.longest.first.map { $0.milliseconds >= 8 && $0.hidden } == true, "\(String(describing: busy.longest.first))")
    }
}
