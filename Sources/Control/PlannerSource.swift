import Configuration
import LinuxHardware
import NeuralEngine
import Planning
import RobotCore
import Safety
import WorldModel

extension BoardProfile {
    /// The governor channel of each of `model`'s actions on this board; a model trained on other actions than
    /// the board plans with (`plannedActuators`) is refused with both lists.
    public func channels(for model: WorldModelFile) throws -> [Int] {
        try plannedChannels(model: model, planned: plannedActuators, boardActuators: actuators.map(\.name))
    }

    /// Why `model` cannot run on this board (the camera's frames, the planned actions, and with `planning` the
    /// efforts the planner may ask for); nil when it can.
    public func problem(running model: WorldModelFile, planning: Bool) -> String? {
        if let why = model.frameMismatch(width: camera.width, height: camera.height) { return why }
        do {
            _ = try channels(for: model)
            if planning { _ = try ActionBox(model: model, config: planner ?? PlannerConfig()) }
        } catch { return "\(error)" }
        return nil
    }
}

/// Autonomy by latent model-predictive control: each tick encodes the frame (int8), shifts the
/// previous plan one step (warm start), improves it within the wall-clock budget, and proposes the
/// plan's first action. The goal is an image, given as its latent; the goal's position is never known.
/// Allocation-free in the tick.
///
/// With `fixedWork` the budget is not used: every tick does the whole configured work (every sample,
/// step and iteration, a route search to its end) on the portable kernels, whatever it costs, so the same
/// frames give bit-identical commands on any CPU — what `run --fixed-work` records and `replay` checks.
public final class LatentPlannerSource: CommandSource, GoalDirected {
    public let origin = CommandOrigin.autonomy
    public let observer: LatentObserver
    public let planner: LatentPlanner
    public let governor: SafetyGovernor
    /// Measures plan time (a real clock, also when the loop runs on a manual one).
    public let timer: RobotClock
    /// Named goal images' latents, for the console's `goal NAME`.
    public var goalLibrary: [String: [Float]] = [:]
    public private(set) var goalName: String?
    /// The latent planned toward (zeros before the first goal).
    public private(set) var goalLatent: [Float]
    public private(set) var hasGoal = false
    /// Counts goal changes (a new goal, or the same one set again), for a recorder that logs them.
    public private(set) var goalChanges = 0
    /// Whole configured work every tick, no budget, portable kernels (see the type's comment).
    public let fixedWork: Bool
    /// Wall-clock time spent planning per tick.
    public private(set) var planTime = LatencyHistogram()
    /// The planning thread's CPU time per tick: the plan's own cost. Where the wall-clock time is
    /// much longer, the OS ran something else meanwhile (preemption, a VM's steal time).
    public private(set) var planCPUTime = LatencyHistogram()
    /// Ticks whose plan was cut short by the budget (less than the configured work: fewer samples, a
    /// shorter horizon or fewer iterations), and ticks with no planning work at all (the previous
    /// plan, shifted, was used).
    public private(set) var cutShort = 0
    public var skipped: Int { planningTicks - freshTicks }
    /// Ticks that planned (had a goal and a latent), and of them those that improved the plan.
    public private(set) var planningTicks = 0
    public private(set) var freshTicks = 0
    /// Ticks in a row without a fresh plan now, and the longest such run.
    public private(set) var staleRun = 0
    public private(set) var longestStaleRun = 0
    /// The work actually done, summed over ticks: plan updates, samples rolled out, horizon steps of the
    /// updates (for the mean horizon), predictor rows.
    public private(set) var updates = 0
    public private(set) var samplesRolled = 0
    public private(set) var horizonSteps = 0
    public private(set) var rowsComputed = 0
    /// This many ticks in a row without a fresh plan is "planner starved" (`planner.max_stale_ticks`; 0: never).
    public let maxStaleTicks: Int
    /// What the planner's hardware delivered at start (measured in `init`).
    public private(set) var computeProfile: PlannerComputeProfile!
    private var planned = false
    /// Imagined breadth-first search for routes around walls (nil: MPC alone, `roadmap_every: 0`).
    public let roadmap: LatentRoadmap?
    private var ticksSinceSearch = Int.max / 2
    public private(set) var searches = 0
    public private(set) var routesFound = 0
    private var routePlan: [Float] = []
    /// Moves the world refused this episode (the agent pushed and stayed put while the model
    /// forecast motion), shared by the MPPI rollouts and the route search; cleared per episode and goal.
    /// Holonomic motion only (nil otherwise), like the wall follower.
    public let blockedMoves: BlockedMoves?
    /// Sweeps along a wall the model does not know after the world refused a push into it
    /// (`wall_follow_steps`; its counts run over the source's life, like `searches`).
    public private(set) var wallFollower: WallFollower

