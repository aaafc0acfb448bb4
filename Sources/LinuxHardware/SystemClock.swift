import Glibc
import RobotCore

/// CLOCK_MONOTONIC, with sleeps to absolute deadlines (`clock_nanosleep(…, TIMER_ABSTIME, …)`),
/// so the loop's period does not drift with its own execution time.
public final class SystemClock: RobotClock {
    public init() {}

    public func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    public func sleep(until deadline: Instant) {
        var ts = timespec(tv_sec: Int(deadline.nanoseconds / 1_000_000_000), tv_nsec: Int(deadline.nanoseconds % 1_000_000_000))
        // Interrupted by a signal: sleep again to the same absolute deadline.
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

/// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID): what a piece of work cost
/// itself, without the time the OS ran something else (or, on a VM, the host took the core).
public enum ThreadCPUTime {
    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}
