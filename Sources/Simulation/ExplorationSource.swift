import Glibc
import RobotCore

/// Smooth random actions for exploration: per axis a first-order autoregressive process
/// v ← ρ·v + σ·N(0, 1), clipped to norm 1 (full speed). With ρ = 0.8 the direction persists for
/// about five steps, so the agent wanders across rooms and through doors instead of jittering in place.
///
/// Optional held pushes: each step, with probability `pushProbability`, the agent starts holding one
/// direction (half of them within 20° of horizontal, the rest uniform) at full effort for `pushSteps` steps,
/// long enough to cross a room and lean on a wall for a while. A random walk rarely presses against a wall,
/// so without them a world model sees few refused moves and forecasts motion into walls it has never been
/// stopped by.
public struct SmoothRandomActions: Sendable {
    /// Per-step persistence ρ in [0, 1).
    public var persistence: Double
    /// Innovation σ per step.
    public var scale: Double
    /// Chance per step of starting a held push (0: none; then the stream is the plain process).
    public var pushProbability: Double
    /// Length of a held push, steps (uniform in the range).
    public var pushSteps: ClosedRange<Int>
    /// Share of pushes within 20° of horizontal (across the rooms, at the middle wall); the rest uniform.
    public var horizontalPushShare = 0.5
    public private(set) var current: Vec2 = .zero
    private var pushLeft = 0
    private var rng: SeededGenerator

    public init(
        seed: UInt64, persistence: Double = 0.8, scale: Double = 0.6,
        pushProbability: Double = 0, pushSteps: ClosedRange<Int> = 6...20
    ) {
        self.persistence = persistence
        self.scale = scale
        self.pushProbability = pushProbability
        self.pushSteps = pushSteps
        rng = SeededGenerator(seed: seed)
    }

    /// The next action, norm ≤ 1.
    public mutating func next() -> Vec2 {
        if pushLeft > 0 {
            pushLeft -= 1
            return current
        }
        if pushProbability > 0 && rng.uniform(0, 1) < pushProbability {
            // Half the pushes run across the rooms (within 20° of horizontal), at the middle wall and its door.
            let angle =
                rng.uniform(0, 1) < horizontalPushShare
                ? (rng.uniform(0, 1) < 0.5 ? 0 : Double.pi) + rng.uniform(-0.35, 0.35)
                : rng.uniform(0, 2 * Double.pi)
            current = Vec2(cos(angle), sin(angle))
            pushLeft = Int(rng.uniform(Double(pushSteps.lowerBound), Double(pushSteps.upperBound) + 1)) - 1
            return current
        }
        current = current * persistence + Vec2(rng.normal(), rng.normal()) * scale
        let n = current.length
        if n > 1 { current /= n }
        return current
    }

    public mutating func reset() {
        current = .zero
        pushLeft = 0
    }
}

/// A command source that explores: smooth random efforts on the first two channels (the
/// two-rooms robot's vx, vy; on a real robot, whatever the first two actuators are). Used by
/// `cerebellum record` to collect training data through the normal loop and governor.
public final class ExplorationSource: CommandSource {
    public let origin = CommandOrigin.script
    public var actions: SmoothRandomActions

    public init(seed: UInt64) { actions = SmoothRandomActions(seed: seed) }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        command.issuedAt = now
        command.origin = origin
        for i in 0..<command.efforts.count { command.efforts[i] = 0 }
        let a = actions.next()
        if command.efforts.count > 0 { command.efforts[0] = a.x }
        if command.efforts.count > 1 { command.efforts[1] = a.y }
        return true
    }
}
