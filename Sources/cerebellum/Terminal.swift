import Configuration
import Control
import Foundation
import Glibc
import RobotCore
import Safety
import Simulation
import ArgumentParser
import Synchronization

/// Set by SIGINT / SIGTERM; the loop checks it between ticks.
let stopRequested = Atomic<Bool>(false)

/// Ctrl-C and SIGTERM ask the loop to stop cleanly (outputs neutral, summary printed, exit 0).
func installStopHandlers() {
    signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
}

/// Clears the status line on a terminal before another line is printed; nothing otherwise.
let eraseLine = isatty(STDOUT_FILENO) == 1 ? "\r\u{1B}[K" : ""

/// Writes to standard error (warnings, errors).
func warn(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }

/// Loads a board profile or says exactly what is wrong with it and exits 2.
func loadBoardOrExit(_ path: String) -> LoadedBoard {
    do { return try LoadedBoard.load(boardPath: path) } catch {
        warn("error: \(error)")
        warn("nothing was started.")
        Glibc.exit(2)
    }
}

/// What the status line shows; the loop thread copies numbers in, the printer thread formats them.
struct LiveStatus: Sendable {
    var tick = 0
    var state = GovernorState.disarmed
    var faults: Faults = []
    var report: LoopReport?
    var distanceToGoal = Double.nan
    var steps = 0
    var effort = (0.0, 0.0)
    /// Plan time p99 so far, ms (planner only).
    var planP99 = Double.nan
    /// Smoothed one-step surprise of the world model.
    var surprise = Double.nan
    /// "auto", "TELEOP" (empty without a teleop console).
    var mode = ""
}

/// A status line printed from its own thread 4 times a second (in place on a terminal,
/// a line every 2 s otherwise), so formatting never runs inside the control tick.
final class StatusPrinter: Sendable {
    let status = Mutex(LiveStatus())
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private let interactive = isatty(STDOUT_FILENO) == 1

    func start() {
        let t = Thread { [self] in
            var n = 0
            while running.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.25)
                n += 1
                guard interactive || n % 8 == 0 else { continue }
                let s = status.withLock { $0 }
                let line = Self.format(s)
                if interactive { FileHandle.standardOutput.write("\r\u{1B}[K\(line)".data(using: .utf8)!) } else { print(line) }
            }
            finished.store(true, ordering: .releasing)
        }
        t.start()
    }

    /// Stops the printer and clears the in-place line.
    func stop() {
        running.store(false, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { usleep(10_000) }
        if interactive { FileHandle.standardOutput.write("\r\u{1B}[K".data(using: .utf8)!) }
    }

    static func format(_ s: LiveStatus) -> String {
        var parts = ["tick \(s.tick)", s.state.rawValue.uppercased()]
        if !s.mode.isEmpty { parts.append(s.mode) }
        if !s.faults.isEmpty { parts.append("faults: \(s.faults)") }
        if let r = s.report {
            parts.append(String(format: "%.1f Hz", r.rateHz))
            parts.append(String(format: "tick p99 %.2f ms", r.execution.p99))
            parts.append(String(format: "jitter p99 %.2f ms", r.wakeJitter.p99))
            parts.append("overruns \(r.overruns)")
        }
        if s.planP99.isFinite { parts.append(String(format: "plan p99 %.2f ms", s.planP99)) }
        if s.surprise.isFinite { parts.append(String(format: "surprise %.3f", s.surprise)) }
        parts.append(String(format: "effort (%+.2f, %+.2f)", s.effort.0, s.effort.1))
        if s.distanceToGoal.isFinite { parts.append(String(format: "goal %.1f px", s.distanceToGoal)) }
        parts.append("step \(s.steps)")
        return parts.joined(separator: " | ")
    }
}

/// Prints a loop report as a table.
func printLoopTable(_ r: LoopReport, indent: String = "  ") {
    print(indent + "quantity           p50 ms    p99 ms    max ms   mean ms")
    for (name, q) in [("tick execution", r.execution), ("period", r.period), ("wake-up jitter", r.wakeJitter)] {
        print(indent + name.padding(toLength: 16, withPad: " ", startingAt: 0)
              + String(format: "%9.3f %9.3f %9.3f %9.3f", q.p50, q.p99, q.max, q.mean))
    }
    print(indent + "ticks \(r.ticks), rate \(String(format: "%.2f", r.rateHz)) Hz, overruns \(r.overruns), periods skipped \(r.skippedPeriods), longest overrun streak \(r.longestOverrunStreak)")
}

/// Encodes a value as pretty JSON with sorted keys; NaN and infinities become "nan" / "inf" / "-inf".
func jsonString<T: Encodable>(_ v: T) throws -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.keyEncodingStrategy = .convertToSnakeCase
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try enc.encode(v), as: UTF8.self)
}

/// The two-rooms variant a `--world` option names.
func worldVariant(_ name: String) throws -> TwoRoomsVariant {
    guard let v = TwoRoomsVariant(rawValue: name) else {
        throw ValidationError("--world must be one of \(TwoRoomsVariant.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return v
}

/// `board` with its simulated world replaced (`--world`); only simulated boards have one.
func simulatedBoard(_ board: LoadedBoard, world: TwoRoomsVariant) throws -> LoadedBoard {
    guard board.profile.simulation != nil else { throw ValidationError("--world needs a simulated board") }
    var b = board
    b.profile.simulation!.world = world
    return b
}
