import ArgumentParser
import Configuration
import Control
import Evaluation
import Foundation
import LinuxHardware
import Planning
import RobotCore
import Simulation
import WorldModel

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Goal reaching: whole episodes through the loop; success with a 95 % interval, steps, plan time; baselines.",
        discussion: """
            Each episode is a simulated two-rooms episode run through the real control loop and safety governor on a
            manual clock (faster than real time). The goal is given to the policy only as an image: the frame the
            camera would see with the agent at the goal. Success: within 4.5 px of the goal within 200 steps.
            Policies: the latent planner (the board profile's planner settings, with the overrides below), and as
            baselines the same planner with a one-step horizon (greedy) and smooth random efforts. Every policy gets
            the same episodes (the same seed). Plan time is wall-clock time in the tick, single-threaded.
            """)

    @Option(help: "two-rooms, two-rooms-random (the two-rooms board), car-rooms or diffdrive-rooms (their boards).")
    var scenario = "two-rooms"
    @Option(help: "Episodes per policy.")
    var episodes = 200
    @Option(help: "Seed of the episodes (layouts, starts, goals); held out from training (1, 2) and eval-model (900001).")
    var seed: UInt64 = 500_001
    @Option(help: "World model (default: the scenario's shipped one, models/SCENARIO.safetensors; two-rooms for both two-rooms scenarios).")
    var model: String?
    @Option(
        help: ArgumentHelp(
            "Board profile, its planner settings used (default: the scenario's: boards/sim-two-rooms.yaml, "
                + "sim-car.yaml, sim-diffdrive.yaml)."))
    var board: String?
    @Option(help: "Planner override: the place memory file, or none (rooms scenarios: the one-level MPC baseline runs without one anyway).")
    var memory: String?
    @Flag(inversion: .prefixedNo, help: "Also run the random and greedy horizon-1 baselines.")
    var baselines = true
    @Option(help: "Trajectory picture (PNG); \"none\" to skip.")
    var png = "reports/eval-SCENARIO.png"
    @Option(help: "Write the report as JSON to this file.")
    var json: String?
    @Option(help: "Planner override: mppi or cem.")
    var method: String?
    @Option(help: "Planner override: horizon, steps.")
    var horizon: Int?
    @Option(help: "Planner override: samples per iteration.")
    var samples: Int?
    @Option(help: "Planner override: iterations per tick.")
    var iterations: Int?
    @Option(help: "Planner override: MPPI temperature.")
    var temperature: Double?
    @Option(help: "Planner override: sample noise (effort).")
    var noise: Double?
    @Option(help: "Planner override: plan-time budget per tick, ms.")
    var budgetMs: Double?
    @Option(help: "Planner override: the rollouts' number format, auto, fp32 or int8.")
    var predictor: String?
    @Option(help: "Planner override: ticks between route searches (0: off).")
    var roadmapEvery: Int?
    @Option(help: "Planner override: refused moves remembered per episode (0: off).")
    var blockedMoves: Int?
    @Option(help: "Planner override: steps of wall following after a refused push (0: off).")
    var wallFollowSteps: Int?
    @Option(help: "Write the latent-distance landscape for a few goals to this PNG, then stop.")
    var costMap: String?
    @Option(help: "Exit with status 3 when the planner did no planning work on more than this share of its ticks (0…1; e.g. 0.02).")
    var maxIdleShare: Double?
    @Option(
        help:
            ArgumentHelp(
                "Route-search check: for this many episodes of the scenario, search a route in imagination from the start to the goal "
                    + "image (no time budget), replay it in the true world and report how many work; then stop. --png draws the replayed "
                    + "routes.")
    )
    var routeCheck: Int?

    /// The scenario's board, world model and (two-rooms) variant.
    private func scenarioInputs() throws -> (board: LoadedBoard, model: String, variant: TwoRoomsVariant?) {
        if let variant = TwoRoomsVariant(rawValue: scenario) {
            let b = try simulatedBoard(loadBoardOrExit(board ?? "boards/sim-two-rooms.yaml"), world: variant)
            return (b, model ?? "models/two-rooms.safetensors", variant)
        }
        guard let world = SimulatedWorldName(rawValue: scenario), world.twoRoomsVariant == nil else {
            throw ValidationError("--scenario must be one of \(SimulatedWorldName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let defaultBoard =
            switch world {
            case .carRooms: "boards/sim-car.yaml"
            case .diffdriveRooms: "boards/sim-diffdrive.yaml"
            default: "boards/gym-carracing.yaml"
            }
        let b = loadBoardOrExit(board ?? defaultBoard)
        guard b.profile.simulation?.world == world else {
            let actual = b.profile.simulation?.world.rawValue ?? "a real board"
            throw ValidationError("--scenario \(scenario) needs a \(scenario) board; \(b.profile.path) is \(actual)")
        }
        return (b, model ?? shippedModel(for: b.profile), nil)
    }

    func run() throws {
        lineBufferedStandardOutput()
        let (loaded, model, variant) = try scenarioInputs()
        let wm: WorldModelFile
        do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(error)"); throw ExitCode(2) }
        if let why = loaded.profile.problem(running: wm, planning: true) {
            warn("error: \(model) on board \(loaded.profile.path): \(why)")
            throw ExitCode(2)
        }
        if let costMap {
            guard variant != nil else { throw ValidationError("--cost-map draws the two-rooms world") }
            try writeCostMaps(model: wm, path: costMap)
            return
        }
        var c = loaded.profile.planner ?? PlannerConfig()
        if let routeCheck {
            guard let variant else { throw ValidationError("--route-check runs on the two-rooms scenarios") }
            try checkRoutes(model: wm, config: c, variant: variant, episodes: routeCheck, seed: seed, png: png == "none" ? nil : png)
            return
        }
        if let memory { c.memory = memory == "none" ? nil : memory }
        if let method {
            guard let m = PlannerMethod(rawValue: method) else { throw ValidationError("--method must be mppi or cem") }
            c.method = m
        }
        if let horizon { c.horizon = horizon }
        if let samples { c.samples = samples }
        if let iterations { c.iterations = iterations }
        if let temperature { c.temperature = temperature }
        if let noise { c.noise = noise }
        if let budgetMs { c.budgetMilliseconds = budgetMs }
        if let predictor {
            guard let p = DensePrecision(rawValue: predictor) else { throw ValidationError("--predictor must be auto, fp32 or int8") }
            c.predictor = p
        }
        if let roadmapEvery { c.roadmapEvery = roadmapEvery }
        if let blockedMoves { c.blockedMoves = blockedMoves }
        if let wallFollowSteps { c.wallFollowSteps = wallFollowSteps }
        do { try c.validate() } catch { throw ValidationError("\(error)") }
        guard episodes >= 1 else { throw ValidationError("--episodes must be ≥ 1") }

        print("eval \(scenario): \(episodes) episodes per policy, seed \(seed), model \(model)")
        print(
            "planner: \(c.method.rawValue), horizon \(c.horizon), \(c.samples) samples × \(c.iterations) iteration(s), "
                + "predictor \(c.predictor.rawValue), route search every \(c.roadmapEvery) ticks, \(c.blockedMoves) refused moves kept, "
                + "wall following \(c.wallFollowSteps) steps, budget \(c.budgetMilliseconds) ms"
        )
        if let m = c.memory {
            print("place memory: \(m), route \(c.memoryLookahead) steps ahead, the goal itself from \(c.memoryFinalSteps) steps")
        }
        var policies: [EvaluationPolicy] = [.planner(c)]
        if baselines {
            var oneLevel = c
            oneLevel.memory = nil
            if c.memory != nil { policies.append(.planner(oneLevel)) }
            policies += [.greedy(c), .random]
        }
        var reports: [PolicyReport] = []
        var plannerEpisodes: [GoalEpisode] = []
        for policy in policies {
            let report = try evaluate(policy, board: loaded, model: wm, episodes: episodes, seed: seed)
            reports.append(report)
            if case .planner = policy { plannerEpisodes = report.episodes }
        }
        let full = EvalReport(scenario: scenario, seed: seed, model: model, episodesPerPolicy: episodes, planner: c, policies: reports)
        print("")
        printReport(full)
        if png != "none" {
            let path = png.replacingOccurrences(of: "SCENARIO", with: scenario)
            // Every failure, then successes up to 48 panels.
            let shown = (plannerEpisodes.filter { !$0.success } + plannerEpisodes.filter(\.success)).prefix(48).sorted {
                $0.index < $1.index
            }
            try writeTrajectorySheet(
                Array(shown),
                title: "\(scenario): latent planner, \(reports[0].successes)/\(episodes) "
                    + "(green start, red goal, orange = failed)", path: path,
                gymGoalRadius: loaded.profile.simulation?.gymnasium.map { $0.goalDistance ?? 1 })
            print("trajectories: \(path)")
        }
        if let json { try jsonString(full).write(toFile: json, atomically: true, encoding: .utf8); print("report: \(json)") }
        if let maxIdleShare, let work = reports.first?.work, work.idleShare > maxIdleShare {
            warn(
                String(
                    format: "error: the planner did no planning work on %.1f %% of its ticks (more than %.1f %%)", 100 * work.idleShare,
                    100 * maxIdleShare))
            throw ExitCode(3)
        }
    }

    private func printReport(_ r: EvalReport) {
        print("report — \(r.scenario), \(r.episodesPerPolicy) episodes per policy, seed \(r.seed)")
        print("  policy                     success          95 % interval     steps to goal (mean / median)  plan time p50 / p99 / max")
        for p in r.policies {
            let rate = String(format: "%3d/%d = %5.1f %%", p.successes, p.episodes.count, 100 * p.successRate)
            let ci = String(format: "[%5.1f, %5.1f] %%", 100 * p.interval95Low, 100 * p.interval95High)
            let steps = p.successes > 0 ? String(format: "%6.1f / %4.0f", p.meanStepsToGoal, p.medianStepsToGoal) : "     –"
            let plan = p.planTime.map { String(format: "%.2f / %.2f / %.2f ms", $0.p50, $0.p99, $0.max) } ?? "–"
            print(
                "  \(p.policy.padding(toLength: 26, withPad: " ", startingAt: 0)) \(rate)  \(ci)  "
                    + "\(steps.padding(toLength: 30, withPad: " ", startingAt: 0)) \(plan)"
            )
        }
        for p in r.policies {
            guard let c = p.meanCollisions else { continue }
            print(
                "  \(p.policy.padding(toLength: 26, withPad: " ", startingAt: 0)) "
                    + String(format: "%.2f collisions per episode, mean time to goal %.1f s", c, p.meanSecondsToGoal ?? .nan)
                    + (p.subgoalShare.map { String(format: ", %.0f %% of ticks toward a memory node", 100 * $0) } ?? "")
                    + (p.localizationError.map { l in
                        String(format: "; localized %.2f m from the node's place (median; p90 %.2f, max %.2f m), ", l[0], l[1], l[2])
                            + String(format: "%.1f %% of ticks over 1 m", 100 * (p.lostShare ?? 0))
                    } ?? ""))
        }
        if let p = r.policies.first {
            if let t = p.planTime {
                print(
                    String(
                        format:
                            "  plan time per tick: p99.9 %.2f ms; %d of %d ticks over the %.0f ms target (%d of them also in the thread's "
                            + "CPU time)",
                        t.p999, p.ticksOverTarget, t.count, PolicyReport.planTimeTargetMilliseconds, p.cpuTicksOverTarget))
            }
            if let c = p.planCPUTime {
                print(
                    String(
                        format:
                            "  planner CPU time per tick (the planning thread's own, as the OS counts it): p50 %.2f / p99 %.2f / p99.9 "
                            + "%.2f / max %.2f ms",
                        c.p50, c.p99, c.p999, c.max))
            }
            if let w = p.work {
                print("  " + w.line)
                if let warning = w.idleWarning { print("  " + warning) }
            }
            print(
                "  planner: \(p.cutShort) tick(s) cut short by the budget, \(p.skipped) with no planning work; route searches "
                    + "\(p.routeSearches), routes found \(p.routesFound); wall follows \(p.wallFollows), openings crossed "
                    + "\(p.openingsCrossed)"
            )
        }
    }

}

/// Runs `episodes` goal-reaching episodes of one policy with live progress; the planner's compute profile
/// is printed first.
func evaluate(_ policy: EvaluationPolicy, board: LoadedBoard, model: WorldModelFile, episodes: Int, seed: UInt64) throws -> PolicyReport {
    let run = try GoalReachingRun(board: board, seed: seed, model: model, policy: policy)
    if case .planner = policy, let profile = run.planner?.computeProfile { profile.lines.forEach { print($0) } }
    var done: [GoalEpisode] = []
    let started = Date()
    for e in 0..<episodes {
        done.append(run.runEpisode())
        if (e + 1) % 10 == 0 || e + 1 == episodes {
            let ok = done.filter(\.success).count
            print("\(eraseLine)\(policy.name): \(e + 1)/\(episodes) episodes, \(ok) successes", terminator: e + 1 == episodes ? "\n" : "\r")
        }
    }
    var report = PolicyReport(
        policy: policy.name, episodes: done, planner: run.planner, loop: run.loop.statistics.report,
        seconds: Date().timeIntervalSince(started))
    let collisions = done.compactMap { $0.rooms?.collisions }
    if !collisions.isEmpty { report.meanCollisions = Double(collisions.reduce(0, +)) / Double(collisions.count) }
    report.meanSecondsToGoal = report.meanStepsToGoal * board.profile.loop.period.inSeconds
    if let p = run.planner, p.memory != nil {
        report.subgoalShare = Double(p.subgoalTicks) / Double(max(1, p.memoryTicks))
        let e = run.localizationErrors.sorted()
        if !e.isEmpty {
            report.localizationError = [quantile(sorted: e, 0.5), quantile(sorted: e, 0.9), e.last!]
            report.lostShare = Double(e.filter { $0 > 1 }.count) / Double(e.count)
        }
    }
    return report
}

/// One policy's results on the evaluation episodes.
struct PolicyReport: Codable {
    var policy: String
    var successes: Int
    var successRate: Double
    /// Wilson score interval, 95 %.
    var interval95Low: Double
    var interval95High: Double
    var meanStepsToGoal: Double
    var medianStepsToGoal: Double
    /// The mean time to the goal of the successful episodes, s (steps × the loop's period).
    var meanSecondsToGoal: Double?
    /// Collisions per episode (rooms worlds: contacts with walls and boxes begun).
    var meanCollisions: Double?
    /// With a place memory: the share of localized ticks that went toward a memory node; how far the robot
    /// truly was from where its localized node was recorded (m), and the share of ticks over 1 m (lost).
    var subgoalShare: Double?
    /// Median, 90th percentile and largest, m.
    var localizationError: [Double]?
    var lostShare: Double?
    /// Wall-clock plan time per tick, ms (planner policies).
    var planTime: PercentileSummary?
    /// Plan-time ticks over `planTimeTargetMilliseconds` (issue 6's target), in wall-clock and in CPU time.
    var ticksOverTarget: Int
    var cpuTicksOverTarget: Int
    static let planTimeTargetMilliseconds = 5.0
    /// The planning thread's CPU time per tick, ms: the plan's own cost without preemption (a stall
    /// below the OS still counts; `cerebellum bench stalls`).
    var planCPUTime: PercentileSummary?
    var cutShort: Int
    var skipped: Int
    /// What the planner's hardware delivered at start, and what it actually ran per tick.
    var compute: PlannerComputeProfile?
    var work: PlannerWork?
    var routeSearches: Int
    var routesFound: Int
    /// Wall follows started (after a refused push) and openings they crossed.
    var wallFollows: Int
    var openingsCrossed: Int
    var loop: LoopReport
    var seconds: Double
    var episodes: [GoalEpisode]

    init(policy: String, episodes: [GoalEpisode], planner: LatentPlannerSource?, loop: LoopReport, seconds: Double) {
        self.policy = policy
        self.episodes = episodes
        successes = episodes.filter(\.success).count
        successRate = Double(successes) / Double(max(1, episodes.count))
        (interval95Low, interval95High) = wilsonInterval(successes: successes, trials: episodes.count)
        let steps = episodes.filter(\.success).map { Double($0.steps) }.sorted()
        meanStepsToGoal = steps.isEmpty ? .nan : steps.reduce(0, +) / Double(steps.count)
        medianStepsToGoal = quantile(sorted: steps, 0.5)
        planTime = planner?.planTime.summary
        planCPUTime = planner?.planCPUTime.summary
        ticksOverTarget = planner?.planTime.count(above: Int64(Self.planTimeTargetMilliseconds * 1e6)) ?? 0
        cpuTicksOverTarget = planner?.planCPUTime.count(above: Int64(Self.planTimeTargetMilliseconds * 1e6)) ?? 0
        cutShort = planner?.cutShort ?? 0
        skipped = planner?.skipped ?? 0
        compute = planner?.computeProfile
        work = planner?.workDone
        routeSearches = planner?.searches ?? 0
        routesFound = planner?.routesFound ?? 0
        wallFollows = planner?.wallFollower.follows ?? 0
        openingsCrossed = planner?.wallFollower.crossings ?? 0
        self.loop = loop
        self.seconds = seconds
    }
}

struct EvalReport: Codable {
    var scenario: String
    var seed: UInt64
    var model: String
    var episodesPerPolicy: Int
    var planner: PlannerConfig
    var policies: [PolicyReport]
}

import NeuralEngine
import Reports

/// The planner's cost landscape: for goals at a few places, the latent distance from every free
/// agent position to the goal's latent (fixed layout), as heat maps (dark = near).
func writeCostMaps(model: WorldModelFile, path: String) throws {
    let enc = try model.makeQuantizedEncoder()
    let layout = TwoRoomsLayout.fixed
    let goals = [Vec2(40, 12), Vec2(50, 50), Vec2(12, 30), Vec2(36, 40)]
    let s = TwoRoomsLayout.size
    var maps = HeatMapStrip(cellSize: 4)
    for g in goals {
        let world = TwoRoomsWorld(layout: layout, start: g, goal: g)
        let f = Frame(width: s, height: s)
        world.render(into: f, agent: g)
        enc.input.assignGray8(f.pixels)
        let zg = enc.forward().scalars
        var d = [Double](repeating: .nan, count: s * s)
        for y in 0..<s {
            for x in 0..<s {
                let p = Vec2(Double(x) + 0.5, Double(y) + 0.5)
                guard world.isFree(p) else { continue }
                world.render(into: f, agent: p)
                enc.input.assignGray8(f.pixels)
                let z = enc.forward()
                var acc = 0.0
                for j in 0..<zg.count { let e = Double(z[j] - zg[j]); acc += e * e }
                d[y * s + x] = acc.squareRoot()
            }
        }
        let panel = HeatMapStrip.Panel(values: d, width: s, height: s, marker: (g.x, g.y))
        maps.panels.append(panel)
        print("goal (\(g.x), \(g.y)): latent distance max \(String(format: "%.2f", panel.maximum))")
    }
    try maps.render().writePNG(path: path)
}

/// How well imagined routes hold in the true world: for each episode (the eval's layouts, starts and
/// goals), the route search runs to the end from the start frame's latent toward the goal frame's
/// latent; the route's macro actions are then replayed in the simulator. A route "works" when the
/// replay ends within the success radius, is "near" within 10 px; "blocked" counts legs whose true
/// motion was under half the commanded one (the model saw a passage where there is a wall).
func checkRoutes(model: WorldModelFile, config: PlannerConfig, variant: TwoRoomsVariant, episodes: Int, seed: UInt64, png: String?) throws {
    let enc = try model.makeQuantizedEncoder()
    let roadmap = try LatentRoadmap(model: model, config: config)
    var rng = SeededGenerator(seed: seed)
    let f = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
    func encode(_ world: TwoRoomsWorld, at p: Vec2) -> [Float] {
        world.render(into: f, agent: p)
        enc.input.assignGray8(f.pixels)
        return enc.forward().scalars
    }
    var found = 0, works = 0, near = 0, blockedRoutes = 0, legs = 0, nodes = 0
    var replays: [GoalEpisode] = []
    for e in 0..<episodes {
        let world0 = TwoRoomsWorld.episode(variant, rng: &rng)
        let z = encode(world0, at: world0.position), g = encode(world0, at: world0.goal)
        let ok = z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer {
                roadmap.search(
                    from: zb, goal: $0, mergeFactor: Float(config.roadmapMergeFactor),
                    goalFactor: Float(config.roadmapGoalFactor))
            }
        }
        nodes += roadmap.nodeCount
        var world = world0
        var path = [[world.position.x, world.position.y]]
        var blocked = 0
        if ok {
            found += 1
            legs += roadmap.routeLength
            for leg in 0..<roadmap.routeLength {
                let (ex, ey) = (roadmap.effort(roadmap.route[leg], 0), roadmap.effort(roadmap.route[leg], 1))
                let before = world.position
                for _ in 0..<roadmap.macroSteps {
                    world.step(Vec2(Double(ex), Double(ey)) * TwoRoomsWorld.maxStep)
                    path.append([world.position.x, world.position.y])
                }
                if (world.position - before).length < 0.5 * Double(roadmap.macroSteps) * TwoRoomsWorld.maxStep { blocked += 1 }
            }
            if world.reachedGoal { works += 1 }
            if world.distanceToGoal < 10 { near += 1 }
            if blocked > 0 { blockedRoutes += 1 }
        }
        replays.append(
            GoalEpisode(
                index: e, success: ok && world.reachedGoal, steps: ok ? roadmap.routeLength * roadmap.macroSteps : 0,
                finalDistance: world.distanceToGoal, wallX: world0.layout.wallX, doorY: world0.layout.doorY,
                start: [world0.position.x, world0.position.y], goal: [world0.goal.x, world0.goal.y], path: path))
    }
    let n = Double(episodes)
    print(
        "route check \(variant.rawValue), \(episodes) episodes, seed \(seed): \(config.roadmapDirections) directions × "
            + "\(config.roadmapMacroSteps) steps, up to \(config.roadmapMaxNodes) nodes, merge \(config.roadmapMergeFactor), goal "
            + "\(config.roadmapGoalFactor)"
    )
    print(
        String(
            format: "  found %d (%.1f %%), mean %.1f legs, mean %.0f nodes searched", found, 100 * Double(found) / n,
            Double(legs) / Double(max(1, found)), Double(nodes) / n))
    print(
        String(
            format:
                "  replayed in the true world: %d end within %.1f px of the goal (%.1f %% of all), %d within 10 px, %d with a blocked leg",
            works, TwoRoomsWorld.successRadius, 100 * Double(works) / n, near, blockedRoutes))
    if let png {
        try writeTrajectorySheet(
            Array(replays.prefix(48)),
            title: "route check \(variant.rawValue): imagined routes replayed in the true world "
                + "(\(works)/\(episodes) reach the goal; orange = not found or misses)", path: png)
        print("routes: \(png)")
    }
}