    public var isSurprised: Bool { observer.isSurprised }
    /// No fresh plan for `maxStaleTicks` ticks in a row: the robot is running on an old plan.
    public var isStarved: Bool { maxStaleTicks > 0 && staleRun >= maxStaleTicks }
    public var isModelOutputInvalid: Bool { observer.outputInvalid }

    /// The place memory of `planner.memory` (nil: one-level MPC toward the goal). With one, each tick localizes
    /// the latent among the memory's nodes and plans toward the node `memoryLookahead` steps along the route.
    public let memory: PlaceMemory?
    /// The node the last tick was localized at, and the one it planned toward (-1: none).
    public private(set) var memoryNode = -1, subgoalNode = -1
    /// Ticks localized in the memory, those of them that went toward a memory node rather than the goal, and
    /// node changes seen.
    public private(set) var memoryTicks = 0, subgoalTicks = 0, nodeChanges = 0
    private var subgoalLatent: [Float]
    /// The last latents (a ring of `sequenceLength` node spacings) and the history handed to the memory.
    private var recentLatents: [Float], sequence: [Float]
    private var historyHead = 0, historyCount = 0
    /// Ticks since the localized node changed (replay: which of its recorded efforts applies).
    private var ticksAtNode = 0
    /// Latents in a localizing history.
    static let sequenceLength = 3

    /// `channels`: the governor channel of each of the model's actions (`plannedChannels`).
    public init(
        model: WorldModelFile, channels: [Int], config: PlannerConfig, governor: SafetyGovernor, timer: RobotClock, seed: UInt64 = 1,
        surpriseThresholdFactor: Double? = nil, fixedWork: Bool = false
    ) throws {
        try requireChannels(channels, of: governor)
        memory = try config.memory.map { try PlaceMemory.load(path: $0, model: model, placeFactor: Float(config.memoryPlaceFactor)).0 }
        subgoalLatent = [Float](repeating: 0, count: model.latentSize)
        let ring = ((memory?.spacing ?? 1) * (Self.sequenceLength - 1) + 1) * model.latentSize
        recentLatents = [Float](repeating: 0, count: ring)
        sequence = [Float](repeating: 0, count: Self.sequenceLength * model.latentSize)
        self.fixedWork = fixedWork
        let kernel: DenseKernel? = fixedWork ? .portable : nil
        observer = try LatentObserver(
            model: model, channels: channels, timer: timer, thresholdFactor: surpriseThresholdFactor, kernel: kernel)
        planner = try LatentPlanner(model: model, config: config, seed: seed, kernel: kernel)
        let holonomic = planner.box.holonomic
        roadmap =
            config.roadmapEvery > 0 && config.horizon > 1
            ? try LatentRoadmap(model: model, config: config, kernel: kernel)
            : nil
        self.governor = governor
        self.timer = timer
        blockedMoves =
            holonomic && config.blockedMoves > 0 ? BlockedMoves(latentSize: model.latentSize, capacity: config.blockedMoves) : nil
        planner.blockedMoves = blockedMoves
        wallFollower = WallFollower(maxSteps: holonomic ? config.wallFollowSteps : 0)
        roadmap?.blockedMoves = blockedMoves
        goalLatent = [Float](repeating: 0, count: model.latentSize)
        routePlan = [Float](repeating: 0, count: config.horizon * planner.actionSize)
        maxStaleTicks = config.maxStaleTicks
        warmUp()
        if !fixedWork { planner.size(budgetNanoseconds: config.budgetMilliseconds * 1e6) }
        computeProfile = PlannerComputeProfile(planner: planner, roadmap: roadmap)
    }

    /// Plans and route searches on made-up latents before the loop starts. The first round pays for
    /// page faults and first-use setup, never a tick, and is not timed, so that cost never enters the
    /// estimates; the next rounds, timed on `timer`, give the budget its first estimates of a predictor
    /// row's and a search child's cost, so even the first tick's work is guarded by the deadline.
    private func warmUp() {
        let z = [Float](repeating: 0, count: goalLatent.count), g = [Float](repeating: 1, count: goalLatent.count)
        z.withUnsafeBufferPointer { zb in
            g.withUnsafeBufferPointer { gb in
                for round in 0..<4 {
                    let clock: RobotClock? = round == 0 ? nil : timer
                    let far = timer.now() + .seconds(10)
                    planner.plan(from: zb, goal: gb, clock: clock, deadline: far)
                    roadmap?.begin(from: zb, goal: gb, mergeFactor: 0.8, goalFactor: 0.8)
                    roadmap?.advance(clock: clock, deadline: far)
                }
            }
        }
        planner.reset()
    }

