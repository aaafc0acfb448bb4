import NeuralEngine
import Safety

/// Which sampling-based optimizer the latent planner uses.
public enum PlannerMethod: String, Sendable, CaseIterable, Codable {
    /// Model-predictive path integral: exponentially cost-weighted mean of all samples.
    case mppi
    /// Cross-entropy method: mean and deviation of the cheapest samples (elites).
    case cem
}

/// How the robot's planned actions move it, for the parts of the planner that only make sense for one kind.
public enum PlannerMotion: String, Sendable, CaseIterable, Codable {
    /// Nothing assumed about what the actions do: samples are clipped to each action's span, the primitives are
    /// two constant legs drawn in the action box, the route search's macro actions are the box's corners and axes.
    case generic
    /// The first two actions are a planar velocity (x, y) of a robot that can move in any direction (the two-rooms
    /// dot): samples are clipped to the effort norm, primitives and macro actions are headings, and a push the
    /// world refused is remembered (`blocked_moves`) and followed along the wall (`wall_follow_steps`).
    case holonomic
}

/// How the planner follows its place memory's route (`planner.memory_follow`).
public enum MemoryFollow: String, Sendable, Codable, CaseIterable {
    case mpc, replay
}

/// The latent planner's settings (board profile `planner:`). Efforts are normalized to [-1, 1].
public struct PlannerConfig: Sendable, Equatable, Codable {
    /// The board's actuators the planner drives, in the world model's action order (nil: every actuator, in
    /// the board's order). A model trained on other actions is refused at start.
    public var actuators: [String]?
    /// What the actions do (see `PlannerMotion`).
    public var motion = PlannerMotion.generic
    public var method: PlannerMethod = .mppi
    /// Steps rolled out per sample (one step = one control tick).
    public var horizon = 48
    /// Action sequences per iteration (the batch of every predictor pass).
    public var samples = 32
    /// Optimizer iterations per tick (warm-started from the previous tick's plan).
    public var iterations = 1
    /// MPPI temperature λ on costs normalized to [0, 1]: smaller is greedier.
    public var temperature = 0.1
    /// CEM: samples kept as elites per iteration.
    public var elites = 6
    /// CEM: weight of the previous mean and deviation in each update (0…1).
    public var smoothing = 0.2
    /// Standard deviation of the sampled effort perturbations.
    public var noise = 0.6
    /// CEM: the deviation never shrinks below this.
    public var minNoise = 0.05
    /// Steps between the knots of the sampled perturbations (linear in between): smooth samples.
    public var knotSpacing = 4
    /// Share of the samples that are two-leg primitives (full effort one way, then another from a
    /// random step on): they find detours (around a wall, through a door) that noise around the
    /// plan would not.
    public var primitiveFraction = 0.25
    /// Weight of the latent distance to the goal at the end of the horizon.
    public var terminalWeight = 1.0
    /// Weight of the latent distance to the goal averaged along the horizon.
    public var runningWeight = 1.0
    /// Weight of the squared effort per step.
    public var actionWeight = 0.0
    /// Weight of the squared effort change per step.
    public var smoothnessWeight = 0.0
    /// Largest effort the planner asks for: the norm of (x, y) for `holonomic` motion, each action's magnitude
    /// otherwise (the board's channel limits are applied by the governor too).
    public var maxEffort = 1.0
    /// The number format of the rollouts (`DensePrecision`): `auto` (int8 where the CPU has an 8-bit
    /// dot-product instruction, fp32 elsewhere), `fp32` or `int8`.
    public var predictor = DensePrecision.auto
    /// Wall-clock budget of one tick's planning, ms: an iteration that would start after it is skipped
    /// and the previous plan, shifted, is used.
    public var budgetMilliseconds = 5.0
    /// Ticks between imagined route searches (breadth-first over macro actions through the
    /// predictor, for detours the sampling planner cannot see); 0 turns the search off.
    public var roadmapEvery = 10
    /// Route search: directions of the macro actions, and steps each is held.
    public var roadmapDirections = 16
    public var roadmapMacroSteps = 3
    /// Route search: most nodes (latents) kept per search.
    public var roadmapMaxNodes = 768
    /// Route search: merge and goal radii, as multiples of the latent distance of one macro step.
    public var roadmapMergeFactor = 0.8
    public var roadmapGoalFactor = 0.8
    /// Refused moves remembered per episode (pushes that did not move the agent although the model
    /// forecast motion; the rollouts hold such steps still); 0 turns the memory off.
    public var blockedMoves = 64
    /// Wall following (`WallFollower`): after a refused push, sweep along the wall probing for its
    /// opening for at most this many steps before the planner takes over again; 0 turns it off.
    public var wallFollowSteps = 0
    /// The place memory (`PlaceMemory`, `cerebellum memory build`): its file, resolved against the board
    /// file's folder (nil: no memory, MPC alone toward the goal).
    public var memory: String?
    /// With a memory: plan toward the node this many world steps along the route …
    public var memoryLookahead = 12
    /// … until the route's cost left is at most this many steps; then toward the goal latent itself.
    public var memoryFinalSteps = 12
    /// Nodes of different drives closer than this many median node steps are the same place.
    public var memoryPlaceFactor = 0.5
    /// How the planner goes from node to node: `mpc` plans toward the node ahead (seeded with the efforts
    /// recorded along the route); `replay` applies the recorded efforts of the node it localized at (visual
    /// teach and repeat), the MPC planning only the last `memoryFinalSteps` toward the goal image.
    public var memoryFollow = MemoryFollow.mpc
    /// This many ticks in a row without a fresh plan (no planning work fitted the budget) is "planner
    /// starved", reported to the governor (`starvedAction`); 0 never reports it.
    public var maxStaleTicks = 5
    /// What the governor does while the planner is starved: stop (latch a fault), slow, or report.
    public var starvedAction = SurpriseAction.stop

