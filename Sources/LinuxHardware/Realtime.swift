import CShims
import Glibc
import RobotCore

/// What real-time setup achieved: each item either took effect or is a warning saying why not.
public struct RealtimeOutcome: Sendable {
    public var applied: [String] = []
    public var warnings: [String] = []

    /// One line: what took effect, then each warning.
    public var summary: String { (applied + warnings.map { "warning: \($0)" }).joined(separator: "; ") }
}

/// Best-effort real-time setup for the calling (loop) thread, as ros2_control and openpilot do:
/// mlockall, SCHED_FIFO at `priority`, pinned to `cpu`. Anything refused (no CAP_SYS_NICE, no
/// RLIMIT_MEMLOCK, CPU not allowed) becomes a warning and the loop runs without it.
public func applyRealtime(priority: Int, lockMemory: Bool, cpu: Int?) -> RealtimeOutcome {
    var out = RealtimeOutcome()
    if lockMemory {
        if mlockall(MCL_CURRENT | MCL_FUTURE) == 0 {
            out.applied.append("memory locked (mlockall)")
        } else {
            out.warnings.append("mlockall failed: \(Errno.current); page faults may delay ticks")
        }
    }
    if priority > 0 {
        var param = sched_param(sched_priority: Int32(priority))
        if sched_setscheduler(0, SCHED_FIFO, &param) == 0 {
            out.applied.append("SCHED_FIFO priority \(priority)")
        } else {
            out.warnings.append(
                "SCHED_FIFO priority \(priority) refused: \(Errno.current); running with the normal scheduler (grant CAP_SYS_NICE or run "
                    + "as root)"
            )
        }
    }
    if let cpu {
        let allowed = cb_allowed_cpu_count()
        let r = cb_pin_thread_to_cpu(Int32(cpu))
        if r == 0 {
            out.applied.append("pinned to CPU \(cpu)")
        } else {
            out.warnings.append("cannot pin to CPU \(cpu) (\(allowed) CPUs allowed): \(Errno(r))")
        }
    }
    return out
}
