import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import NeuralEngine
import LinuxHardware
import Planning
import Reports
import RobotCore
import WorldModel

struct EvalScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-scaling",
        abstract: "Goal reaching against the planning budget: success and idle ticks at each budget, both scenarios.",
        discussion: """
            Runs the latent planner's evaluation (as `cerebellum eval`, no baselines) for each scenario at each
            --budgets value, a proxy for cores with less compute than this one (half the budget ≈ a core of half
            the speed). Prints a table, writes it as JSON and draws success and the share of ticks without
            planning work against the budget as a PNG. The loop figures (overruns) are included, so a run beside
            a busy process (`taskset`) shows whether the loop kept its rate while the planner degraded.
            """)

    @Option(parsing: .upToNextOption, help: "Scenarios.")
    var scenarios = ["two-rooms", "two-rooms-random"]

    @Option(parsing: .upToNextOption, help: "Planning budgets per tick, ms.")
    var budgets = [4.5, 2.25, 1.1, 0.55]

    @Option(help: "Episodes per scenario and budget.")
    var episodes = 200

    @Option(help: "Seed of the episodes.")
    var seed: UInt64 = 500_001

    @Option(help: "World model.")
    var model = "models/two-rooms.safetensors"

    @Option(help: "Board profile (its planner settings are used, the budget replaced).")
    var board = "boards/sim-two-rooms.yaml"

    @Option(help: "Planner override: the rollouts' number format, auto, fp32 or int8.")
    var predictor: String?

    @Option(help: "A label for this run in the table and JSON (e.g. \"busy core\").")
    var label = "quiet"

    @Option(help: "Write the table as JSON to this file.")
    var json: String?

    @Option(help: "Success and idle-tick share against budget (PNG); \"none\" to skip.")
    var png = "none"

    func run() throws {
        lineBufferedStandardOutput()
        guard episodes >= 1, !budgets.isEmpty, budgets.allSatisfy({ $0 > 0 && $0 <= 10_000 }) else {
            throw ValidationError("--episodes must be ≥ 1 and --budgets each in (0, 10000] ms")
        }
        let wm: WorldModelFile
        do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
        let base = loadBoardOrExit(board)
        let precision = try predictor.map {
            guard let p = DensePrecision(rawValue: $0) else { throw ValidationError("--predictor must be auto, fp32 or int8") }
            return p
        }
        var rows: [ScalingRow] = []
        for scenario in scenarios {
            let loaded = try simulatedBoard(base, world: try worldVariant(scenario))
            for budget in budgets {
                var c = loaded.profile.planner ?? PlannerConfig()
                c.budgetMilliseconds = budget
                if let precision { c.predictor = precision }
                print("\n\(scenario), budget \(budget) ms (\(label))")
                let r = try evaluate(.planner(c), board: loaded, model: wm, episodes: episodes, seed: seed)
                let row = ScalingRow(
                    scenario: scenario, budgetMilliseconds: budget, label: label, successes: r.successes,
                    episodes: r.episodes.count, successRate: r.successRate, interval95Low: r.interval95Low,
                    interval95High: r.interval95High, idleShare: r.work?.idleShare ?? 1,
                    longestStaleRun: r.work?.longestStaleRun ?? 0, samplesPerTick: r.work?.samplesPerTick ?? 0,
                    horizonPerUpdate: r.work?.horizonPerUpdate ?? 0, planTimeP999: r.planTime?.p999 ?? .nan,
                    planTimeMax: r.planTime?.max ?? .nan, loopOverruns: r.loop.overruns,
                    nanosecondsPerRow: r.compute?.nanosecondsPerRow ?? .nan, kernel: r.compute?.kernel ?? "–")
                print("  " + row.line)
                rows.append(row)
            }
        }
        print("\ncompute scaling (\(label)), \(episodes) episodes per row, seed \(seed)")
        print(
            "  scenario            budget   success               95 % interval     idle ticks  longest gap  samples × steps  plan p99.9 "
                + "/ max   overruns  kernel"
        )
        rows.forEach { print("  " + $0.line) }
        if let json {
            try jsonString(ScalingReport(label: label, episodes: episodes, seed: seed, model: model, rows: rows))
                .write(toFile: json, atomically: true, encoding: .utf8)
            print("report: \(json)")
        }
        if png != "none" {
            var chart = LineChart(
                title: "goal reaching against the planning budget (\(label)): success and ticks without planning work, %",
                xLabel: "budget per tick, ms", yLabel: "%")
            for scenario in scenarios {
                let mine = rows.filter { $0.scenario == scenario }.sorted { $0.budgetMilliseconds < $1.budgetMilliseconds }
                // Short legend names: the chart's legend column is narrow.
                let short = ["two-rooms": "fixed", "two-rooms-random": "random"][scenario] ?? scenario
                chart.add(name: "\(short) success", points: mine.map { ($0.budgetMilliseconds, 100 * $0.successRate) }, markers: true)
                chart.add(name: "\(short) idle", points: mine.map { ($0.budgetMilliseconds, 100 * $0.idleShare) }, markers: true)
            }
            try chart.render(width: 900, height: 540).writePNG(path: png)
            print("chart: \(png)")
        }
    }
}

struct ScalingRow: Codable {
    var scenario: String
    var budgetMilliseconds: Double
    var label: String
    var successes: Int
    var episodes: Int
    var successRate: Double
    var interval95Low: Double
    var interval95High: Double
    /// Share of planning ticks without planning work, and the longest run of them.
    var idleShare: Double
    var longestStaleRun: Int
    var samplesPerTick: Double
    var horizonPerUpdate: Double
    var planTimeP999: Double
    var planTimeMax: Double
    var loopOverruns: Int
    var nanosecondsPerRow: Double
    /// The dense kernel the rollouts ran on.
    var kernel: String

    var line: String {
        padded(scenario, 18)
            + String(
                format: " %6.2f ms  %3d/%d = %5.1f %%  [%5.1f, %5.1f] %%  %6.2f %%  %11d  %6.1f × %4.1f  %6.2f / %6.2f ms  %8d",
                budgetMilliseconds, successes, episodes, 100 * successRate, 100 * interval95Low, 100 * interval95High,
                100 * idleShare, longestStaleRun, samplesPerTick, horizonPerUpdate, planTimeP999, planTimeMax, loopOverruns)
            + "  " + kernel
    }
}

struct ScalingReport: Codable {
    var label: String
    var episodes: Int
    var seed: UInt64
    var model: String
    var rows: [ScalingRow]
}
