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
/// It knows nothing of the world but the latent moves of its own efforts, observed and forecast. A
/// move counts as a fraction of a free move: the observed latent move over the larger of the forecast
/// and the observed move of this follow's last free sweep moves (so a small move back to the wall
/// reads as small even where the model, knowing part of the wall, forecast little). Below
/// `refusedRatio` a move was refused, from `freeRatio` on it was free.
///
/// Its estimate of the wall's normal starts at the refused push and is corrected from geometry: a
/// probe (or a crossing) that moved toward the wall before meeting it shows the sweep drifted off the
/// wall, by the angle whose tangent is the way made toward the wall over the way made along it since
/// the last contact; the sweep turns back by that angle. A sweep move the world refuses although the
/// model forecast it free leans into the wall: the sweep turns away (15°, or half the last turn back).
/// A sweep move refused where the model forecast none (a wall the model knows, the room's border), or
/// 90° of turning away in a row, is a corner: the sweep reverses; a second corner, or `maxSteps`, ends
/// the follow. Efforts are unit vectors (scale them to the effort bound). Value type, allocation-free.
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
    /// A refused sweep move whose forecast was below this fraction of a free move ran into a wall the
    /// model knows: a corner, not a lean into the wall being followed.
    public static let knownWallRatio: Float = 0.4
    /// First turn away from the wall after a refused sweep move, radians (15°), and the smallest (3°).
    public static let turnStep: Float = .pi / 12
    public static let smallestTurn: Float = .pi / 60
    /// Turning away in a row that means a corner whatever the forecast, radians (90°).
    public static let cornerTurn: Float = .pi / 2
    /// Largest turn back toward the wall from one drift estimate, radians (60°).
    public static let largestTurnBack: Float = .pi / 3

    /// Efforts one follow may issue before control returns to the planner (0: never follow).
    public let maxSteps: Int
    /// Steps pushed through an opening once a probe found it.
    public let crossingSteps: Int
    /// Sweep moves between probes: 2 moves of 2.45 px leave 4.9 px between probes, under the 9 px
    /// of a two-rooms door (3 sweep steps per 4.9 px, against 4 when probing after every move).
    public let sweepsPerProbe: Int
    public private(set) var phase = Phase.idle
    /// Follows started, openings crossed (crossings that ended without a refusal), and corners met.
    public private(set) var follows = 0
    public private(set) var crossings = 0
    public private(set) var corners = 0

    /// Direction into the wall (radians; the estimate of its normal).
    private var normalAngle: Float = 0
    /// +1 or −1: which way along the wall (the sweep is the normal turned by side × 90°).
    private var side: Float = 1
    private var reversals = 0
    private var steps = 0
    private var crossingLeft = 0
    /// Free sweep moves since the last probe.
    private var sweeps = 0
    /// The last effort was a probe into the wall (else a sweep move, while sweeping).
    private var probed = false
    /// Turned away from the wall since the last free sweep move (radians).
    private var turnedAway: Float = 0
    /// The last turn back toward the wall (radians; 0 once a turn away followed it).
    private var lastTurnBack: Float = 0
    /// Way made since the last contact with the wall, in free moves: along it (sweeps), toward it.
    private var movedAlong: Float = 0
    private var movedToward: Float = 0
    /// Observed latent move of a free move here: mean of this follow's recent free sweep moves (0: none yet).
    private var freeMove: Float = 0

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
        (reversals, steps, probed, crossingLeft, sweeps) = (0, 1, false, 0, 0)
        (turnedAway, lastTurnBack, movedAlong, movedToward, freeMove) = (0, 0, 0, 0, 0)
        phase = .sweeping
        follows += 1
        return sweepEffort
    }

    /// Hands control back to the planner (a new goal or episode, or the operator took over).
    public mutating func stop() { phase = .idle }

    /// The next effort, given the latent move the last one made (`observed`) and the one the model
    /// forecast for it; nil when the follow is over and the planner has control again.
    public mutating func next(observed: Float, forecast: Float) -> (x: Float, y: Float)? {
        guard phase != .idle else { return nil }
        guard steps < maxSteps else { phase = .idle; return nil }
        steps += 1
        let reference = max(forecast, freeMove)
        let ratio = reference > 0 ? observed / reference : 0
        let refused = !(ratio >= Self.refusedRatio), free = ratio >= Self.freeRatio
        let moved = refused ? 0 : min(ratio, 1)
        switch phase {
        case .idle:
            return nil
        case .crossing:
            if refused {
                // Not an opening: the sweep had drifted off the wall and the probe only came back to it.
                turnBackForDrift()
                (phase, probed, sweeps) = (.sweeping, false, 0)
                return sweepEffort
            }
            movedToward += moved
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
                    movedToward += moved
                    phase = .crossing
                    crossingLeft = crossingSteps
                    return normal
                }
                if refused {
                    (movedAlong, movedToward) = (0, 0)
                } else {
                    movedToward += moved
                    turnBackForDrift()
                }
                return sweepEffort
            }
            if refused {
                (movedAlong, movedToward) = (0, 0)
                if freeMove > 0 && forecast < Self.knownWallRatio * freeMove { return corner() }
                let turn = lastTurnBack > 0 ? max(lastTurnBack / 2, Self.smallestTurn) : Self.turnStep
                lastTurnBack = 0
                turnedAway += turn
                normalAngle += side * turn
                return turnedAway >= Self.cornerTurn - 0.01 ? corner() : sweepEffort
            }
            turnedAway = 0
            if free { freeMove = freeMove > 0 ? (freeMove + observed) / 2 : observed }
            movedAlong += moved
            sweeps += 1
            if sweeps < sweepsPerProbe { return sweepEffort }
            sweeps = 0
            probed = true
            return normal
        }
    }

    /// The pushes since the last contact made way toward the wall before meeting it: the sweep points
    /// off the wall by about atan(toward / along); turn the normal estimate back by that much.
    private mutating func turnBackForDrift() {
        let turn = min(atan2f(movedToward, max(movedAlong, 0.5)), Self.largestTurnBack)
        normalAngle -= side * turn
        lastTurnBack = turn
        (movedAlong, movedToward) = (0, 0)
    }

    /// A corner: undo the turns away, and sweep the other way; the second one ends the follow.
    private mutating func corner() -> (x: Float, y: Float)? {
        corners += 1
        reversals += 1
        if reversals > 1 { phase = .idle; return nil }
        normalAngle -= side * turnedAway
        side = -side
        (turnedAway, lastTurnBack, sweeps) = (0, 0, 0)
        return sweepEffort
    }

    private var normal: (x: Float, y: Float) { (cosf(normalAngle), sinf(normalAngle)) }

    /// Along the wall on `side`: the normal turned by side × 90°.
    private var sweepEffort: (x: Float, y: Float) {
        let n = normal
        return (-n.y * side, n.x * side)
    }
}
