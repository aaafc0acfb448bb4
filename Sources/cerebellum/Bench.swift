import ArgumentParser
import Configuration
import Control
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Simulation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: print figures as a table and as JSON.",
        subcommands: [BenchLoop.self, BenchEncoder.self, BenchPlanner.self, BenchStalls.self, BenchWork.self])
}

struct BenchLoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Wake-up jitter and tick execution time of the real loop at several rates.",
        discussion: """
            Runs the full simulated pipeline (render → scripted source → governor → simulated actuators) on the
            real monotonic clock with absolute-deadline sleeps, at each rate for --seconds after a warm-up,
            applying the board's real-time settings, and reports p50/p99/max of execution time, period and
            wake-up jitter, overruns and skipped periods.
            """)

    @Option(help: "Board profile whose pipeline is run.")
    var board = "boards/sim-two-rooms.yaml"

    @Option(parsing: .upToNextOption, help: "Loop rates to measure, Hz.")
    var rates: [Double] = [30, 100]

    @Option(help: "Measured seconds per rate (after 0.5 s of warm-up).")
    var seconds = 5.0

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    @Flag(help: "Skip real-time setup.")
    var noRealtime = false

    func run() throws {
        var loaded = loadBoardOrExit(board)
        var realtime = "not requested"
        if !noRealtime {
            let r = loaded.profile.loop.realtime
            let rt = applyRealtime(priority: r.priority, lockMemory: r.lockMemory, cpu: r.cpu)
            realtime = rt.summary
            print("real-time: \(realtime)")
        }
        var results: [BenchLoopResult] = []
        for rate in rates {
            loaded.profile.loop.rateHz = rate
            let clock = SystemClock()
            let rig = try Rig(board: loaded, clock: clock)
            let governor = try SafetyGovernor(config: loaded.safetyConfig)
            let robot = rig.robot!
            let loop = rig.makeLoop(source: ScriptedWaypointFollower(world: robot.world), governor: governor)
            let runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: .always)
            let start = clock.now()
            var measuring = false
            while true {
                let source = loop.source as! ScriptedWaypointFollower
                _ = runner.run(
                    isDone: { source.arrived },
                    shouldStop: {
                        let t = (clock.now() - start).inSeconds
                        if !measuring && t >= 0.5 { measuring = true; loop.resetStatistics() }
                        return t >= 0.5 + seconds
                    })
                if (clock.now() - start).inSeconds >= 0.5 + seconds { break }
                rig.newEpisode()
                loop.source = ScriptedWaypointFollower(world: robot.world)
            }
            loop.stop()
            let r = loop.statistics.report
            print(String(format: "\n%.0f Hz (%.1f s measured)", rate, seconds))
            printLoopTable(r)
            results.append(BenchLoopResult(rateHz: rate, seconds: seconds, loop: r))
        }
        if let json {
            let doc = BenchLoopReport(
                benchmark: "loop", board: loaded.profile.name, realtime: realtime,
                cpus: ProcessInfo.processInfo.activeProcessorCount, results: results)
            try jsonString(doc).write(toFile: json, atomically: true, encoding: .utf8)
            print("\nJSON written to \(json)")
        }
    }
}

struct BenchLoopResult: Codable {
    var rateHz: Double
    var seconds: Double
    var loop: LoopReport
}

struct BenchLoopReport: Codable {
    var benchmark: String
    var board: String
    var realtime: String
    var cpus: Int
    var results: [BenchLoopResult]
}

/// Times a body that runs a given number of calls: rounds of about `roundMilliseconds` each (the call
/// count per round found first by doubling), reported as the median and the minimum seconds per call.
struct BenchTimer {
    var rounds: Int
    var roundMilliseconds: Double

    func medianAndMin(_ body: (Int) -> Void) -> (median: Double, min: Double) {
        let iterations = iterationsPerRound(body)
        var times: [Double] = []
        for _ in 0..<max(1, rounds) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body(iterations)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(iterations))
        }
        times.sort()
        return (quantile(sorted: times, 0.5), times[0])
    }

    private func iterationsPerRound(_ body: (Int) -> Void) -> Int {
        var n = 1
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body(n)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if dt > 0.005 || n > 1 << 24 { return max(1, Int(Double(n) * roundMilliseconds * 1e-3 / max(dt, 1e-9))) }
            n *= 4
        }
    }
}
