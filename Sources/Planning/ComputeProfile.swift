import Foundation
import NeuralEngine

/// What the planner's hardware delivers, measured when the planner starts: the dense kernel, the cost of
/// one predictor row, the rate that makes against this core's measured peak for the kernel's arithmetic (fp32
/// FMA, or the 8-bit dot product of an int8 kernel), and how much of the
/// configured work fits one tick's budget. Printed by `run` and `eval` at start, kept in their summaries.
public struct PlannerComputeProfile: Sendable, Codable, Equatable {
    /// The dense kernel variant the rollouts run on, and faster ones passed over (they disagreed with
    /// the portable kernel on this CPU).
    public var kernel: String
    public var rejectedKernels: [String]
    /// One predictor row (one sample, one step): its floating-point operations and its measured cost.
    public var flopsPerRow: Int
    public var nanosecondsPerRow: Double
    /// The rollouts' number format (fp32 or int8).
    public var precision: String
    /// The rate of the rollouts, GFLOP/s (GOP/s for int8), and this core's peak for the same arithmetic (nil where
    /// the probe has no variant).
    public var gflops: Double
    public var peakGflops: Double?
    /// Samples rolled out together (the unit of work), and the configured work per tick.
    public var chunk: Int
    public var samples: Int
    public var horizon: Int
    public var iterations: Int
    public var budgetMilliseconds: Double
    /// The configured work's estimated time, ms, and the share of it the budget holds (1: all of it).
    public var fullWorkMilliseconds: Double
    public var budgetShare: Double
    /// One route-search child (its macro steps' predictor rows), ns; nil without a route search.
    public var nanosecondsPerSearchChild: Double?

    public init(planner: LatentPlanner, roadmap: LatentRoadmap?, peakSeconds: Double = 0.05) {
        kernel = planner.kernel.rawValue
        rejectedKernels = planner.rejectedKernels.map(\.rawValue)
        flopsPerRow = planner.flopsPerRow
        nanosecondsPerRow = planner.rowCost.mean
        gflops = planner.rowCost.mean > 0 ? Double(planner.flopsPerRow) / planner.rowCost.mean : 0
        precision = planner.kernel.precision.rawValue
        peakGflops = planner.kernel.measuredPeak(seconds: peakSeconds).map { $0 / 1e9 }
        chunk = planner.chunk
        samples = planner.config.samples
        horizon = planner.config.horizon
        iterations = planner.config.iterations
        budgetMilliseconds = planner.config.budgetMilliseconds
        fullWorkMilliseconds = planner.rowCost.mean * Double(samples * horizon * iterations) / 1e6
        budgetShare = fullWorkMilliseconds > 0 ? min(1, budgetMilliseconds / fullWorkMilliseconds) : 1
        nanosecondsPerSearchChild = roadmap.flatMap { $0.childCost.isMeasured ? $0.childCost.mean : nil }
    }

    /// The share of the measured peak the rollouts reach (nil without a peak).
    public var peakFraction: Double? { peakGflops.map { gflops / $0 } }

    /// Two lines for a terminal.
    public var lines: [String] {
        let unit = precision == "int8" ? "GOP/s" : "GFLOP/s"
        let peak =
            peakGflops.map { String(format: ", %.0f %% of this core's %.1f ", 100 * gflops / $0, $0) + "\(unit) \(precision) peak" } ?? ""
        let rejected = rejectedKernels.isEmpty ? "" : " (passed over: \(rejectedKernels.joined(separator: ", ")), disagreed with portable)"
        return [
            "planner compute: \(kernel) kernel\(rejected), "
                + String(format: "%.0f ns per predictor row (%.1f ", nanosecondsPerRow, gflops) + unit + peak + ")",
            String(
                format:
                    "  configured %d samples × %d steps × %d iteration(s) ≈ %.2f ms per tick; budget %.2f ms holds %.0f %% of it, in "
                    + "chunks of %d samples",
                samples, horizon, iterations, fullWorkMilliseconds, budgetMilliseconds, 100 * budgetShare, chunk),
        ]
    }
}

/// What the planner actually ran, per planning tick on average (the board profile's settings are
/// targets; this is what the hardware allowed).
public struct PlannerWork: Sendable, Codable, Equatable {
    /// Ticks that planned, and of them those that improved the plan.
    public var ticks: Int
    public var freshTicks: Int
    /// The longest run of ticks without a fresh plan.
    public var longestStaleRun: Int
    public var samplesPerTick: Double
    /// Mean horizon of the plan updates, steps.
    public var horizonPerUpdate: Double
    public var updatesPerTick: Double
    public var rowsPerTick: Double
    /// Route-search children expanded per tick.
    public var searchExpansionsPerTick: Double
    /// The configured work, "samples × horizon × iterations".
    public var configured: String

    public init(
        ticks: Int, freshTicks: Int, longestStaleRun: Int, samplesPerTick: Double, horizonPerUpdate: Double,
        updatesPerTick: Double, rowsPerTick: Double, searchExpansionsPerTick: Double, configured: String
    ) {
        (self.ticks, self.freshTicks, self.longestStaleRun) = (ticks, freshTicks, longestStaleRun)
        (self.samplesPerTick, self.horizonPerUpdate, self.updatesPerTick) = (samplesPerTick, horizonPerUpdate, updatesPerTick)
        (self.rowsPerTick, self.searchExpansionsPerTick, self.configured) = (rowsPerTick, searchExpansionsPerTick, configured)
    }

    /// The share of planning ticks that improved the plan (1 with no planning ticks).
    public var freshShare: Double { ticks == 0 ? 1 : Double(freshTicks) / Double(ticks) }
    /// The share of planning ticks that did no planning work.
    public var idleShare: Double { 1 - freshShare }

    /// More ticks than this share without planning work is warned about (`run`, `eval`).
    public static let idleShareWarning = 0.02

    /// The warning when more than `idleShareWarning` of the ticks did no planning work; nil otherwise.
    public var idleWarning: String? {
        guard idleShare > Self.idleShareWarning else { return nil }
        return String(
            format: "WARNING: the planner did no planning work on %.1f %% of its ticks (over %.0f %%): this CPU does not deliver "
                + "what the budget assumes; the figures above are not the planner's", 100 * idleShare, 100 * Self.idleShareWarning)
    }

    /// One line for a terminal.
    public var line: String {
        String(
            format: "planner work per tick: %.1f samples × %.1f steps (%.2f updates), %.0f predictor rows, %.1f route-search children",
            samplesPerTick, horizonPerUpdate, updatesPerTick, rowsPerTick, searchExpansionsPerTick)
            + " (configured \(configured)); "
            + String(format: "fresh plan on %.1f %% of %d ticks, longest run without one %d", 100 * freshShare, ticks, longestStaleRun)
    }
}
