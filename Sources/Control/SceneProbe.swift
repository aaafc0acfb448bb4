import NeuralEngine
import RobotCore
import Simulation
import WorldModel

/// What a scene branch's dimensions carry (`WorldModelArchitecture.sceneLatent`): linear probes from
/// those dimensions alone to the layout (the wall's x, the door's y) and to the agent's position, on
/// frames of random two-rooms episodes (the agent anywhere), fit on one half and tested on the other.
/// A scene latent that works reads the layout (R² near 1) and not the agent (R² near 0).
public struct SceneProbe: Sendable, Codable {
    public var frames: Int
    /// The scene dimensions' columns in the latent.
    public var columns: Range<Int>
    /// Held-out R² for wall x, door y, agent x, agent y.
    public var wallX = Double.nan, doorY = Double.nan, agentX = Double.nan, agentY = Double.nan
    /// The same from the scene dimensions and their pairwise products (a quadratic probe): what they
    /// carry in a form a linear probe misses (a fold like |door y − 32|).
    public var quadratic: [Double] = []

    public static func run(model: WorldModelFile, frames count: Int = 2000, seed: UInt64) throws -> SceneProbe {
        let s = model.sceneDimensions, d = model.latentSize
        var r = SceneProbe(frames: count, columns: (d - s)..<d)
        guard s > 0, count >= 4 * (s + 1) * (s + 2) else { return r }
        let enc = try model.makeEncoder()
        let frame = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
        var rng = SeededGenerator(seed: seed)
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<count {
            let world = TwoRoomsWorld.episode(.random, rng: &rng)
            world.render(into: frame)
            enc.input.assignGray8(frame.pixels)
            let z = enc.forward().scalars
            x += z[r.columns]
            y += [world.layout.wallX, world.layout.doorY, world.position.x, world.position.y].map { Float($0) }
        }
        let half = count / 2
        let probe = try LinearProbe(x: Array(x[..<(half * s)]), y: Array(y[..<(half * 4)]), features: s, outputs: 4)
        let r2 = probe.rSquared(x: Array(x[(half * s)...]), y: Array(y[(half * 4)...])).perOutput
        (r.wallX, r.doorY, r.agentX, r.agentY) = (r2[0], r2[1], r2[2], r2[3])
        var q: [Float] = []
        for i in 0..<count {
            let z = x[(i * s)..<((i + 1) * s)]
            q += z
            for a in z.indices { for b in a..<z.endIndex { q.append(z[a] * z[b]) } }
        }
        let qf = s + s * (s + 1) / 2
        let qprobe = try LinearProbe(x: Array(q[..<(half * qf)]), y: Array(y[..<(half * 4)]), features: qf, outputs: 4)
        r.quadratic = qprobe.rSquared(x: Array(q[(half * qf)...]), y: Array(y[(half * 4)...])).perOutput
        return r
    }
}
