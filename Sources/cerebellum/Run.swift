import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import LinuxHardware
import Recording
import Reports
import Planning
import RobotCore
import Safety
import Simulation
import LiveView
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
            --record DIR records the run as it drives (the console's record start/stop/status/mark as well), one MCAP
            file per recording that `train` reads; the loop never waits on the disk (frames are dropped and counted if
            it falls behind). Ctrl-C stops cleanly: outputs neutral, recording closed, summary printed, exit 0.
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

    @Option(
        help: ArgumentHelp(
            "World model (int8 encoder and predictor; default: the simulated world's shipped one, models/WORLD.safetensors, "
                + "else models/two-rooms.safetensors); \"none\" runs without one (follower only)."))
    var model: String?

    @Option(help: "Command source: planner (latent MPC toward the goal image) or follower (scripted waypoints).")
    var policy = "planner"

    @Option(
        help: ArgumentHelp(
            "Record the run as it drives into this directory (DIR/run-NNNN.mcap): frames, commands, efforts, state, faults.",
            discussion: "Without it the console's `record start` still records, into recordings/."))
    var record: String?

    @Option(help: "Goal image: a name in goals/ or a PNG file (default on a simulated board: each episode's goal).")
    var goal: String?

    @Option(help: "Trajectory picture of the episodes (PNG, simulated boards); \"none\" to skip.")
    var trajectory = "reports/run-trajectory.png"

    @Option(help: "Teleop console on this serial device (overrides the board's serial_console.device), e.g. /dev/ttyUSB0.")
    var teleop: String?

    @Option(help: "Gamepad on this evdev device (overrides the board's gamepad.device), e.g. /dev/input/by-id/…-event-joystick.")
    var gamepad: String?

    @Option(
        help: ArgumentHelp(
            "Serve a live view on this TCP port (Foxglove WebSocket, foxglove.websocket.v1; 0: any free port).",
            discussion:
                "Camera, commands before and after the governor, state and faults, surprise and the plan; open ws://HOST:PORT in Foxglove.")
    )
    var live: UInt16?

    @Option(help: "Address the live view listens on (0.0.0.0: every interface; default loopback only, reach it through ssh -L).")
    var liveHost = "127.0.0.1"

    @Flag(
        help: ArgumentHelp(
            "Plan the whole configured work every tick on the portable kernels, ignoring planner.budget_ms (simulated boards).",
            discussion: "The same frames then give the same commands on any CPU: a recording made so replays exactly (cerebellum replay)."))
    var fixedWork = false

    mutating func run() throws {
        lineBufferedStandardOutput()
        let loaded = loadBoardOrExit(board)
        if model == nil { model = shippedModel(for: loaded.profile) }
        let (worldModel, goalImage) = try checkedInputs(loaded.profile)
        let clock = SystemClock()
        let liveView = try openLiveView(loaded.profile, clock: clock)
        let rig = try openRig(loaded, clock: clock)
        printDevices(loaded, rig)
        installStopHandlers()
        let session = try RunSession(
            command: self, loaded: loaded, rig: rig, clock: clock, worldModel: worldModel, goalImage: goalImage, liveView: liveView)
        // The watchdog starts counting only now, after the model's warm-up: from here the loop feeds it.
        do { try rig.startWatchdog() } catch {
            rig.shutdown()
            warn("error: \(error)")
            throw ExitCode(2)
        }
        if let w = rig.signals.watchdog { print("watchdog: \(w.path) (\(w.identity)), timeout \(w.timeoutSeconds) s, fed from the loop") }
        session.runEpisodes(count: max(1, episodes))
        session.stop()
        let summary = session.summary()
        printSummary(summary)
        session.printConsoleCounters()
        if trajectory != "none" && !session.paths.isEmpty {
            let ok = session.results.filter(\.success).count
            try writeTrajectorySheet(
                Array(session.paths.prefix(48)), title: "run on \(loaded.profile.name): \(ok)/\(session.results.count) reached the goal",
                path: trajectory, showOutcome: goalImage == nil,
                gymGoalRadius: loaded.profile.simulation?.gymnasium.map { $0.goalDistance ?? 1 })
            print("  trajectories: \(trajectory)")
        }
        if let json { try jsonString(summary).write(toFile: json, atomically: true, encoding: .utf8) }
    }

    /// The options and files checked before any device opens: the policy against the board, the world
    /// model against the camera, the goal image. A bad file exits 2 with the reason.
    private func checkedInputs(_ p: BoardProfile) throws -> (WorldModelFile?, GrayImage?) {
        guard policy == "planner" || policy == "follower" else { throw ValidationError("--policy must be planner or follower") }
        let usePlanner = policy == "planner"
        let model = self.model ?? "none"
        if usePlanner && model == "none" { throw ValidationError("the planner needs a world model (--model PATH, or --policy follower)") }
        if gamepad != nil && p.gamepad == nil {
            throw ValidationError("--gamepad needs the board's gamepad section (axes, deadman, estop): see boards/sim-two-rooms.yaml")
        }
        if p.simulation == nil {
            if fixedWork {
                throw ValidationError(
                    "--fixed-work needs a simulated board: on a robot the planner must fit its budget (planner.budget_ms)")
            }
            if !usePlanner { throw ValidationError("--policy follower needs a simulated board (it is told where the door and goal are)") }
            if goal == nil {
                throw ValidationError("a real board plans toward a goal image: pass --goal NAME|FILE (see `cerebellum goal capture`)")
            }
        }
        func refuse(_ message: String) -> ExitCode {
            warn("error: \(message)")
            warn("nothing was started.")
            return ExitCode(2)
        }
        var worldModel: WorldModelFile?
        if model != "none" {
            do { worldModel = try WorldModelFile.load(path: model) } catch { throw refuse("\(error)") }
            if let why = p.problem(running: worldModel!, planning: usePlanner) { throw refuse("\(model) on board \(board): \(why)") }
        }
        var goalImage: GrayImage?
        if let goal {
            do { goalImage = try Goal.load(goal, width: p.camera.width, height: p.camera.height) } catch { throw refuse("\(error)") }
        }
        return (worldModel, goalImage)
    }

    /// The live view's server (`--live PORT`), bound before any device opens: a port in use exits 2 with nothing started.
    private func openLiveView(_ p: BoardProfile, clock: SystemClock) throws -> FoxgloveServer? {
        guard let port = live else { return nil }
        // The plan channel carries the world model's actions per step (the planner's, not every actuator).
        let tap = LiveTap(width: p.camera.width, height: p.camera.height, actionSize: p.plannedActuators.count)
        do {
            let server = try FoxgloveServer(
                host: liveHost, port: port, tap: tap, name: "cerebellum \(p.name)", metadata: ["board": p.name], clock: clock)
            server.start()
            print("live view: \(server.url) (foxglove.websocket.v1: in Foxglove, open a connection to this URL)")
            return server
        } catch {
            warn("error: --live: \(error)")
            warn("nothing was started.")
            throw ExitCode(2)
        }
    }

    /// The board's devices, the output supervisor first on a real board; a failure exits 2 with every output
    /// opened so far back in its safe state.
    private func openRig(_ loaded: LoadedBoard, clock: SystemClock) throws -> Rig {
        let p = loaded.profile
        // The output supervisor runs one priority above the loop, so a busy loop cannot starve its watch.
        let supervisorPriority = noRealtime || p.loop.realtime.priority <= 0 ? 0 : min(99, p.loop.realtime.priority + 1)
        do { return try Rig(board: loaded, clock: clock, seed: seed, supervisorPriority: supervisorPriority) } catch {
            warn("error: \(error)")
            warn("nothing was started; every output opened so far was put back in its safe state.")
            throw ExitCode(2)
        }
    }

    /// What was opened and how: board, acknowledgements, camera, supervisor, PWM, loop; then real-time setup.
    private func printDevices(_ loaded: LoadedBoard, _ rig: Rig) {
        let p = loaded.profile
        print("board \(p.name): \(p.summary)")
        for a in p.safety.acknowledged { warn(a.warning) }
        if let h = rig.hardware, let pw = p.pwm {
            if let f = h.camera.format { print("camera: \(f)") }
            print(
                "output supervisor: pid \(h.supervisor.pid) holds \(pw.outputEnable.map { "the OE line \($0.chip)/\($0.line) and " } ?? "")"
                    + "the PWM board's bus; it cuts the outputs if this process dies or no tick comes for "
                    + "\(Int(p.supervisorStall.inMilliseconds)) ms")
        }
        if let pwm = rig.hardware?.pwm {
            print(
                String(
                    format: "pwm: PCA9685, prescale %d → %.2f Hz (asked %.1f Hz, oscillator trim %.4f), channels %@",
                    Int(pwm.prescale), pwm.actualFrequencyHz, pwm.requestedFrequencyHz, pwm.oscillatorTrim, pwm.pwmChannels.description))
        }
        print(
            "loop \(String(format: "%.0f", p.loop.rateHz)) Hz, \(p.actuators.count) actuators "
                + "(\(p.actuators.map(\.name).joined(separator: ", "))), calibration \(loaded.calibration.path)"
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
    }

    func report(_ e: LoopEvent) {
        switch e {
        case .overrun(let tick, let late, let skipped):
            warn(
                "\(eraseLine)event: overrun at tick \(tick): \(String(format: "%.2f", late.inMilliseconds)) ms late, \(skipped) period(s) "
                    + "skipped"
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
                    + "\(s.plansCutShort ?? 0) cut short by the budget; route searches \(s.routeSearches ?? 0), routes found "
                    + "\(s.routesFound ?? 0)"
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
            if let warning = w.idleWarning { print("  " + warning) }
            if let n = s.starvedTicks, n > 0 {
                print("  planner starved on \(n) tick(s) (planner.max_stale_ticks; response: planner.starved_action)")
            }
        }
        if let e = s.encodeTime, let u = s.surprise {
            print(
                String(
                    format: "  world model: int8 encode p50 %.1f µs, p99 %.1f µs; one-step surprise mean %.4f, max %.4f", e.p50 * 1000,
                    e.p99 * 1000, u.mean, u.max)
                    + ", threshold \(u.threshold.map { String(format: "%.4f", $0) } ?? "none"), surprised on \(u.surprisedTicks) tick(s) "
                    + "(response: \(u.response))"
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
            "  governor \(s.governorState), latched faults: \(s.latchedFaults), fault events \(s.faultEvents), rejected commands "
                + "\(s.rejectedCommands)"
        )
        for r in s.recordings { print("  recorded " + RunRecorder.describe(r)) }
        if let v = s.liveView {
            print(
                "  live view: \(v.clientsAccepted) client(s) (\(v.clientsRefused) refused, \(v.slowClientsDropped) dropped as too slow, "
                    + "\(v.protocolViolations) for protocol violations); \(v.messagesSent) messages sent, \(v.messagesDropped) dropped "
                    + "for full backlogs; \(v.ticksSeen) ticks handed over, \(v.ticksDropped) dropped by the tap")
        }
    }
}

/// One `run`: the command source (planner or follower, behind the operator's console and the surprise
/// monitor when there are), the loop over the rig, and the episodes run through it with a live status line.
final class RunSession {
    let command: Run
    let loaded: LoadedBoard
    let rig: Rig
    let clock: SystemClock
    let governor: SafetyGovernor
    let goalImage: GrayImage?
    let planner: LatentPlannerSource?
    var follower: ScriptedDriver?
    let console: TeleopConsole?
    /// The board's gamepad (`gamepad:`, or `--gamepad DEVICE`), the console's second operator input or the only one.
    let gamepad: GamepadOperator?
    /// Who drives each tick when there is an operator input (the console's arbiter, or the gamepad's own).
    let arbiter: Arbiter?
    let monitor: LatentMonitor?
    let loop: ControlLoop
    let runner: EpisodeRunner
    /// `--record DIR` and the console's `record …`.
    let recorder: RunRecorder
    /// `--live PORT`: the Foxglove WebSocket server and, for its plan channel, the forecast goal distance per step.
    let liveView: FoxgloveServer?
    private var forecast: [Float]
    let printer = StatusPrinter()
    private(set) var results: [EpisodeResult] = []
    private(set) var paths: [GoalEpisode] = []
    private var lastRefusal: ArmResult?
    private var lastMode: ControlMode?
    /// The planner's goal change and the recording that were last logged.
    private var goalPosted = (changes: 0, recording: 0)
    private var started = Instant(nanoseconds: 0)

    var profile: BoardProfile { loaded.profile }
    /// Whoever's world model watches the ticks: the planner's own, or the monitor's beside the follower.
    var observer: LatentObserver? { planner?.observer ?? monitor?.observer }

    init(
        command: Run, loaded: LoadedBoard, rig: Rig, clock: SystemClock, worldModel: WorldModelFile?, goalImage: GrayImage?,
        liveView: FoxgloveServer?
    ) throws {
        self.command = command
        self.liveView = liveView
        self.loaded = loaded
        self.rig = rig
        self.clock = clock
        self.goalImage = goalImage
        let p = loaded.profile
        let governor = try SafetyGovernor(config: loaded.safetyConfig)
        self.governor = governor
        follower = rig.plant.flatMap { scriptedDriver(for: $0) }
        let planner = command.policy == "planner" ? try worldModel.map { try Self.plannerSource(command, p, $0, governor, clock) } : nil
        self.planner = planner
        forecast = [Float](repeating: 0, count: planner?.planner.config.horizon ?? 0)
        if planner == nil {
            print(
                rig.robot != nil
                    ? "command source: scripted waypoint follower (told where the door and goal are)"
                    : "command source: scripted route driver (told the map, the robot's pose and the goal)")
        }
        guard let autonomy: CommandSource = planner ?? follower else { throw ValidationError("no command source") }
        recorder = RunRecorder(directory: command.record ?? "recordings", board: loaded, clock: clock, metadata: Self.metadata(command))
        if command.teleop != nil || p.serialConsole != nil {
            let c = try TeleopConsole(
                board: loaded, device: command.teleop, autonomy: autonomy, governor: governor, clock: clock,
                log: { warn("\(eraseLine)\($0)") })
            c.session.recording = recorder
            print(
                "teleop console on \(c.settings.device) at \(c.settings.baud) baud (dead-man \(Int(c.settings.deadman.inMilliseconds)) ms)")
            c.server.start()
            console = c
        } else {
            console = nil
        }
        var pad = p.gamepad
        if let device = command.gamepad { pad?.device = device }
        if let pad {
            let link = console?.link ?? TeleopLink()
            let g = GamepadOperator(settings: pad, channels: p.actuators.map(\.name), link: link, log: { warn("\(eraseLine)\($0)") })
            g.recording = recorder
            arbiter = console?.arbiter ?? Arbiter(autonomy: autonomy, link: link, governor: governor)
            print(
                "gamepad on \(pad.device): dead-man \(pad.deadman) (holds \(Int(pad.deadmanHold.inMilliseconds)) ms), e-stop \(pad.eStop), "
                    + pad.axes.map { "\($0.actuator) ← \($0.reversed ? "-" : "")\($0.axis)" }.joined(separator: ", "))
            g.start()
            gamepad = g
        } else {
            arbiter = console?.arbiter
            gamepad = nil
        }
        // The follower has no model of its own: the monitor watches the world model's surprise for it.
        let inner = arbiter ?? autonomy
        monitor =
            planner == nil
            ? try worldModel.map {
                try LatentMonitor(
                    inner: inner, model: $0, channels: p.channels(for: $0), governor: governor, timer: clock,
                    surpriseThresholdFactor: p.surprise.thresholdFactor)
            }
            : nil
        loop = rig.makeLoop(source: monitor ?? inner, governor: governor)
        runner = EpisodeRunner(rig: rig, loop: loop, armPolicy: command.arm ? .once : .never)
    }

    /// What every recording of the run says about how it was made, for `replay`: the board file, the model
    /// and its CRC-32, the planner's seed and whether it did fixed work.
    private static func metadata(_ command: Run) -> [String: String] {
        var m = [
            "policy": command.policy, "model": command.model ?? "none", "goal": command.goal ?? "each episode's goal",
            "board_file": command.board, "planner_seed": String(command.seed ?? 1),
            "planner_work": command.fixedWork ? "fixed" : "budget",
        ]
        if let model = command.model, model != "none", let crc = fileCRC32(model) { m["model_crc32"] = crc }
        return m
    }

    /// The latent planner toward the goal, with the goal library encoded, and what it says of itself.
    private static func plannerSource(
        _ command: Run, _ p: BoardProfile, _ wm: WorldModelFile, _ governor: SafetyGovernor, _ clock: SystemClock
    ) throws -> LatentPlannerSource {
        let config = p.planner ?? PlannerConfig()
        let source = try LatentPlannerSource(
            model: wm, channels: p.channels(for: wm), config: config, governor: governor, timer: clock, seed: command.seed ?? 1,
            surpriseThresholdFactor: p.surprise.thresholdFactor, fixedWork: command.fixedWork)
        for (name, image) in Goal.library(width: p.camera.width, height: p.camera.height) {
            source.goalLibrary[name] = source.observer.encode(image.pixels)
        }
        print("world model \(command.model ?? "none"): latent \(wm.latentSize), int8 encoder (\(Int8Kernel.best.rawValue))")
        source.computeProfile.lines.forEach { print($0) }
        print(
            "command source: latent planner (\(config.method.rawValue), horizon \(config.horizon), \(config.samples) samples, "
                + "route search every \(config.roadmapEvery) ticks, "
                + (command.fixedWork
                    ? "fixed work: every tick the whole of it, portable kernels" : "budget \(config.budgetMilliseconds) ms")
                + "), goal: "
                + (command.goal.map { "image \(Goal.resolve($0))" } ?? "each episode's goal image"))
        print(
            "surprise: threshold \(source.observer.threshold.map { String(format: "%.4f", $0) } ?? "none") "
                + "(\(p.surprise.thresholdFactor) × validation p99), response: \(p.surprise.action.rawValue)")
        return source
    }

    /// Runs up to `count` episodes (one on a real board, where an episode ends only when stopped).
    func runEpisodes(count: Int) {
        if command.record != nil {
            do { print("recording to \(try recorder.start())") } catch { warn("warning: --record: \(error); the run goes on unrecorded") }
        }
        printer.start()
        started = clock.now()
        for episode in 1...count {
            if episode > 1 { runner.nextEpisode() }
            prepare(episode: episode)
            recorder.post(.beginEpisode(info: episodeInfo))
            postGoalIfChanged()
            let result = run(episode: episode)
            recorder.post(
                .endEpisode(info: ["success": result.success ? 1 : 0, "steps": Double(result.steps), "ticks": Double(result.ticks)]))
            if result.ending == .stopped { break }
        }
    }

    /// Hands the tick to the live view: the command, the surprise, the latent distance to the goal, and the plan
    /// with the distance to the goal its rollout forecasts after each step. Allocation-free (the loop thread).
    private func publish(_ r: TickReport, to tap: LiveTap) {
        var t = LiveTick(
            command: RunRecorder.sample(r, truth: nil), surprise: observer?.smoothedSurprise ?? .nan,
            surpriseThreshold: observer?.threshold ?? .nan)
        let frame = r.capture == .newFrame ? loop.frame : nil
        guard let planner, let distance = planner.goalDistance else {
            tap.push(t, frame: frame, plan: nil, forecast: nil)
            return
        }
        t.goalDistance = distance
        let steps = forecast.withUnsafeMutableBufferPointer { planner.forecastGoalDistances(into: $0) }
        planner.planner.mean.withUnsafeBufferPointer { plan in
            forecast.withUnsafeBufferPointer { f in
                tap.push(t, frame: frame, plan: plan, forecast: UnsafeBufferPointer(rebasing: f[0..<steps]))
            }
        }
    }

    /// Logs the planner's goal into the recording when it changed (a new episode's, one the console chose
    /// during the tick about to be recorded) or a new recording started, so every file names its goals.
    private func postGoalIfChanged() {
        guard let planner, planner.hasGoal, recorder.isRecording else { return }
        let now = (changes: planner.goalChanges, recording: recorder.started)
        guard now != goalPosted else { return }
        goalPosted = now
        recorder.post(.goal(name: planner.goalName ?? "", latent: planner.goalLatent))
    }

    /// The facts of the episode's simulated world, for the recording's episode marker.
    private var episodeInfo: [String: Double] {
        rig.plant?.episodeInfo ?? [:]
    }

    /// The episode's goal for the planner, or a new follower for the episode's world.
    private func prepare(episode: Int) {
        let plant = rig.plant
        if let planner {
            planner.reset()
            if let goalImage {
                planner.setGoal(image: goalImage.pixels, name: command.goal)
            } else if let plant {
                let goalFrame = Frame(width: profile.camera.width, height: profile.camera.height)
                plant.renderGoal(into: goalFrame)
                planner.setGoal(image: goalFrame.pixels, name: "episode \(episode) goal")
            }
        } else if let plant, let f = scriptedDriver(for: plant, seed: UInt64(episode) &+ 1) {
            follower = f
            if let arbiter { arbiter.autonomy = f } else if let monitor { monitor.inner = f } else { loop.source = f }
        }
        monitor?.reset()
    }

    /// One episode through the runner: done at the goal (simulated boards without a goal image), stopped by
    /// Ctrl-C or `--duration`; the status line and the arming messages follow it.
    private func run(episode: Int) -> EpisodeResult {
        let plant = rig.plant
        let info = plant?.episodeInfo ?? [:]
        let start = plant?.position
        var path: [[Double]] = start.map { [[$0.x, $0.y]] } ?? []
        let source = follower, arbiter = arbiter, goalImage = goalImage, planner = planner
        let duration = command.duration, started = started, clock = clock
        let result = runner.run(
            maxSteps: arbiter == nil ? nil : Int.max,
            isDone: {
                guard goalImage == nil, let plant else { return false }
                return planner != nil || arbiter?.mode == .teleop ? plant.reachedGoal : source?.arrived ?? false
            },
            shouldStop: {
                stopRequested.load(ordering: .relaxed) || duration.map { (clock.now() - started).inSeconds >= $0 } ?? false
            },
            afterTick: { r in
                if let plant, path.count <= plant.steps { path.append([plant.position.x, plant.position.y]) }
                self.afterTick(r)
            })
        results.append(result)
        if let start {
            paths.append(
                GoalEpisode(
                    index: episode, success: result.success, steps: result.steps, finalDistance: result.finalDistance,
                    wallX: info["wall_x"] ?? 0, doorY: info["door_y"] ?? 0, start: [start.x, start.y],
                    goal: [info["goal_x"] ?? 0, info["goal_y"] ?? 0], path: path))
            if let g = rig.simulation?.groundRobot {
                paths[paths.count - 1].rooms = RoomsEpisodeFacts(robot: g, info: info)
            }
        }
        let outcome = goalImage != nil ? "ended" : (result.success ? "SUCCESS" : "no success")
        let unit = distanceUnit
        print(
            "\(eraseLine)episode \(episode): \(outcome) (\(result.ending.rawValue)), \(result.steps) steps, final distance "
                + "\(String(format: "%.2f", result.finalDistance)) \(unit)"
        )
        return result
    }

    /// The simulated world's unit of distance.
    private var distanceUnit: String { rig.robot != nil ? "px" : rig.plant is GymnasiumPlant ? "units" : "m" }

    /// After every tick: the status line (every 4th tick, or when not armed), arming refusals, loop events.
    private func afterTick(_ r: TickReport) {
        let robot = rig.plant, arbiter = arbiter
        postGoalIfChanged()
        recorder.tap(r, frame: loop.frame, truth: robot?.position(at: loop.frame.timestamp))
        if let liveView { publish(r, to: liveView.tap) }
        if r.tick % 4 == 0 || r.state != .armed {
            let report = r.tick % 8 == 0 ? loop.statistics.report : nil
            let plan = r.tick % 8 == 0 ? planner?.planTime.summary : nil
            let work = r.tick % 8 == 0 ? planner.map { ($0.freshTicks, $0.planningTicks, $0.longestStaleRun) } : nil
            let surprise = observer?.smoothedSurprise ?? .nan
            let distance = goalImage == nil ? robot?.distanceToGoal ?? .nan : .nan
            printer.status.withLock { s in
                s.tick = r.tick; s.state = r.state; s.faults = r.latchedFaults
                if let report { s.report = report }
                if let plan { s.planP99 = plan.p99 }
                if let work, work.1 > 0 { s.freshShare = Double(work.0) / Double(work.1); s.longestStale = work.2 }
                s.surprise = surprise
                s.distanceToGoal = distance
                s.distanceUnit = self.distanceUnit
                s.steps = robot?.steps ?? r.tick
                s.effort = (r.output.efforts[0], r.output.efforts.count > 1 ? r.output.efforts[1] : 0)
                s.mode = arbiter.map { $0.mode == .teleop ? ($0.connected ? "TELEOP" : "TELEOP (link down)") : "auto" } ?? ""
            }
        }
        if runner.lastArmRefusal != lastRefusal, let refusal = runner.lastArmRefusal {
            print("\(eraseLine)\(refusal)")
        }
        if command.arm && !runner.armedOnce && runner.refusedArmTicks == Int(5 * profile.loop.rateHz) {
            warn(
                "\(eraseLine)WARNING: --arm: the pre-arm checks have not passed for 5 s (\(runner.lastArmRefusal.map { "\($0)" } ?? "?")); "
                    + "the robot stays disarmed until they pass")
        }
        lastRefusal = runner.lastArmRefusal
        if loop.hasEvents {
            for e in loop.drainEvents() {
                command.report(e)
                if case .faultLatched(_, let faults) = e { recorder.post(.note(kind: "fault", text: "latched: \(faults)")) }
            }
        }
        if let arbiter, arbiter.mode != lastMode {
            if lastMode != nil { recorder.post(.note(kind: "mode", text: arbiter.mode.rawValue)) }
            lastMode = arbiter.mode
        }
    }

    /// The loop stopped, every output in its safe state, the console and the status line closed.
    func stop() {
        loop.stop()
        let stats = loop.statistics.report
        recorder.stop(summary: [
            "ticks": String(loop.statistics.ticks), "overruns": String(loop.statistics.overruns),
            "execution_p99_ms": String(format: "%.3f", stats.execution.p99),
            "period_p50_ms": String(format: "%.3f", stats.period.p50),
            "latched_faults": governor.latchedFaults.description,
        ])
        rig.shutdown()
        console?.server.stop()
        gamepad?.stop()
        liveView?.stop()
        printer.stop()
    }

    /// What the run did: episodes, loop timing, governor, camera, PWM, planner and world-model figures.
    func summary() -> RunSummary {
        var summary = RunSummary(
            board: profile.name, episodes: results, loop: loop.statistics.report,
            governorState: governor.state.rawValue, latchedFaults: governor.latchedFaults.description,
            faultEvents: governor.faultEvents, rejectedCommands: governor.rejectedCommands,
            actuatorWrites: rig.simulation?.actuators.writes ?? loop.statistics.ticks)
        summary.recordings = recorder.recordings
        summary.liveView = liveView?.status
        if let h = rig.hardware {
            let cam = h.camera
            summary.camera = CameraSummary(
                format: cam.format?.description ?? "closed", frames: cam.framesDelivered, errorBuffers: cam.errorBuffers,
                droppedForNewer: cam.droppedForNewer, timestampAnomalies: cam.timestampAnomalies,
                losses: cam.losses, reopens: cam.reopens)
        }
        if let pwm = rig.hardware?.pwm {
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
                surprisedTicks: governor.surprisedTicks, response: profile.surprise.action.rawValue)
        }
        return summary
    }

    /// The console's and the gamepad's counters, when there were.
    func printConsoleCounters() {
        if let g = gamepad {
            print(
                "  gamepad \(g.deviceName ?? g.settings.device): \(g.eventsRead) events, \(g.drivesPosted) drive reports, \(g.eStops) "
                    + "e-stop(s), "
                    + "\(g.presses) button presses, lost \(g.losses)×")
        }
        guard let console else { return }
        let c = console.session.counters
        print(
            "  teleop: \(c.lines) lines, \(c.badLines) rejected, \(c.badChecksums) bad checksums, \(c.garbageBytes) garbage bytes "
                + "(\(c.taintedLines) lines dropped for them), \(c.overlongLines) overlong; link hang-ups \(console.server.hangups)"
        )
        if let t = console.link.snapshot.lastTakeoverTicks {
            print("  last takeover: operator command at the outputs \(t) tick(s) after the loop received it")
        }
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
    var recordings: [RecorderCounts] = []
    var liveView: LiveViewCounters?
}
