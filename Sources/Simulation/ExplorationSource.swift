import RobotCore

/// Smooth random actions for exploration: per axis a first-order autoregressive process
/// v ← ρ·v + σ·N(0, 1), clipped to norm 1 (full speed). With ρ = 0.8 the direction persists for
/// about five steps, so the agent wanders across rooms and through doors instead of jittering in place.
public struct SmoothRandomActions: Sendable {
    /// Per-step persistence ρ in [0, 1).
    public var persistence: Double
    /// Innovation σ per step.
    public var scale: Double
    public private(set) var current: Vec2 = .zero
    private var rng: SeededGenerator

    public init(seed: UInt64, persistence: Double = 0.8, scale: Double = 0.6) {
        self.persistence = persistence
        self.scale = scale
        rng = SeededGenerator(seed: seed)
    }

    /// The next action, norm ≤ 1.
    public mutating func next() -> Vec2 {
        current = current * persistence + Vec2(rng.normal(), rng.normal()) * scale
        let n = current.length
        if n > 1 { current /= n }
        return current
    }

    public mutating func reset() { current = .zero }
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
