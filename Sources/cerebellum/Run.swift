import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import LinuxHardware
import Reports
import Planning
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
            The command source is the latent planner: each tick it encodes the frame with the int8 encoder, and plans
            toward the latent of a goal image through the world model's predictor (MPPI and imagined route search).
            The goal is --goal NAME|FILE (a goal image, see `cerebellum goal capture`); on a simulated board without
            --goal, each episode's goal image is the frame the camera would see with the agent at the episode's goal.
            --policy follower uses the scripted waypoint follower instead (it is told where the door and goal are).
            With a teleop console (the board's serial_console, or --teleop DEVICE), an operator on a serial terminal
            (picocom -b 115200 DEVICE) can arm, take over by driving, stop, e-stop, pick a goal and hand back; type help there.
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

    @Option(help: "World model (int8 encoder and predictor); \"none\" runs without one (follower only).")
    var model = "models/two-rooms.safetensors"

    @Option(help: "Command source: planner (latent MPC toward the goal image) or follower (scripted waypoints).")
    var policy = "planner"

    @Option(help: "Goal image: a name in goals/ or a PNG file (default on a simulated board: each episode's goal).")
    var goal: String?

    @Option(help: "Trajectory picture of the episodes (PNG, simulated boards); \"none\" to skip.")
    var trajectory = "reports/run-trajectory.png"

    @Option(help: "Teleop console on this serial device (overrides the board's serial_console.device), e.g. /dev/ttyUSB0.")
    var teleop: String?

    func run() throws {
        lineBufferedStandardOutput()
        let loaded = loadBoardOrExit(board)
        let p = loaded.profile
        guard policy == "planner" || policy == "follower" else { throw ValidationError("--policy must be planner or follower") }
        let usePlanner = policy == "planner"
        if usePlanner && model == "none" { throw ValidationError("the planner needs a world model (--model PATH, or --policy follower)") }

        // Everything that can be wrong with the inputs is found before any device opens.
        var worldModel: WorldModelFile?
        if model != "none" {
            do { worldModel = try WorldModelFile.load(path: model) } catch {
                warn("error: \(error)")
                warn("nothing was started.")
                throw ExitCode(2)
            }
            if let why = worldModel?.frameMismatch(width: p.camera.width, height: p.camera.height) {
                warn("error: \(model) on board \(board): \(why)")
                warn("nothing was started.")
                throw ExitCode(2)
            }
        }
        var goalImage: GrayImage?
        if let goal {
            do { goalImage = try Goal.load(goal, width: p.camera.width, height: p.camera.height) } catch {
                warn("error: \(error)")
                warn("nothing was started.")
                throw ExitCode(2)
            }
        }
        let plannerConfig = p.planner ?? PlannerConfig()

        let clock = SystemClock()
        if p.simulation == nil {
            if !usePlanner { throw ValidationError("--policy follower needs a simulated board (it is told where the door and goal are)") }
            if goal == nil {
                throw ValidationError("a real board plans toward a goal image: pass --goal NAME|FILE (see `cerebellum goal capture`)")
            }
        }
        let rig: Rig
        // The output supervisor runs one priority above the loop, so a busy loop cannot starve its watch.
        let supervisorPriority = noRealtime || p.loop.realtime.priority <= 0 ? 0 : min(99, p.loop.realtime.priority + 1)
        do { rig = try Rig(board: loaded, clock: clock, seed: seed, supervisorPriority: supervisorPriority) } catch {
            warn("error: \(error)")
            warn("nothing was started; every output opened so far was put back in its safe state.")
            throw ExitCode(2)
        }
        print("board \(p.name): \(p.summary)")
        for a in p.safety.acknowledged { warn(a.warning) }
        if let f = rig.cameraFormat { print("camera: \(f)") }
        if let s = rig.supervisor, let pw = p.pwm {
            print(
                "output supervisor: pid \(s.pid) holds \(pw.outputEnable.map { "the OE line \($0.chip)/\($0.line) and " } ?? "")"
                    + "the PWM board's bus; it cuts the outputs if this process dies or no tick comes for "
                    + "\(Int(p.supervisorStall.inMilliseconds)) ms")
        }
        if let pwm = rig.pwm {
            print(
                String(
                    format: "pwm: PCA9685, prescale %d → %.2f Hz (asked %.1f Hz, oscillator trim %.4f), channels %@",
                    Int(pwm.prescale), pwm.actualFrequencyHz, pwm.requestedFrequencyHz, pwm.oscillatorTrim, pwm.pwmChannels.description))
        }

        print(
            "loop \(String(format: "%.0f", p.loop.rateHz)) Hz, \(p.actuators.count) actuators (\(p.actuators.map(\.name).joined(separator: ", "))), calibration \(loaded.calibration.path)"
        )
        if !noRealtime {
            let rt = applyRealtime(priority: p.loop.realtime.priority, lockMemory: p.loop.realtime.lockMemory, cpu: p.loop.realtime.cpu)
            for a in rt.applied { print("real-time: \(a)") }
            for w in rt.warnings { warn("warning: real-time: \(w)") }
        }
        print(
            arm
                ? "arming once, when every pre-arm check passes; after a disarm, an e-stop or a fault only an explicit arm arms again"
                : "governor stays DISARMED (pass --arm to arm)")

        installStopHandlers()
        let governor = try SafetyGovernor(config: loaded.safetyConfig)
        let robot = rig.robot
        var follower: ScriptedWaypointFollower? = robot.map { ScriptedWaypointFollower(world: $0.world) }
        var planner: LatentPlannerSource?
        if usePlanner, let wm = worldModel {
            let source = try LatentPlannerSource(
                model: wm, config: plannerConfig, governor: governor, timer: clock, seed: seed ?? 1,
                surpriseThresholdFactor: p.surprise.thresholdFactor)
            for (name, image) in Goal.library(width: p.camera.width, height: p.camera.height) {
                source.goalLibrary[name] = source.observer.encode(image.pixels)
            }
            planner = source
            print("world model \(model): latent \(wm.latentSize), int8 encoder (\(Int8Kernel.best.rawValue))")
            source.computeProfile.lines.forEach { print($0) }
            print(
                "command source: latent planner (\(plannerConfig.method.rawValue), horizon \(plannerConfig.horizon), \(plannerConfig.samples) samples, "
                    + "route search every \(plannerConfig.roadmapEvery) ticks, budget \(plannerConfig.budgetMilliseconds) ms), goal: "
                    + (goal.map { "image \(Goal.resolve($0))" } ?? "each episode's goal image"))
            print(
                "surprise: threshold \(source.observer.threshold.map { String(format: "%.4f", $0) } ?? "none") "
                    + "(\(p.surprise.thresholdFactor) × validation p99), response: \(p.surprise.action.rawValue)")
        } else {
            print("command source: scripted waypoint follower (told where the door and goal are)")
        }
        guard let autonomy: CommandSource = planner ?? follower else { throw ValidationError("no command source") }
        var console: TeleopConsole?
        if teleop != nil || p.serialConsole != nil {
            let c = try TeleopConsole(
                board: loaded, device: teleop, autonomy: autonomy, governor: governor, clock: clock,
                log: { warn("\(eraseLine)\($0)") })
            print(
                "teleop console on \(c.settings.device) at \(c.settings.baud) baud (dead-man \(Int(c.settings.deadman.inMilliseconds)) ms)")
            c.server.start()
            console = c
        }
        // The follower has no model of its own: the monitor watches the world model's surprise for it.
        let monitor =
            planner == nil
            ? try worldModel.map {
                try LatentMonitor(
                    inner: console?.arbiter ?? autonomy, model: $0, governor: governor, timer: clock,
                    surpriseThresholdFactor: p.surprise.thresholdFactor)
            }
            : nil
        let observer = planner?.observer ?? monitor?.observer
        let loop = rig.makeLoop(source: monitor ?? console?.arbiter ?? autonomy, governor: governor)
        let runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: arm ? .once : .never)
        // The watchdog starts counting only now, after the model's warm-up: from here the loop feeds it.
        do { try rig.startWatchdog() } catch {
            rig.shutdown()
            warn("error: \(error)")
            throw ExitCode(2)
        }
        if let w = rig.signals.watchdog { print("watchdog: \(w.path) (\(w.identity)), timeout \(w.timeoutSeconds) s, fed from the loop") }
        let printer = StatusPrinter()
        printer.start()
        let started = clock.now()
        var results: [EpisodeResult] = []
        var paths: [GoalEpisode] = []
        var lastRefusal: ArmResult?
        for episode in 1...max(1, episodes) {
            if episode > 1 {
                rig.newEpisode()
                loop.restartSchedule()
            }
            let world = robot?.world
            if let planner {
                planner.reset()
                if let goalImage {
                    planner.setGoal(image: goalImage.pixels, name: goal)
                } else if let world {
                    let goalFrame = Frame(width: p.camera.width, height: p.camera.height)
                    world.render(into: goalFrame, agent: world.goal)
                    planner.setGoal(image: goalFrame.pixels, name: "episode \(episode) goal")
                }
            } else if let world {
                let f = ScriptedWaypointFollower(world: world)
                follower = f
                if let console { console.arbiter.autonomy = f } else if let monitor { monitor.inner = f } else { loop.source = f }
            }
            monitor?.reset()
            var path: [[Double]] = world.map { [[$0.position.x, $0.position.y]] } ?? []
            let source = follower
            let arbiter = console?.arbiter
            let result = runner.run(
                maxSteps: console == nil ? TwoRoomsWorld.maxEpisodeSteps : Int.max,
                isDone: {
                    guard goalImage == nil, let robot else { return false }
                    return planner != nil || arbiter?.mode == .teleop ? robot.world.reachedGoal : source?.arrived ?? false
                },
                shouldStop: {
                    stopRequested.load(ordering: .relaxed) || duration.map { (clock.now() - started).inSeconds >= $0 } ?? false
                },
                afterTick: { r in
                    if let robot, path.count <= robot.steps { path.append([robot.world.position.x, robot.world.position.y]) }
                    if r.tick % 4 == 0 || r.state != .armed {
                        let report = r.tick % 8 == 0 ? loop.statistics.report : nil
                        let plan = r.tick % 8 == 0 ? planner?.planTime.summary : nil
                        let work = r.tick % 8 == 0 ? planner.map { ($0.freshTicks, $0.planningTicks, $0.longestStaleRun) } : nil
                        printer.status.withLock { s in
                            s.tick = r.tick; s.state = r.state; s.faults = r.latchedFaults
                            if let report { s.report = report }
                            if let plan { s.planP99 = plan.p99 }
                            if let work, work.1 > 0 { s.freshShare = Double(work.0) / Double(work.1); s.longestStale = work.2 }
                            s.surprise = observer?.smoothedSurprise ?? .nan
                            s.distanceToGoal = goalImage == nil ? robot?.world.distanceToGoal ?? .nan : .nan
                            s.steps = robot?.steps ?? r.tick
                            s.effort = (r.output.efforts[0], r.output.efforts.count > 1 ? r.output.efforts[1] : 0)
                            s.mode = arbiter.map { $0.mode == .teleop ? ($0.connected ? "TELEOP" : "TELEOP (link down)") : "auto" } ?? ""
                        }
                    }
                    if runner.lastArmRefusal != lastRefusal, let refusal = runner.lastArmRefusal {
                        print("\(eraseLine)\(refusal)")
                    }
                    if arm && !runner.armedOnce && runner.refusedArmTicks == Int(5 * p.loop.rateHz) {
                        warn(
                            "\(eraseLine)WARNING: --arm: the pre-arm checks have not passed for 5 s (\(runner.lastArmRefusal.map { "\($0)" } ?? "?")); "
                                + "the robot stays disarmed until they pass")
                    }
                    lastRefusal = runner.lastArmRefusal
                    if loop.hasEvents { for e in loop.drainEvents() { report(e) } }
                })
            results.append(result)
            if let world {
                paths.append(
                    GoalEpisode(
                        index: episode, success: result.success, steps: result.steps, finalDistance: result.finalDistance,
                        wallX: world.layout.wallX, doorY: world.layout.doorY, start: [world.position.x, world.position.y],
                        goal: [world.goal.x, world.goal.y], path: path))
            }
            let outcome = goalImage != nil ? "ended" : (result.success ? "SUCCESS" : "no success")
            print(
                "\(eraseLine)episode \(episode): \(outcome) (\(result.ending.rawValue)), \(result.steps) steps, final distance \(String(format: "%.2f", result.finalDistance)) px"
            )
            if result.ending == .stopped { break }
        }
        loop.stop()
        rig.shutdown()
        console?.server.stop()
        printer.stop()
        var summary = RunSummary(
            board: p.name, episodes: results, loop: loop.statistics.report,
            governorState: governor.state.rawValue, latchedFaults: governor.latchedFaults.description,
            faultEvents: governor.faultEvents, rejectedCommands: governor.rejectedCommands,
            actuatorWrites: (rig.actuators as? SimulatedActuators)?.writes ?? loop.statistics.ticks)
        if let cam = rig.camera as? V4L2Camera {
            summary.camera = CameraSummary(
                format: cam.format?.description ?? "closed", frames: cam.framesDelivered, errorBuffers: cam.errorBuffers,
                droppedForNewer: cam.droppedForNewer, timestampAnomalies: cam.timestampAnomalies,
                losses: cam.losses, reopens: cam.reopens)
        }
        if let pwm = rig.pwm {
            summary.pwm = PWMSummary(
                prescale: Int(pwm.prescale), frequencyHz: pwm.actualFrequencyHz, retriedTransfers: pwm.retriedTransfers,
                reinitializations: pwm.reinitializations)
        }
        if let planner {
            summary.planTime = planner.planTime.summary
            summary.planCPUTime = planner.planCPUTime.summary
            summary.plansCutShort = planner.cutShort
            summary.routeSearches = planner.searches
            summary.routesFound = planner.routesFound
            summary.compute = planner.computeProfile
            summary.work = planner.workDone
            summary.starvedTicks = governor.starvedTicks
        }
        if let o = observer {
            summary.encodeTime = o.encodeTime.summary
            summary.surprise = SurpriseSummary(
                mean: o.meanSurprise, max: o.maxSurprise, threshold: o.threshold,
                surprisedTicks: governor.surprisedTicks, response: p.surprise.action.rawValue)
        }
        printSummary(summary)
        if let console {
            let c = console.session.counters
            print(
                "  teleop: \(c.lines) lines, \(c.badLines) rejected, \(c.badChecksums) bad checksums, \(c.garbageBytes) garbage bytes (\(c.taintedLines) lines dropped for them), \(c.overlongLines) overlong; link hang-ups \(console.server.hangups)"
            )
            if let t = console.link.snapshot.lastTakeoverTicks {
                print("  last takeover: operator command at the outputs \(t) tick(s) after the loop received it")
            }
        }
        if trajectory != "none" && !paths.isEmpty {
            let ok = results.filter(\.success).count
            try writeTrajectorySheet(
                Array(paths.prefix(48)), title: "run on \(p.name): \(ok)/\(results.count) reached the goal",
                path: trajectory, showOutcome: goalImage == nil)
            print("  trajectories: \(trajectory)")
        }
        if let json { try jsonString(summary).write(toFile: json, atomically: true, encoding: .utf8) }
    }

    private func report(_ e: LoopEvent) {
        switch e {
        case .overrun(let tick, let late, let skipped):
            warn(
                "\(eraseLine)event: overrun at tick \(tick): \(String(format: "%.2f", late.inMilliseconds)) ms late, \(skipped) period(s) skipped"
            )
        case .faultLatched(let tick, let faults):
            warn("\(eraseLine)event: fault latched at tick \(tick): \(faults) — outputs neutral")
        }
    }

    private func printSummary(_ s: RunSummary) {
        print("")
        print("summary — board \(s.board)")
        let ok = s.episodes.filter(\.success).count
        let steps = s.episodes.filter(\.success).map(\.steps)
        print(
            "  episodes \(s.episodes.count), success \(ok)/\(s.episodes.count), steps \(s.episodes.map(\.steps))"
                + (steps.isEmpty ? "" : String(format: ", mean steps to goal %.1f", Double(steps.reduce(0, +)) / Double(steps.count))))
        printLoopTable(s.loop)
        if let t = s.planTime {
            print(
                String(
                    format: "  plan time per tick: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms over %d ticks; ", t.p50, t.p99,
                    t.p999, t.max, t.count)
                    + "\(s.plansCutShort ?? 0) cut short by the budget; route searches \(s.routeSearches ?? 0), routes found \(s.routesFound ?? 0)"
            )
        }
        if let c = s.planCPUTime {
            print(
                String(
                    format: "  plan CPU time per tick (the planning thread's own): p50 %.2f ms, p99 %.2f ms, max %.2f ms", c.p50, c.p99,
                    c.max))
        }
        if let w = s.work {
            print("  " + w.line)
            if w.idleShare > PolicyReport.idleShareWarning {
                print(
                    String(
                        format:
                            "  WARNING: the planner did no planning work on %.1f %% of its ticks: this CPU does not deliver what the budget assumes",
                        100 * w.idleShare))
            }
            if let n = s.starvedTicks, n > 0 {
                print("  planner starved on \(n) tick(s) (planner.max_stale_ticks; response: planner.starved_action)")
            }
        }
        if let e = s.encodeTime, let u = s.surprise {
            print(
                String(
                    format: "  world model: int8 encode p50 %.1f µs, p99 %.1f µs; one-step surprise mean %.4f, max %.4f", e.p50 * 1000,
                    e.p99 * 1000, u.mean, u.max)
                    + ", threshold \(u.threshold.map { String(format: "%.4f", $0) } ?? "none"), surprised on \(u.surprisedTicks) tick(s) (response: \(u.response))"
            )
        }
        if let c = s.camera {
            print(
                "  camera \(c.format): \(c.frames) frames, \(c.errorBuffers) error buffers, \(c.droppedForNewer) dropped for newer, "
                    + "\(c.timestampAnomalies) timestamp anomalies, lost \(c.losses)×, reopened \(c.reopens)×")
        }
        if let w = s.pwm {
            print(
                String(
                    format: "  pwm PCA9685 %.2f Hz (prescale %d): %d transfers retried, %d re-initializations after power loss",
                    w.frequencyHz, w.prescale, w.retriedTransfers, w.reinitializations))
        }
        print(
            "  governor \(s.governorState), latched faults: \(s.latchedFaults), fault events \(s.faultEvents), rejected commands \(s.rejectedCommands)"
        )
    }
}

/// The world model's surprise over a run.
struct SurpriseSummary: Codable {
    var mean: Double
    var max: Double
    var threshold: Double?
    var surprisedTicks: Int
    var response: String
}

struct CameraSummary: Codable {
    var format: String
    var frames: Int
    var errorBuffers: Int
    var droppedForNewer: Int
    var timestampAnomalies: Int
    var losses: Int
    var reopens: Int
}

struct PWMSummary: Codable {
    var prescale: Int
    var frequencyHz: Double
    var retriedTransfers: Int
    var reinitializations: Int
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
    var planTime: PercentileSummary?
    /// The planning thread's CPU time per tick, ms.
    var planCPUTime: PercentileSummary?
    var plansCutShort: Int?
    var routeSearches: Int?
    var routesFound: Int?
    /// What the planner's hardware delivered at start, what it actually ran per tick, and the ticks the
    /// governor was told it was starved.
    var compute: PlannerComputeProfile?
    var work: PlannerWork?
    var starvedTicks: Int?
    var encodeTime: PercentileSummary?
    var surprise: SurpriseSummary?
    var camera: CameraSummary?
    var pwm: PWMSummary?
}