    public init() {}

    /// Every setting's problem, as "field: reason" (empty when the config is usable).
    public func problems() -> [String] {
        var p: [String] = []
        if let actuators {
            if actuators.isEmpty || Set(actuators).count != actuators.count {
                p.append("actuators: \(actuators) must name one or more distinct actuators")
            }
            if motion == .holonomic && actuators.count < 2 {
                p.append("actuators: holonomic motion plans a planar velocity, which needs two actuators (x, y) first")
            }
        }
        if !(1...512).contains(horizon) { p.append("horizon: \(horizon) is outside 1…512 steps") }
        if !(2...4096).contains(samples) { p.append("samples: \(samples) is outside 2…4096") }
        if !(1...100).contains(iterations) { p.append("iterations: \(iterations) is outside 1…100") }
        if !(temperature > 0 && temperature <= 100) { p.append("temperature: \(temperature) must be in (0, 100]") }
        if !(1...samples).contains(elites) { p.append("elites: \(elites) is outside 1…samples (\(samples))") }
        if !(0...0.99).contains(smoothing) { p.append("smoothing: \(smoothing) is outside 0…0.99") }
        if !(noise > 0 && noise <= 4) { p.append("noise: \(noise) must be in (0, 4]") }
        if !(minNoise >= 0 && minNoise <= noise) { p.append("min_noise: \(minNoise) must be in [0, noise]") }
        if !(0...0.9).contains(primitiveFraction) { p.append("primitive_fraction: \(primitiveFraction) is outside 0…0.9") }
        if !(1...64).contains(knotSpacing) { p.append("knot_spacing: \(knotSpacing) is outside 1…64 steps") }
        for (name, w) in [
            ("terminal_weight", terminalWeight), ("running_weight", runningWeight),
            ("action_weight", actionWeight), ("smoothness_weight", smoothnessWeight),
        ] where !(w >= 0 && w.isFinite) {
            p.append("\(name): \(w) must be ≥ 0")
        }
        if terminalWeight + runningWeight <= 0 { p.append("terminal_weight + running_weight must be > 0 (nothing pulls toward the goal)") }
        if !(maxEffort > 0 && maxEffort <= 1) { p.append("max_effort: \(maxEffort) must be in (0, 1]") }
        if !(0...10_000).contains(roadmapEvery) { p.append("roadmap_every: \(roadmapEvery) is outside 0…10000 ticks") }
        if !(4...64).contains(roadmapDirections) { p.append("roadmap_directions: \(roadmapDirections) is outside 4…64") }
        if !(1...16).contains(roadmapMacroSteps) { p.append("roadmap_macro_steps: \(roadmapMacroSteps) is outside 1…16") }
        if !(16...100_000).contains(roadmapMaxNodes) { p.append("roadmap_max_nodes: \(roadmapMaxNodes) is outside 16…100000") }
        if !(roadmapMergeFactor > 0 && roadmapMergeFactor <= 4) {
            p.append("roadmap_merge_factor: \(roadmapMergeFactor) must be in (0, 4]")
        }
        if !(0...4096).contains(blockedMoves) { p.append("blocked_moves: \(blockedMoves) is outside 0…4096") }
        if !(0...10_000).contains(maxStaleTicks) { p.append("max_stale_ticks: \(maxStaleTicks) is outside 0…10000 ticks") }
        if !(1...10_000).contains(memoryLookahead) { p.append("memory_lookahead: \(memoryLookahead) is outside 1…10000 steps") }
        if !(0...10_000).contains(memoryFinalSteps) { p.append("memory_final_steps: \(memoryFinalSteps) is outside 0…10000 steps") }
        if !(0.01...8).contains(memoryPlaceFactor) { p.append("memory_place_factor: \(memoryPlaceFactor) is outside 0.01…8") }
        if !(0...10_000).contains(wallFollowSteps) { p.append("wall_follow_steps: \(wallFollowSteps) is outside 0…10000") }
        if !(roadmapGoalFactor > 0 && roadmapGoalFactor <= 4) { p.append("roadmap_goal_factor: \(roadmapGoalFactor) must be in (0, 4]") }
        if !(budgetMilliseconds > 0 && budgetMilliseconds <= 10_000) { p.append("budget_ms: \(budgetMilliseconds) must be in (0, 10000]") }
        return p
    }
}

/// A planner configuration that cannot be used.
public struct InvalidPlannerConfig: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "planner: " + problems.joined(separator: "; ") }
}

extension PlannerConfig {
    public func validate() throws(InvalidPlannerConfig) {
        let p = problems()
        if !p.isEmpty { throw InvalidPlannerConfig(problems: p) }
    }
}
