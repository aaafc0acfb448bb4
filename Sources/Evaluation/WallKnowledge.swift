import NeuralEngine
import RobotCore
import Simulation
import WorldModel

/// Does the world model know where the middle wall stops the agent? On random two-rooms layouts the
/// agent is put against the wall's face and pushed into it at full effort (the world refuses: the
/// agent stays put), and put in front of the door and pushed through it (the world lets it pass). The
/// predictor's forecast latent move for each push is compared with its forecast for the same push
/// away from the wall (free space): a forecast below `blockedRatio` of that counts as "knows it is
/// blocked", above `openRatio` as "knows it is open".
public struct WallKnowledge: Sendable, Codable {
    public var layouts: Int
    /// Pushes into the solid wall, and how many the predictor forecast as blocked.
    public var wallPushes = 0
    public var wallKnownBlocked = 0
    /// Pushes through the door, and how many the predictor forecast as open.
    public var doorPushes = 0
    public var doorKnownOpen = 0
    /// Median of forecast move into the wall / forecast move away from it.
    public var medianWallRatio = Double.nan
    public var medianDoorRatio = Double.nan

    /// Linear probe of the layout (wall x, door y) from the latent of wall-side frames: R² per output
    /// (fit on the first half of the layouts, tested on the second).
    public var layoutProbeR2: [Double] = []

    public static let blockedRatio = 0.3, openRatio = 0.7
    /// Points per side of the wall in each layout: into the solid wall, and through the door.
    static let wallPoints = 8, doorPoints = 2

    /// Checks `layouts` layouts of `variant` (seeded), `wallPoints` and `doorPoints` per side each.
    public static func run(model: WorldModelFile, variant: TwoRoomsVariant = .random, layouts: Int, seed: UInt64) throws -> WallKnowledge {
        let enc = try model.makeEncoder(), pred = try model.makePredictor()
        let d = model.latentSize
        let frame = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
        var rng = SeededGenerator(seed: seed)
        var r = WallKnowledge(layouts: layouts)
        var wallRatios: [Double] = [], doorRatios: [Double] = []
        var probeLatents: [Float] = [], probeLayouts: [Float] = []
        func forecastMove(_ z: [Float], _ ax: Float, _ ay: Float) -> Double {
            pred.input.withUnsafeMutableBufferPointer { x in
                for j in 0..<d { x[j] = z[j] }
                x[d] = ax
                x[d + 1] = ay
            }
            let f = pred.forward().scalars
            var s = 0.0
            for j in 0..<d { s += Double(f[j]) * Double(f[j]) }
            return s.squareRoot()
        }
        for _ in 0..<layouts {
            let layout = TwoRoomsLayout.make(variant, rng: &rng)
            let world = TwoRoomsWorld(layout: layout, start: Vec2(10, 10), goal: Vec2(54, 54))
            let face = TwoRoomsLayout.wallHalfThickness + 0.05
            let lo = TwoRoomsLayout.borderThickness + 2, hi = Double(TwoRoomsLayout.size) - TwoRoomsLayout.borderThickness - 2
            for side in [-1.0, 1.0] {
                let x = layout.wallX + side * face
                // Into the wall (solid part only: at least 2 px from the door's edge).
                var points: [(Double, Bool)] = []
                while points.count < wallPoints {
                    let y = rng.uniform(lo, hi)
                    if abs(y - layout.doorY) > TwoRoomsLayout.doorHalfHeight + 2 { points.append((y, false)) }
                }
                // Through the door (within 1.5 px of its centre).
                for _ in 0..<doorPoints { points.append((layout.doorY + rng.uniform(-1.5, 1.5), true)) }
                for (y, isDoor) in points {
                    world.render(into: frame, agent: Vec2(x, y))
                    enc.input.assignGray8(frame.pixels)
                    let z = enc.forward().scalars
                    probeLatents += z
                    probeLayouts += [Float(layout.wallX), Float(layout.doorY)]
                    let push = Float(-side)  // toward the wall
                    let toward = forecastMove(z, push, 0), away = forecastMove(z, -push, 0)
                    let ratio = away > 0 ? toward / away : .nan
                    if isDoor {
                        r.doorPushes += 1
                        if ratio > openRatio { r.doorKnownOpen += 1 }
                        doorRatios.append(ratio)
                    } else {
                        r.wallPushes += 1
                        if ratio < blockedRatio { r.wallKnownBlocked += 1 }
                        wallRatios.append(ratio)
                    }
                }
            }
        }
        let perLayout = 2 * (wallPoints + doorPoints), rows = probeLayouts.count / 2
        let half = (rows / 2 / perLayout) * perLayout  // whole layouts in each half
        if variant == .random && half > 0,
            let probe = try? LinearProbe(
                x: Array(probeLatents[..<(half * d)]), y: Array(probeLayouts[..<(half * 2)]), features: d, outputs: 2)
        {
            r.layoutProbeR2 = probe.rSquared(x: Array(probeLatents[(half * d)...]), y: Array(probeLayouts[(half * 2)...])).perOutput
        }
        wallRatios.sort()
        doorRatios.sort()
        r.medianWallRatio = quantile(sorted: wallRatios, 0.5)
        r.medianDoorRatio = quantile(sorted: doorRatios, 0.5)
        return r
    }
}