    /// Latent distance from the last frame's latent to the goal's (nil: no goal or no latent yet).
    public var goalDistance: Double? {
        guard hasGoal, observer.hasLatent else { return nil }
        return observer.latent.withUnsafeBufferPointer { z in
            goalLatent.withUnsafeBufferPointer { g in
                Double(squaredLatentDistance(z.baseAddress!, g.baseAddress!, count: g.count).squareRoot())
            }
        }
    }

    /// The latent distance to the goal that the plan's own rollout forecasts after each step, written into `out`
    /// (at most its count); returns the steps written (0 without a goal). Allocation-free.
    public func forecastGoalDistances(into out: UnsafeMutableBufferPointer<Float>) -> Int {
        guard hasGoal else { return 0 }
        let d = goalLatent.count
        return planner.predicted.withUnsafeBufferPointer { p in
            goalLatent.withUnsafeBufferPointer { g in
                let steps = min(out.count, p.count / d)
                for step in 0..<steps {
                    out[step] = squaredLatentDistance(p.baseAddress! + step * d, g.baseAddress!, count: d).squareRoot()
                }
                return steps
            }
        }
    }

    /// Plans toward this latent from the next tick on (a new plan).
    public func setGoal(latent: [Float], name: String? = nil) {
        precondition(latent.count == goalLatent.count, "goal latent has \(latent.count) values, the model \(goalLatent.count)")
        goalLatent = latent
        goalName = name
        hasGoal = true
        goalChanges += 1
        goalLatent.withUnsafeBufferPointer { memory?.setGoal($0) }
        (memoryNode, subgoalNode) = (-1, -1)
        planner.reset()
        planned = false
        ticksSinceSearch = Int.max / 2
        blockedMoves?.clear()
        wallFollower.stop()
    }

    /// Plans toward the latent of this gray image (64×64, the camera's frame).
    public func setGoal(image pixels: [UInt8], name: String? = nil) {
        setGoal(latent: observer.encode(pixels), name: name)
    }

    /// Starts a route search every `roadmapEvery` ticks (or at once after a refused push) unless one is under way.
    private func beginSearchIfDue(_ roadmap: LatentRoadmap) {
        ticksSinceSearch += 1
        guard roadmap.status != .searching && ticksSinceSearch >= planner.config.roadmapEvery else { return }
        ticksSinceSearch = 0
        searches += 1
        observer.latent.withUnsafeBufferPointer { z in
            goalLatent.withUnsafeBufferPointer { g in
                roadmap.begin(
                    from: z, goal: g, mergeFactor: Float(planner.config.roadmapMergeFactor),
                    goalFactor: Float(planner.config.roadmapGoalFactor))
            }
        }
    }

    /// The sampling planner's share of a tick in which a route search runs: its configured work, or half the
    /// budget when that is more, and never less than its smallest unit. The search gets the rest, after
    /// the planner, so the time the planner's chunks leave unused goes to the search's finer batches.
    private func plannerShare(of budget: Duration) -> Duration {
        let half = Double(budget.nanoseconds) / 2
        return .nanoseconds(Int64(max(planner.smallestUnitEstimate, min(planner.fullWorkEstimate, half))))
    }

    /// Continues the route search until `deadline`; a route found seeds the plan with its actions.
    private func continueSearch(_ roadmap: LatentRoadmap, deadline: Instant) {
        let status = fixedWork ? roadmap.advance() : roadmap.advance(clock: timer, deadline: deadline)
        guard status == .found else { return }
        routesFound += 1
        let h = planner.config.horizon, a = planner.actionSize
        var t = 0
        for leg in 0..<roadmap.routeLength {
            let m = roadmap.route[leg]
            for _ in 0..<roadmap.macroSteps where t < h {
                for j in 0..<a { routePlan[t * a + j] = roadmap.effort(m, j) }
                t += 1
            }
        }
        while t < h {
            for j in 0..<a { routePlan[t * a + j] = planner.box.clamp(0, j) }
            t += 1
        }
        routePlan.withUnsafeBufferPointer { planner.seed(plan: $0) }
    }

