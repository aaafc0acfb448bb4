import RobotCore

/// A latency histogram with fixed logarithmic buckets (128 per power of two, ≤ 0.4 % relative
/// error), after HdrHistogram: recording is a few integer operations and never allocates. Kept here,
/// small and whole, because it is recorded inside the tick, where nothing may allocate or lock (the
/// allocation counter checks that of the whole tick); it keeps no samples, so the loop's percentiles come
/// from here, not from `quantile`.
public struct LatencyHistogram: Sendable {
    private static let subBits = 7
    private static let bucketCount = (64 - subBits) * (1 << subBits)
    private var buckets: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var maxNanoseconds: Int64 = 0
    public private(set) var sumNanoseconds: Int64 = 0

    public init() { buckets = [UInt64](repeating: 0, count: Self.bucketCount) }

    public mutating func record(_ d: Duration) { record(nanoseconds: d.nanoseconds) }

    public mutating func record(nanoseconds v: Int64) {
        let x = UInt64(max(v, 0))
        buckets[Self.index(x)] &+= 1
        count &+= 1
        sumNanoseconds &+= Int64(x)
        if Int64(x) > maxNanoseconds { maxNanoseconds = Int64(x) }
    }

    static func index(_ x: UInt64) -> Int {
        let sub = 1 << subBits
        if x < UInt64(sub) { return Int(x) }
        let e = 63 - x.leadingZeroBitCount
        let m = Int(x >> UInt64(e - subBits))
        return (e - subBits + 1) * sub + m - sub
    }

    /// The representative value (bucket midpoint) of bucket `i`, ns.
    static func value(ofBucket i: Int) -> Int64 {
        let sub = 1 << subBits
        if i < sub { return Int64(i) }
        let e = i / sub + subBits - 1
        let m = Int64(i % sub + sub)
        let width = Int64(1) << Int64(e - subBits)
        return m * width + width / 2
    }

    /// The p-quantile (0...1) in nanoseconds; 0 when empty. Capped at the exact maximum.
    public func percentile(_ p: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((p * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<buckets.count {
            seen &+= buckets[i]
            if seen >= rank { return min(Self.value(ofBucket: i), maxNanoseconds) }
        }
        return maxNanoseconds
    }

    public var meanNanoseconds: Double { count == 0 ? 0 : Double(sumNanoseconds) / Double(count) }

    /// Values recorded above `limit` ns (to the buckets' 0.4 %: a bucket counts when its midpoint is above).
    public func count(above limit: Int64) -> Int {
        var n: UInt64 = 0
        for i in 0..<buckets.count where buckets[i] > 0 && Self.value(ofBucket: i) > limit { n &+= buckets[i] }
        return Int(n)
    }

    public mutating func reset() { self = LatencyHistogram() }

    /// p50, p99, p99.9 and max, in milliseconds.
    public var summary: PercentileSummary {
        PercentileSummary(
            p50: Double(percentile(0.5)) / 1e6, p99: Double(percentile(0.99)) / 1e6, p999: Double(percentile(0.999)) / 1e6,
            max: Double(maxNanoseconds) / 1e6, mean: meanNanoseconds / 1e6, count: Int(count))
    }
}

/// Percentiles of one measured quantity, milliseconds.
public struct PercentileSummary: Sendable, Codable, Equatable {
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double
    public var count: Int
}

/// What the loop measures about itself (after ros2_control's execution-time and periodicity statistics).
public struct LoopStatistics: Sendable {
    /// Time from wake-up to the end of the tick's work.
    public var execution = LatencyHistogram()
    /// Time between consecutive wake-ups.
    public var period = LatencyHistogram()
    /// How late each wake-up was against its absolute deadline.
    public var wakeJitter = LatencyHistogram()
    public var ticks = 0
    /// Ticks that ended after the next deadline.
    public var overruns = 0
    /// Whole periods skipped to get back on the schedule.
    public var skippedPeriods = 0
    public var longestOverrunStreak = 0

    public init() {}

    public var report: LoopReport {
        LoopReport(
            ticks: ticks, execution: execution.summary, period: period.summary, wakeJitter: wakeJitter.summary,
            overruns: overruns, skippedPeriods: skippedPeriods, longestOverrunStreak: longestOverrunStreak)
    }
}

/// A snapshot of the loop statistics, for the status line, the summary and JSON.
public struct LoopReport: Sendable, Codable, Equatable {
    public var ticks: Int
    public var execution: PercentileSummary
    public var period: PercentileSummary
    public var wakeJitter: PercentileSummary
    public var overruns: Int
    public var skippedPeriods: Int
    public var longestOverrunStreak: Int

    /// Achieved tick rate from the mean period, Hz.
    public var rateHz: Double { period.mean > 0 ? 1000 / period.mean : 0 }
}
