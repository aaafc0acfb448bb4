import Glibc
import NeuralEngine
import RobotCore
import WorldModel

/// The board channels a world model's actions drive: for each of the model's actions (in its order), the
/// index of the board's actuator of that name. `planned` are the actuators the board plans with
/// (`planner.actuators`, or every actuator), `boardActuators` the board's actuator names by channel.
/// A model trained on other actions, or in another order, is refused with both lists.
public func plannedChannels(model: WorldModelFile, planned: [String], boardActuators: [String]) throws -> [Int] {
    let names = model.actions.map(\.name)
    guard names == planned else {
        throw ModelError(
            "the model was trained on the actions [\(names.joined(separator: ", "))], this board plans with "
                + "[\(planned.joined(separator: ", "))] "
                + "(planner.actuators): train a model on this board's recordings, or set planner.actuators to the model's actions")
    }
    return try names.map { name in
        guard let i = boardActuators.firstIndex(of: name) else {
            throw ModelError(
                "the model's action \"\(name)\" is no actuator of this board (actuators: \(boardActuators.joined(separator: ", ")))")
        }
        return i
    }
}

/// What the planner may ask for, per action: the span the model was trained on, within ±`max_effort`; with
/// `holonomic` motion the first two actions are a planar velocity whose norm is bounded by `max_effort` too.
public struct ActionBox: Sendable {
    public let lower: [Float]
    public let upper: [Float]
    public let holonomic: Bool
    /// `max_effort`: the bound of each action's magnitude, or of the (x, y) norm for holonomic motion.
    public let bound: Float
    public var count: Int { lower.count }

    public init(model: WorldModelFile, config: PlannerConfig) throws {
        holonomic = config.motion == .holonomic
        bound = Float(config.maxEffort)
        guard !holonomic || model.actions.count >= 2 else {
            throw ModelError(
                "planner.motion holonomic plans a planar velocity (x, y), the model takes \(model.actions.count) action "
                    + "(\(model.actions[0].name))"
            )
        }
        let b = bound
        lower = model.actions.map { max(Float($0.lower), -b) }
        upper = model.actions.map { min(Float($0.upper), b) }
        if let j = lower.indices.first(where: { lower[$0] > upper[$0] }) {
            throw ModelError(
                "the model's action \(model.actions[j].name) was trained on efforts [\(model.actions[j].lower), "
                    + "\(model.actions[j].upper)], "
                    + "outside planner.max_effort \(config.maxEffort)")
        }
    }

    /// `value` within action `j`'s span.
    @inline(__always) public func clamp(_ value: Float, _ j: Int) -> Float { min(max(value, lower[j]), upper[j]) }

    /// Brings one action (`count` efforts at `a`) inside the box: the (x, y) norm first for holonomic motion, then each span.
    @inline(__always) public func clip(_ a: UnsafeMutablePointer<Float>) {
        if holonomic {
            let norm = (a[0] * a[0] + a[1] * a[1]).squareRoot()
            if norm > bound { a[0] *= bound / norm; a[1] *= bound / norm }
        }
        for j in 0..<count { a[j] = clamp(a[j], j) }
    }

    /// The route search's macro actions, action after action (`count` efforts each). Holonomic: `headings` unit
    /// headings at full effort (`bound`), the other actions at rest. Generic: every combination of each action's
    /// lower end, rest (0 within its span) and upper end but all at rest, where that is at most 64 (1 action: 2,
    /// 2 actions: 8, 3: 26); beyond, each action's two ends with the others at rest.
    public func macroActions(headings: Int) -> [Float] {
        let a = count
        func rest(_ j: Int) -> Float { clamp(0, j) }
        if holonomic {
            return (0..<headings).flatMap { m -> [Float] in
                let th = 2 * Double.pi * Double(m) / Double(headings)
                var v = (0..<a).map(rest)
                v[0] = bound * Float(cos(th))
                v[1] = bound * Float(sin(th))
                return v
            }
        }
        var grid = 1
        for _ in 0..<a where grid <= 65 { grid *= 3 }
        if grid - 1 <= 64 {
            var out: [Float] = []
            // Level 0 is rest; an end that equals rest (a span that starts at 0) repeats a combination and is skipped.
            codes: for code in 1..<grid {
                var c = code, v: [Float] = []
                for j in 0..<a {
                    let level = c % 3
                    c /= 3
                    let e = level == 0 ? rest(j) : level == 1 ? lower[j] : upper[j]
                    if level != 0 && e == rest(j) { continue codes }
                    v.append(e)
                }
                out += v
            }
            return out
        }
        return (0..<(2 * a)).flatMap { m -> [Float] in
            var v = (0..<a).map(rest)
            v[m / 2] = m % 2 == 0 ? lower[m / 2] : upper[m / 2]
            return v
        }
    }
}
