import ArgumentParser
import Foundation
import LinuxHardware

struct BenchStalls: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stalls",
        abstract: "Stalls of this machine: gaps in a thread that spins reading the clock, preempted or hidden.",
        discussion: """
            Like hwlatdetect: one thread spins on CLOCK_MONOTONIC for --seconds and records every gap between two
            reads longer than --threshold-ms. A gap during which the thread's CPU clock stood still was a preemption
            (the OS ran something else). One during which it ran on is hidden: the OS believes the thread ran, so the
            time went below it (a hypervisor holding the virtual CPU without reporting steal time, a host page fault,
            firmware) or to kernel work in the thread's context. Every timed figure on this machine (tick, plan time)
            can include such a gap on top of its own cost. Steal time from /proc/stat is shown alongside.
            """)

    @Option(help: "Seconds to spin (uses one CPU fully).")
    var seconds = 30.0
    @Option(help: "Shortest gap recorded, ms.")
    var thresholdMs = 0.5
    @Option(help: "Pin the spinning thread to this CPU.")
    var cpu: Int?
    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    func run() throws {
        guard seconds > 0, thresholdMs > 0 else { throw ValidationError("--seconds and --threshold-ms must be > 0") }
        lineBufferedStandardOutput()
        if let cpu {
            let r = applyRealtime(priority: 0, lockMemory: false, cpu: cpu)
            print("pinning: \(r.summary)")
        }
        print(String(format: "spinning %.0f s on the clock, recording gaps over %.2f ms…", seconds, thresholdMs))
        let r = StallDetector.measure(seconds: seconds, threshold: .nanoseconds(Int64(thresholdMs * 1e6)))
        print(String(format: "%d clock reads (%.0f ns apart on average)", r.reads, seconds * 1e9 / Double(max(r.reads, 1))))
        print(String(format: "  preempted (CPU clock stood still): %5d gaps, %8.2f ms in all", r.preempted, r.preemptedMilliseconds))
        print(String(format: "  hidden    (CPU clock ran on):      %5d gaps, %8.2f ms in all", r.hidden, r.hiddenMilliseconds))
        print("  gaps over " + StallDetector.marks.map { "\(Int($0)) ms: \(r.over[StallDetector.label($0)] ?? 0)" }.joined(separator: ", "))
        print(String(format: "  longest gap %.2f ms", r.maxMilliseconds))
        if let s = r.stealMilliseconds { print(String(format: "  steal time reported by the kernel meanwhile (all CPUs): %.0f ms", s)) }
        if !r.longest.isEmpty {
            print("  longest gaps:")
            for g in r.longest.prefix(5) {
                print(
                    String(
                        format: "    at %6.2f s: %6.2f ms, thread CPU %6.2f ms (%@)", g.atSeconds, g.milliseconds, g.cpuMilliseconds,
                        g.hidden ? "hidden" : "preempted"))
            }
        }
        if let json {
            try jsonString(r).write(toFile: json, atomically: true, encoding: .utf8)
            print("figures: \(json)")
        }
    }
}
