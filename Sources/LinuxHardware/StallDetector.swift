import Glibc

/// Finds the moments a thread does not run although it wants to, the way hwlatdetect and
/// cyclictest's busy mode do: the calling thread spins reading CLOCK_MONOTONIC, and any gap between
/// two consecutive reads longer than `threshold` is a stall. Each gap is also measured on the
/// thread's own CPU clock, which tells two kinds apart:
/// - preempted: the CPU clock stood still (the OS ran something else; visible to the OS, and to
///   real-time priorities and isolated cores);
/// - hidden: the CPU clock ran on with the wall clock, so the OS believes this thread was running.
///   Below the OS: a hypervisor holding the virtual CPU without reporting it as steal time, a host
///   page fault on guest memory, firmware (SMIs); or kernel work done in the thread's own context.
///   No scheduling setting inside the machine removes these.
/// Anything timed on such a machine (a tick, a plan) can take as long as the longest stall on top
/// of its own cost, and a thread CPU clock cannot tell the hidden kind from the work.
public struct StallReport: Sendable, Codable {
    public struct Gap: Sendable, Codable, Equatable {
        /// Seconds since the start of the measurement.
        public var atSeconds: Double
        public var milliseconds: Double
        /// The thread's CPU time over the gap, ms (about `milliseconds` for a hidden stall).
        public var cpuMilliseconds: Double
        public var hidden: Bool
    }

    public var seconds: Double
    public var thresholdMilliseconds: Double
    /// Clock reads made (a measure of how finely the time was sampled).
    public var reads: Int
    /// Gaps over the threshold, by kind, with their total time (ms).
    public var preempted: Int
    public var hidden: Int
    public var preemptedMilliseconds: Double
    public var hiddenMilliseconds: Double
    /// Gaps over 1, 2, 5, 10 and 20 ms (of either kind).
    public var over: [String: Int]
    /// The longest gaps, longest first (at most 10).
    public var longest: [Gap]
    /// The machine's steal time over the measurement (all CPUs, from /proc/stat; nil where unreadable), ms.
    public var stealMilliseconds: Double?

    public var maxMilliseconds: Double { longest.first?.milliseconds ?? 0 }
}

public enum StallDetector {
    /// Gap lengths counted in `StallReport.over`, ms.
    public static let marks: [Double] = [1, 2, 5, 10, 20]

    /// Spins on the calling thread for `seconds` (it uses a whole CPU meanwhile). `halfway` runs once,
    /// half way through, inside the spin (a test makes a stall of known kind with it).
    public static func measure(seconds: Double, threshold: Duration = .microseconds(500), halfway: (() -> Void)? = nil) -> StallReport {
        let clock = SystemClock()
        let monotonic = { clock.now().nanoseconds }, threadCPU = { ThreadCPUTime.now().nanoseconds }
        let steal0 = stealNanoseconds()
        let limit = Int64(threshold.nanoseconds)
        let start = monotonic(), end = start + Int64(seconds * 1e9)
        var previous = start, previousCPU = threadCPU()
        var reads = 0
        var report = StallReport(
            seconds: seconds, thresholdMilliseconds: Double(limit) / 1e6, reads: 0, preempted: 0, hidden: 0,
            preemptedMilliseconds: 0, hiddenMilliseconds: 0,
            over: Dictionary(uniqueKeysWithValues: marks.map { (label($0), 0) }), longest: [], stealMilliseconds: nil)
        var halfway = halfway
        let middle = start + (end - start) / 2
        while previous < end {
            if previous >= middle, let h = halfway { h(); halfway = nil }
            let now = monotonic(), cpu = threadCPU()
            reads += 1
            let gap = now - previous
            if gap > limit {
                let ms = Double(gap) / 1e6, cpuMs = Double(cpu - previousCPU) / 1e6
                let hidden = isHidden(milliseconds: ms, cpuMilliseconds: cpuMs)
                if hidden {
                    report.hidden += 1; report.hiddenMilliseconds += ms
                } else {
                    report.preempted += 1; report.preemptedMilliseconds += ms
                }
                for m in marks where ms > m { report.over[label(m), default: 0] += 1 }
                report.longest.append(
                    .init(atSeconds: Double(previous - start) / 1e9, milliseconds: ms, cpuMilliseconds: cpuMs, hidden: hidden))
                if report.longest.count > 10 {
                    report.longest.sort { $0.milliseconds > $1.milliseconds }
                    report.longest.removeLast()
                }
            }
            previous = now
            previousCPU = cpu
        }
        report.longest.sort { $0.milliseconds > $1.milliseconds }
        report.reads = reads
        if let s0 = steal0, let s1 = stealNanoseconds() { report.stealMilliseconds = Double(s1 - s0) / 1e6 }
        return report
    }

    public static func label(_ ms: Double) -> String { "\(Int(ms)) ms" }

    /// A gap is hidden when the thread's CPU clock accounted at least 90 % of it.
    public static func isHidden(milliseconds: Double, cpuMilliseconds: Double) -> Bool { cpuMilliseconds >= 0.9 * milliseconds }

    /// The steal column of /proc/stat's "cpu" line (in USER_HZ ticks), ns.
    static func stealNanoseconds() -> Int64? {
        guard let f = fopen("/proc/stat", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let fields = cString(line).split(separator: " ")
        // cpu user nice system idle iowait irq softirq steal …
        guard fields.first == "cpu", fields.count > 8, let ticks = Int64(fields[8]) else { return nil }
        let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return ticks * 1_000_000_000 / max(hz, 1)
    }
}
