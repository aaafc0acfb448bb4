import Configuration
import Control
import Foundation
import Glibc
import NeuralEngine
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
    /// The simulated world's unit of distance (px, m, or a Gymnasium environment's units).
    var distanceUnit = "px"
    var steps = 0
    var effort = (0.0, 0.0)
    /// Plan time p99 so far, ms (planner only).
    var planP99 = Double.nan
    /// Share of planning ticks with a fresh plan, and the longest run without one (planner only).
    var freshShare = Double.nan
    var longestStale = 0
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
        if s.freshShare.isFinite {
            parts.append(
                String(format: "fresh plans %.1f %%", 100 * s.freshShare) + (s.longestStale > 1 ? " (longest gap \(s.longestStale))" : ""))
        }
        if s.surprise.isFinite { parts.append(String(format: "surprise %.3f", s.surprise)) }
        parts.append(String(format: "effort (%+.2f, %+.2f)", s.effort.0, s.effort.1))
        if s.distanceToGoal.isFinite { parts.append(String(format: "goal %.1f ", s.distanceToGoal) + s.distanceUnit) }
        parts.append("step \(s.steps)")
        return parts.joined(separator: " | ")
    }
}

/// Prints a loop report as a table.
func printLoopTable(_ r: LoopReport, indent: String = "  ") {
    print(indent + "quantity           p50 ms    p99 ms    max ms   mean ms")
    for (name, q) in [("tick execution", r.execution), ("period", r.period), ("wake-up jitter", r.wakeJitter)] {
        print(
            indent + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%9.3f %9.3f %9.3f %9.3f", q.p50, q.p99, q.max, q.mean))
    }
    print(
        indent
            + "ticks \(r.ticks), rate \(String(format: "%.2f", r.rateHz)) Hz, overruns \(r.overruns), periods skipped "
            + "\(r.skippedPeriods), longest overrun streak \(r.longestOverrunStreak)"
    )
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

/// The shipped world model for a board: its simulated world's (`models/car-rooms.safetensors`), a Gymnasium
/// board's own (`models/gym-carracing.safetensors`, by the board's name), or two-rooms'.
func shippedModel(for profile: BoardProfile) -> String {
    switch profile.simulation?.world {
    case .carRooms?, .diffdriveRooms?: "models/\(profile.simulation!.world.rawValue).safetensors"
    case .gymnasium?: "models/\(profile.name).safetensors"
    default: "models/two-rooms.safetensors"
    }
}

/// `board` with its two-rooms world replaced (`--world`); only two-rooms boards have one.
func simulatedBoard(_ board: LoadedBoard, world: TwoRoomsVariant) throws -> LoadedBoard {
    guard let sim = board.profile.simulation else { throw ValidationError("--world needs a simulated board") }
    guard sim.world.twoRoomsVariant != nil else {
        throw ValidationError("--world \(world.rawValue) needs a two-rooms board; \(board.profile.path) is \(sim.world.rawValue)")
    }
    var b = board
    b.profile.simulation!.world = SimulatedWorldName(world)
    return b
}

/// Training runs its large matrix products on OpenBLAS, whose kernels are chosen when the library loads.
/// Where it fell back to generic kernels on a CPU with AVX2 + FMA (`BLAS.fallback`), this starts the
/// process again with OPENBLAS_CORETYPE set to the AVX2 core type, then checks that core type against the
/// portable kernel; one that disagrees is dropped again (the process restarts with the original setting).
/// CEREBELLUM_KEEP_BLAS_CORETYPE=1 keeps whatever the library chose. Returns the line for the banner.
@discardableResult
func chooseBLASCoreType() -> String {
    let env = ProcessInfo.processInfo.environment
    let marker = "CEREBELLUM_BLAS_CHOICE", original = "CEREBELLUM_BLAS_ORIGINAL_CORETYPE"
    func restart(coreType: String?, choice: String) -> Never {
        if let coreType { setenv("OPENBLAS_CORETYPE", coreType, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        setenv(marker, choice, 1)
        let argv = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", argv)
        warn("error: could not restart with OPENBLAS_CORETYPE=\(coreType ?? "(unset)"): \(Errno.current)")
        exit(1)
    }
    if env[marker] == "chosen" {
        let error = BLAS.disagreementWithPortable()
        guard error <= 1e-4 else {
            warn(
                "OpenBLAS: its \(BLAS.coreName) kernels disagree with the portable kernel on this CPU (relative error \(error)); "
                    + "going back to \(env[original] ?? "its own choice")")
            restart(coreType: env[original].flatMap { $0.isEmpty ? nil : $0 }, choice: "rejected")
        }
        return
            "OpenBLAS: \(BLAS.coreName) kernels (chosen by cerebellum: the library had fallen back to "
            + "\(env[original].flatMap { $0.isEmpty ? nil : $0 } ?? "generic kernels"); checked against the portable kernel)"
    }
    guard let fallback = BLAS.fallback else { return "OpenBLAS: \(BLAS.coreName) kernels" }
    if env[marker] == nil && env["CEREBELLUM_KEEP_BLAS_CORETYPE"] != "1" {
        setenv(original, env["OPENBLAS_CORETYPE"] ?? "", 1)
        restart(coreType: BLAS.safeAVX2CoreType, choice: "chosen")
    }
    return "WARNING: \(fallback): matrix products run several times slower than this CPU allows"
}

/// A file's CRC-32 as 8 hex digits (what a recording's `model_crc32` holds); nil when it cannot be read.
func fileCRC32(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(format: "%08x", CRC32.checksum($0)) }
}