    public func selectGoal(named name: String) -> (accepted: Bool, reason: String) {
        guard let z = goalLibrary[name] else {
            let known = goalLibrary.keys.sorted()
            return (
                false,
                known.isEmpty
                    ? "no goals loaded (cerebellum goal capture NAME saves one)"
                    : "no goal \"\(name)\" (known: \(known.joined(separator: ", ")))"
            )
        }
        setGoal(latent: z, name: name)
        return (true, "planning toward \(name)")
    }

    /// A new episode: forget the last latent and the plan (the goal stays).
    public func reset() {
        resume()
        blockedMoves?.clear()
    }

    /// Control comes back after an operator drove: the last latent, the plan and any wall follow
    /// belong to a world the operator has since moved (the refused moves stay: walls do not move).
    public func resume() {
        (memoryNode, subgoalNode) = (-1, -1)
        (historyHead, historyCount) = (0, 0)
        observer.reset()
        planner.reset()
        planned = false
        staleRun = 0
        ticksSinceSearch = Int.max / 2
        wallFollower.stop()
    }

    /// A step counts as refused when the applied effort was at least this (norm) and the latent moved
    /// less than `BlockedMoves.refusedRatio` of the forecast; it blocks steps within `blockedRadius` forecast moves.
    static let refusedEffort = 0.5, blockedRadius: Float = 2

    /// Remembers the last step when the world refused it, and searches for a new route at once (holonomic
    /// motion: a refused move is a heading). Returns the refused effort (nil: the step was not refused).
    private func noteRefusedMove() -> (x: Float, y: Float)? {
        guard planner.box.holonomic, observer.hasStep, observer.predictedMove > 0 else { return nil }
        let applied = governor.lastOutput.efforts, channels = observer.channels
        let ax = applied[channels[0]], ay = applied[channels[1]]
        guard (ax * ax + ay * ay).squareRoot() >= Self.refusedEffort,
            observer.observedMove < BlockedMoves.refusedRatio * observer.predictedMove
        else { return nil }
        if let blockedMoves {
            observer.previousLatent.withUnsafeBufferPointer {
                blockedMoves.record(latent: $0, effort: Float(ax), Float(ay), radius: Self.blockedRadius * observer.predictedMove)
            }
        }
        if roadmap?.status != .searching { ticksSinceSearch = Int.max / 2 }
        return (Float(ax), Float(ay))
    }

    /// The wall follower's effort for this tick, if it has control: it continues a follow, or starts
    /// one when the planner's push was just refused (`hint`: where the plan was heading).
    private func followWall(refused: (x: Float, y: Float)?, hint: (x: Float, y: Float)) -> (x: Float, y: Float)? {
        if wallFollower.isActive {
            // Without a scored step there is nothing to judge the last effort by: the planner takes over.
            guard observer.hasStep else { wallFollower.stop(); return nil }
            return wallFollower.next(observed: observer.observedMove, forecast: observer.predictedMove)
        }
        guard let refused else { return nil }
        return wallFollower.begin(refused: refused.x, refused.y, hint: hint)
    }

    /// With a memory: localizes the latent among its nodes; while the route's cost left is above
    /// `memoryFinalSteps`, the node `memoryLookahead` steps along it becomes this tick's target, and
    /// arriving at a new node seeds the plan with the efforts recorded along the route. Returns true when
    /// the target is a node (false: plan toward the goal itself).
    private func followMemory() -> Bool {
        guard let memory, memory.goalNode >= 0 else { return false }
        let config = planner.config
        // The camera's latent history, a node's spacing apart: now, `spacing` ticks ago, twice that.
        let d = observer.latentSize, spacing = memory.spacing, slots = recentLatents.count / d
        for j in 0..<d { recentLatents[historyHead * d + j] = observer.latent[j] }
        historyCount = min(historyCount + 1, slots)
        let depth = min(Self.sequenceLength, 1 + (historyCount - 1) / spacing)
        for h in 0..<depth {
            let slot = (historyHead - h * spacing + slots) % slots
            for j in 0..<d { sequence[h * d + j] = recentLatents[slot * d + j] }
        }
        historyHead = (historyHead + 1) % slots
        let node = sequence.withUnsafeBufferPointer { memory.localize(sequence: $0, count: depth).node }
        memoryTicks += 1
        let left = memory.toGoal[node]
        guard left.isFinite, left > Float(config.memoryFinalSteps) else {
            memoryNode = node
            subgoalNode = -1
            return false
        }
        let target = memory.subgoal(from: node, steps: config.memoryLookahead)
        memory.withLatent(of: target) { z in for j in 0..<z.count { subgoalLatent[j] = z[j] } }
        if node != memoryNode {
            nodeChanges += 1
            ticksAtNode = 0
            let h = config.horizon, a = planner.actionSize
            let written = routePlan.withUnsafeMutableBufferPointer { memory.routeEfforts(from: node, into: $0, count: h) }
            if written > 0 {
                for t in written..<h { for j in 0..<a { routePlan[t * a + j] = routePlan[(written - 1) * a + j] } }
                for t in 0..<h { for j in 0..<a { routePlan[t * a + j] = planner.box.clamp(routePlan[t * a + j], j) } }
                routePlan.withUnsafeBufferPointer { planner.seed(plan: $0) }
            }
        }
        memoryNode = node
        subgoalNode = target
        subgoalTicks += 1
        return true
    }

