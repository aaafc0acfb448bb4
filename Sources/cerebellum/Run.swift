import ArgumentParser
import Configuration
import Control
import Foundation
import LinuxHardware
import RobotCore
import Safety
import Simulation
import Teleop
import NeuralEngine
import WorldModel

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control loop on a board.",
        discussion: """
        Loads the board profile and its calibration (a bad file stops here, before any device is opened),
        opens the board's devices, and runs the fixed-rate loop: read → decide → gate (safety governor) → write.
        The governor starts disarmed; --arm asks it to arm once every pre-arm check passes.
        Until the latent planner lands, the command source is a scripted waypoint follower (simulated boards only):
        it is told where the door and the goal are and steers by the agent position it finds in each frame.
        With a teleop console (the board's serial_console, or --teleop DEVICE), an operator on a serial terminal
        (picocom -b 115200 DEVICE) can arm, take over by driving, stop, e-stop and hand back; type help there.
        Ctrl-C stops cleanly: outputs neutral, summary printed, exit 0.
        """)

    @Option(help: "Board profile (YAML).")
    var board = "boards/sim-two-rooms.yaml"

    @Flag(help: "Arm the safety governor as soon as every pre-arm check passes (default: stay disarmed).")
    var arm = false

    @Option(help: "Episodes to run on a simulated board.")
    var episodes = 1

    @Option(help: "World seed (default: the board profile's).")
    var seed: UInt64?

    @Option(help: "Stop after this many seconds (default: run each episode to its end).")
    var duration: Double?

    @Flag(help: "Skip real-time setup (SCHED_FIFO, mlockall, CPU pinning) even if the board asks for it.")
    var noRealtime = false

    @Option(help: "Write the summary as JSON to this file.")
    var json: String?

    @Option(help: "World model to run alongside (int8 encoder and predictor, one-step surprise in the summary); \"none\" to skip.")
    var model = "models/two-rooms.safetensors"

    @Option(help: "Teleop console on this serial device (overrides the board's serial_console.device), e.g. /dev/ttyUSB0.")
    var teleop: String?

    func run() throws {
        lineBufferedStandardOutput()
        let loaded = loadBoardOrExit(board)
        let p = loaded.profile
        let clock = SystemClock()
        let rig = try Rig(board: loaded, clock: clock, seed: seed)
        print("board \(p.name): \(p.summary)")
        print("loop \(String(format: "%.0f", p.loop.rateHz)) Hz, \(p.actuators.count) actuators (\(p.actuators.map(\.name).joined(separator: ", "))), calibration \(loaded.calibration.path)")
        if !noRealtime {
            let rt = applyRealtime(priority: p.loop.realtime.priority, lockMemory: p.loop.realtime.lockMemory, cpu: p.loop.realtime.cpu)
            for a in rt.applied { print("real-time: \(a)") }
            for w in rt.warnings { warn("warning: real-time: \(w)") }
        }
        print("command source: scripted waypoint follower (planner not yet available)")
        print(arm ? "arming when every pre-arm check passes" : "governor stays DISARMED (pass --arm to arm)")

        // A model that is named must load and check out before anything starts.
        var worldModel: WorldModelFile?
        if model != "none" {
            do { worldModel = try WorldModelFile.load(path: model) } catch {
                warn("error: \(error)")
                throw ExitCode(2)
            }
            print("world model \(model): latent \(worldModel!.latentSize), int8 encoder (\(Int8Kernel.best.rawValue)), predictor watching every tick")
        }

        installStopHandlers()
        let governor = try SafetyGovernor(config: loaded.safetyConfig)
        let robot = rig.robot!
        var follower = ScriptedWaypointFollower(world: robot.world)
        var console: TeleopConsole?
        if teleop != nil || p.serialConsole != nil {
            let c = try TeleopConsole(board: loaded, device: teleop, autonomy: follower, governor: governor, clock: clock,
                                      log: { warn("\(eraseLine)\($0)") })
            print("teleop console on \(c.settings.device) at \(c.settings.baud) baud (dead-man \(Int(c.settings.deadman.inMilliseconds)) ms)")
            c.server.start()
            console = c
        }
        let monitor = try worldModel.map { try LatentMonitor(inner: console?.arbiter ?? follower, model: $0, governor: governor, timer: clock) }
        let loop = rig.makeLoop(source: monitor ?? console?.arbiter ?? follower, governor: governor)
        let runner = EpisodeRunner(rig: rig, loop: loop, armWhenReady: arm)
        let printer = StatusPrinter()
        printer.start()
        let started = clock.now()
        var results: [EpisodeResult] = []
        var lastRefusal: ArmResult?
        for episode in 1...max(1, episodes) {
            if episode > 1 {
                rig.newEpisode()
                follower = ScriptedWaypointFollower(world: robot.world)
                if let console { console.arbiter.autonomy = follower } else if let monitor { monitor.inner = follower } else { loop.source = follower }
                monitor?.reset()
                loop.restartSchedule()
            }
            let source = follower
            let arbiter = console?.arbiter
            let result = runner.run(
                maxSteps: console == nil ? TwoRoomsWorld.maxEpisodeSteps : Int.max,
                isDone: { arbiter?.mode == .teleop ? robot.world.reachedGoal : source.arrived },
                shouldStop: {
                    stopRequested.load(ordering: .relaxed) || duration.map { (clock.now() - started).inSeconds >= $0 } ?? false
                },
                afterTick: { r in
                    if r.tick % 4 == 0 || r.state != .armed {
                        let report = r.tick % 8 == 0 ? loop.statistics.report : nil
                        printer.status.withLock { s in
                            s.tick = r.tick; s.state = r.state; s.faults = r.latchedFaults
                            if let report { s.report = report }
                            s.distanceToGoal = robot.world.distanceToGoal; s.steps = robot.steps
                            s.effort = (r.output.efforts[0], r.output.efforts[1])
                            s.mode = arbiter.map { $0.mode == .teleop ? ($0.connected ? "TELEOP" : "TELEOP (link down)") : "auto" } ?? ""
                        }
                    }
                    if runner.lastArmRefusal != lastRefusal, let refusal = runner.lastArmRefusal {
                        print("\(eraseLine)\(refusal)")
                    }
                    lastRefusal = runner.lastArmRefusal
                    if loop.hasEvents { for e in loop.drainEvents() { report(e) } }
                })
            results.append(result)
            print("\(eraseLine)episode \(episode): \(result.success ? "SUCCESS" : "no success") (\(result.ending.rawValue)), \(result.steps) steps, final distance \(String(format: "%.2f", result.finalDistance)) px")
            if result.ending == .stopped { break }
        }
        loop.stop()
        console?.server.stop()
        printer.stop()
        let summary = RunSummary(board: p.name, episodes: results, loop: loop.statistics.report,
                                 governorState: governor.state.rawValue, latchedFaults: governor.latchedFaults.description,
                                 faultEvents: governor.faultEvents, rejectedCommands: governor.rejectedCommands,
                                 actuatorWrites: (rig.actuators as? SimulatedActuators)?.writes ?? 0)
        printSummary(summary)
        if let monitor {
            let o = monitor.observer
            let e = o.encodeTime.summary
            print("  world model: int8 encode p50 \(String(format: "%.1f", e.p50 * 1000)) µs, p99 \(String(format: "%.1f", e.p99 * 1000)) µs in the tick; "
                  + "one-step surprise mean \(String(format: "%.4f", o.meanSurprise)), max \(String(format: "%.4f", o.maxSurprise)) over \(o.surpriseCount) ticks")
        }
        if let console {
            let c = console.session.counters
            print("  teleop: \(c.lines) lines, \(c.badLines) rejected, \(c.badChecksums) bad checksums, \(c.garbageBytes) garbage bytes, \(c.overlongLines) overlong; link hang-ups \(console.server.hangups)")
            if let t = console.link.snapshot.lastTakeoverTicks { print("  last takeover: operator command at the outputs \(t) tick(s) after the loop received it") }
        }
        if let json { try jsonString(summary).write(toFile: json, atomically: true, encoding: .utf8) }
    }

    private func report(_ e: LoopEvent) {
        switch e {
        case .overrun(let tick, let late, let skipped):
            warn("\(eraseLine)event: overrun at tick \(tick): \(String(format: "%.2f", late.inMilliseconds)) ms late, \(skipped) period(s) skipped")
        case .faultLatched(let tick, let faults):
            warn("\(eraseLine)event: fault latched at tick \(tick): \(faults) — outputs neutral")
        }
    }

    private func printSummary(_ s: RunSummary) {
        print("")
        print("summary — board \(s.board)")
        let ok = s.episodes.filter(\.success).count
        print("  episodes \(s.episodes.count), success \(ok)/\(s.episodes.count), steps \(s.episodes.map(\.steps))")
        printLoopTable(s.loop)
        print("  governor \(s.governorState), latched faults: \(s.latchedFaults), fault events \(s.faultEvents), rejected commands \(s.rejectedCommands)")
    }
}

struct RunSummary: Codable {
    var board: String
    var episodes: [EpisodeResult]
    var loop: LoopReport
    var governorState: String
    var latchedFaults: String
    var faultEvents: Int
    var rejectedCommands: Int
    var actuatorWrites: Int
}
