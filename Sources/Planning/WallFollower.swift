import Glibc

/// A bug-algorithm fallback for walls the world model does not know. When the world refuses a push
/// the model forecast as free (the agent stayed put), the model cannot see this wall or its opening,
/// so imagination cannot find the way through: the latent planner would bump along it at random.
/// The follower instead sweeps along the wall in one direction, probing into it every few steps;
/// the first probe that moves freely has found the opening, and it pushes on through, then hands
/// control back to the planner. Like the Bug algorithms of mobile robotics (Lumelsky and Stepanov),
/// it finds an opening in the stretch of wall it sweeps (end to end, both ways, within `maxSteps`),
/// at a cost in steps that grows with the opening's distance along the wall.
///
/// It knows nothing of the world but the outcome of its own moves: the ratio of the observed latent
/// move to the one the model forecast (below `refusedRatio`: refused; at least `freeRatio`: free).
/// Its estimate of the wall's normal starts at the refused push and is corrected as it goes, like a
/// wall-following controller: a sweep move the world refuses turns the sweep away from the wall by
/// `turnStep`; a probe that moves (the sweep drifted off the wall) turns it back toward the wall.
/// Turned away `cornerTurns` times in a row, the sweep is at a corner and reverses; a second
/// reversal, or `maxSteps`, ends the follow. Efforts are unit vectors (scale them to the effort
/// bound). Value type, allocation-free.
public struct WallFollower: Sendable {
    public enum Phase: Sendable, Equatable {
        /// The planner has control.
        case idle
        /// Moving along the wall, probing into it every `sweepsPerProbe` moves.
        case sweeping
        /// A probe went through: pushing on through the opening.
        case crossing
    }

    public static let refusedRatio = BlockedMoves.refusedRatio
    public static let freeRatio: Float = 0.7
    /// Correction of the normal estimate per refused sweep or drifting probe, radians (15°).
    public static let turnStep: Float = .pi / 12
    /// Refused sweep moves in a row that mean a corner (60° of turning away).
    public static let cornerTurns = 4

    /// Efforts one follow may issue before control returns to the planner (0: never follow).
    public let maxSteps: Int
    /// Steps pushed through an opening once a probe found it.
    public let crossingSteps: Int
    /// Sweep moves between probes: 2 moves of 2.45 px leave 4.9 px between probes, under the 9 px
    /// of a two-rooms door (3 sweep steps per 4.9 px, against 4 when probing after every move).
    public let sweepsPerProbe: Int
    public private(set) var phase = Phase.idle
    /// Follows started and openings crossed (crossings that ended without a refusal).
    public private(set) var follows = 0
    public private(set) var crossings = 0

    /// Direction into the wall (radians; the estimate of its normal).
    private var normalAngle: Float = 0
    /// +1 or −1: which way along the wall (the sweep is the normal turned by side × 90°).
    private var side: Float = 1
    private var turnsAway = 0
    private var reversals = 0
    private var steps = 0
    private var crossingLeft = 0
    /// Free sweep moves since the last probe.
    private var sweeps = 0
    /// The last effort was a probe into the wall (else a sweep move, while sweeping).
    private var probed = false

    public init(maxSteps: Int = 120, crossingSteps: Int = 5, sweepsPerProbe: Int = 2) {
        precondition(maxSteps >= 0 && crossingSteps >= 1 && sweepsPerProbe >= 1)
        self.maxSteps = maxSteps
        self.crossingSteps = crossingSteps
        self.sweepsPerProbe = sweepsPerProbe
    }

    public var isActive: Bool { phase != .idle }

    /// Starts a follow after the world refused a push along (dx, dy). `hint` is a direction the
    /// planner wanted to go; the sweep starts on its side of the wall's normal. Returns the first effort.
    public mutating func begin(refused dx: Float, _ dy: Float, hint: (x: Float, y: Float)) -> (x: Float, y: Float)? {
        guard maxSteps > 0, dx * dx + dy * dy > 0 else { return nil }
        normalAngle = atan2f(dy, dx)
        let along = -dy * hint.x + dx * hint.y
        side = along < 0 ? -1 : 1
        (turnsAway, reversals, steps, probed, crossingLeft, sweeps) = (0, 0, 1, false, 0, 0)
        phase = .sweeping
        follows += 1
        return sweepEffort
    }

    /// Hands control back to the planner (a new goal or episode, or the operator took over).
    public mutating func stop() { phase = .idle }

    /// The next effort, given how far the last one moved (observed ÷ forecast latent move); nil
    /// when the follow is over and the planner has control again.
    public mutating func next(lastMoveRatio ratio: Float) -> (x: Float, y: Float)? {
        guard phase != .idle else { return nil }
        guard steps < maxSteps else { phase = .idle; return nil }
        steps += 1
        let refused = !(ratio >= Self.refusedRatio), free = ratio >= Self.freeRatio
        switch phase {
        case .idle:
            return nil
        case .crossing:
            if refused {
                // Not an opening (the sweep had drifted off the wall, and the probe only came back to
                // it) or its edge: turn toward the wall, back to the sweep.
                if crossingLeft == crossingSteps { turn(towardWall: true) }
                phase = .sweeping
                probed = false
                return sweepEffort
            }
            crossingLeft -= 1
            if crossingLeft <= 0 {
                crossings += 1
                phase = .idle
                return nil
            }
            return normal
        case .sweeping:
            if probed {
                probed = false
                if free {
                    phase = .crossing
                    crossingLeft = crossingSteps
                    return normal
                }
                if !refused { turn(towardWall: true) }
                return sweepEffort
            }
            if refused {
                turnsAway += 1
                if turnsAway < Self.cornerTurns {
                    turn(towardWall: false)
                } else {
                    // A corner: undo the turns, and sweep the other way.
                    reversals += 1
                    if reversals > 1 { phase = .idle; return nil }
                    normalAngle -= side * Self.turnStep * Float(turnsAway - 1)
                    side = -side
                    turnsAway = 0
                }
                return sweepEffort
            }
            turnsAway = 0
            sweeps += 1
            if sweeps < sweepsPerProbe { return sweepEffort }
            sweeps = 0
            probed = true
            return normal
        }
    }

    /// Turns the normal estimate (and the sweep with it) so that the sweep points more into the wall
    /// (`towardWall`) or away from it.
    private mutating func turn(towardWall: Bool) {
        normalAngle += (towardWall ? -side : side) * Self.turnStep
    }

    private var normal: (x: Float, y: Float) { (cosf(normalAngle), sinf(normalAngle)) }

    /// Along the wall on `side`: the normal turned by side × 90°.
    private var sweepEffort: (x: Float, y: Float) {
        let n = normal
        return (-n.y * side, n.x * side)
    }
}
