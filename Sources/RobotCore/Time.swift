/// A point in time on the one monotonic clock every layer shares (CLOCK_MONOTONIC on Linux,
/// or a manual clock in tests). Nanoseconds since an arbitrary epoch.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds &+ d.nanoseconds) }
    public static func - (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds &- d.nanoseconds) }
    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(a.nanoseconds &- b.nanoseconds) }
    public static func += (a: inout Instant, d: Duration) { a = a + d }

    public var description: String { "t=\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating at Int64 range; attoseconds below 1 ns truncated).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? Int64.min : Int64.max }
        return ns &+ atto / 1_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    public var inSeconds: Double { Double(nanoseconds) / 1e9 }

    /// The duration in milliseconds as a floating-point number.
    public var inMilliseconds: Double { Double(nanoseconds) / 1e6 }

    /// A duration from floating-point seconds, rounded to the nanosecond.
    public static func seconds(double s: Double) -> Duration { .nanoseconds(Int64((s * 1e9).rounded())) }
}

/// The clock the control loop runs on. The real one reads CLOCK_MONOTONIC and sleeps to absolute
/// deadlines; the manual one (Simulation) jumps to the deadline, so runs go faster than real time.
public protocol RobotClock: AnyObject {
    /// The current time.
    func now() -> Instant
    /// Returns at or after `deadline` (at once if it has passed).
    func sleep(until deadline: Instant)
}