    /// Books one tick's planning work.
    private func count(_ step: PlanStep) {
        planningTicks += 1
        if step.iterations < planner.config.iterations { cutShort += 1 }
        if step.isFresh {
            freshTicks += 1
            staleRun = 0
        } else {
            staleRun += 1
            longestStaleRun = max(longestStaleRun, staleRun)
        }
        updates += step.updates
        samplesRolled += step.samples
        horizonSteps += step.isFresh ? step.horizon : 0
        rowsComputed += step.rows
    }

    /// What the planner actually ran per planning tick, on average.
    public var workDone: PlannerWork {
        let ticks = Double(max(1, planningTicks))
        return PlannerWork(
            ticks: planningTicks, freshTicks: freshTicks, longestStaleRun: longestStaleRun,
            samplesPerTick: Double(samplesRolled) / ticks,
            horizonPerUpdate: freshTicks == 0 ? 0 : Double(horizonSteps) / Double(freshTicks),
            updatesPerTick: Double(updates) / ticks, rowsPerTick: Double(rowsComputed) / ticks,
            searchExpansionsPerTick: Double(roadmap?.expanded ?? 0) / ticks,
            configured: "\(planner.config.samples) × \(planner.config.horizon) × \(planner.config.iterations)")
    }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        observer.observe(frame, applied: governor.lastOutput.efforts)
        command.issuedAt = now
        command.origin = origin
        for i in 0..<command.efforts.count { command.efforts[i] = 0 }
        guard hasGoal, observer.hasLatent else { return true }
        let refused = noteRefusedMove()
        let follow = followWall(refused: refused, hint: planner.firstHeading)
        let t0 = timer.now(), cpu0 = ThreadCPUTime.now()
        if planned { planner.shift() }
        let budget = Duration.seconds(double: planner.config.budgetMilliseconds / 1000)
        if let roadmap { beginSearchIfDue(roadmap) }
        let searching = roadmap?.status == .searching
        let planDeadline = t0 + (searching ? plannerShare(of: budget) : budget)
        let towardNode = followMemory()
        if towardNode && planner.config.memoryFollow == .replay, let memory {
            // Teach and repeat: the effort the drive applied this many ticks after the node.
            let a = planner.actionSize, offset = min(ticksAtNode, memory.spacing - 1)
            let k = memory.driveNode(from: memoryNode), channels = observer.channels
            for j in 0..<channels.count {
                command.efforts[channels[j]] = Double(planner.box.clamp(memory.actions[(k * memory.spacing + offset) * a + j], j))
            }
            ticksAtNode += 1
            planTime.record(timer.now() - t0)
            planCPUTime.record(ThreadCPUTime.now() - cpu0)
            return true
        }
        let step = observer.latent.withUnsafeBufferPointer { z in
            (towardNode ? subgoalLatent : goalLatent).withUnsafeBufferPointer { g in
                fixedWork ? planner.plan(from: z, goal: g) : planner.plan(from: z, goal: g, clock: timer, deadline: planDeadline)
            }
        }
        if searching, let roadmap { continueSearch(roadmap, deadline: t0 + budget) }
        planTime.record(timer.now() - t0)
        planCPUTime.record(ThreadCPUTime.now() - cpu0)
        count(step)
        planned = true
        let channels = observer.channels
        for j in 0..<channels.count { command.efforts[channels[j]] = Double(planner.firstAction(j)) }
        if let follow {
            let bound = Float(planner.config.maxEffort)
            command.efforts[channels[0]] = Double(follow.x * bound)
            command.efforts[channels[1]] = Double(follow.y * bound)
        }
        return true
    }
}