/// The episodes' paths as a contact sheet (PNG): walls, start, goal and success radius, the path; in the
/// rooms world the house from above (north up) with the start and goal headings, in metres.
func writeTrajectorySheet(
    _ episodes: [GoalEpisode], title: String, path: String, showOutcome: Bool = true, gymGoalRadius: Double? = nil
) throws {
    var sheet: TrajectorySheet
    var scale = 3.0, columns = 8
    var episodes = episodes
    if let radius = gymGoalRadius {
        // A Gymnasium world has no map here: each panel is a window of one size around its episode's start, goal
        // and path (x right, y up, in the environment's units).
        func points(_ e: GoalEpisode) -> [[Double]] { e.path + [e.start, e.goal] }
        let centres = episodes.map { e -> [Double] in
            let p = points(e)
            let xs = p.map { $0[0] }, ys = p.map { $0[1] }
            return [(xs.min()! + xs.max()!) / 2, (ys.min()! + ys.max()!) / 2]
        }
        var half = 2 * radius
        for (e, c) in zip(episodes, centres) {
            for q in points(e) { half = max(half, abs(q[0] - c[0]) + radius, abs(q[1] - c[1]) + radius) }
        }
        for k in episodes.indices {
            func moved(_ q: [Double]) -> [Double] { [q[0] - centres[k][0] + half, q[1] - centres[k][1] + half] }
            episodes[k].start = moved(episodes[k].start)
            episodes[k].goal = moved(episodes[k].goal)
            episodes[k].path = episodes[k].path.map(moved)
        }
        sheet = TrajectorySheet(title: title, worldWidth: 2 * half, worldHeight: 2 * half, goalRadius: radius, yUp: true)
        (scale, columns) = (150 / (2 * half), 8)
    } else if let layout = episodes.first?.rooms?.layout {
        sheet = TrajectorySheet(title: title, worldWidth: layout.width, worldHeight: layout.height, goalRadius: 0.3, yUp: true)
        (scale, columns) = (24, 6)
    } else {
        sheet = TrajectorySheet(title: title, worldSize: Double(TwoRoomsLayout.size), goalRadius: TwoRoomsWorld.successRadius)
    }
    for e in episodes {
        let walls =
            gymGoalRadius != nil
            ? []
            : e.rooms?.layout?.wallRects.map { ($0.minX, $0.minY, $0.maxX, $0.maxY) }
                ?? TwoRoomsLayout(wallX: e.wallX, doorY: e.doorY).walls.map { ($0.minX, $0.minY, $0.maxX, $0.maxY) }
        var label = "#\(e.index) " + (e.success || !showOutcome ? "\(e.steps) st" : "FAIL")
        if let c = e.rooms?.collisions, c > 0 { label += " \(c)c" }
        sheet.panels.append(
            .init(
                walls: walls, start: (e.start[0], e.start[1]), goal: (e.goal[0], e.goal[1]),
                path: e.path.map { ($0[0], $0[1]) }, success: e.success || !showOutcome,
                label: label, startHeading: e.rooms?.startHeading, goalHeading: e.rooms?.goalHeading))
    }
    let dir = (path as NSString).deletingLastPathComponent
    if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    try sheet.render(columns: min(columns, max(1, episodes.count)), scale: scale).writePNG(path: path)
}
