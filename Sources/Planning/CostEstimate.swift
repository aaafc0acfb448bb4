/// A running estimate of how long a unit of planning work takes (an MPPI iteration, a route-search
/// rollout), used to start work only when it is expected to end before the tick's deadline. Like a
/// TCP retransmission timer, it tracks the mean and the mean absolute deviation (both exponentially
/// weighted) and plans with mean + 3 × deviation, so a unit whose time jitters is not started on
/// its average cost alone. Values are in ns, or ns per unit for per-item costs.
public struct CostEstimate: Sendable {
    public private(set) var mean = 0.0
    public private(set) var deviation = 0.0

    public init() {}

    /// True once a measurement was recorded.
    public var isMeasured: Bool { mean > 0 }

    /// The cost to plan with.
    public var bound: Double { mean + 3 * deviation }

    public mutating func record(_ value: Double) {
        if mean == 0 {
            mean = value
            deviation = value / 4
        } else {
            deviation = 0.75 * deviation + 0.25 * abs(value - mean)
            mean = 0.875 * mean + 0.125 * value
        }
    }

    /// Records a measurement, counting one far above the estimate (a preemption, a stall of the machine) as
    /// at most twice the mean, so one outlier cannot stop the work for more than a few ticks; a real
    /// slowdown still shows within a few measurements.
    public mutating func recordCapped(_ value: Double) {
        record(isMeasured ? min(value, 2 * mean) : value)
    }

    /// Shrinks the estimate when work was not started because of it, so one slow measurement (a page
    /// fault, a preemption) cannot stop the work for long.
    public mutating func decay() {
        mean *= 0.8
        deviation *= 0.8
    }
}
