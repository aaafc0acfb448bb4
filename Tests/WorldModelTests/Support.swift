import NeuralEngine
import RobotCore
import Simulation
import WorldModel

/// Small two-rooms episodes rendered directly (no loop): smooth random actions, true positions.
func syntheticEpisodes(count: Int, steps: Int, seed: UInt64, variant: TwoRoomsVariant = .random) throws -> [Episode] {
    var rng = SeededGenerator(seed: seed)
    var actions = SmoothRandomActions(seed: seed &+ 1)
    let frame = Frame(width: 64, height: 64)
    return try (0..<count).map { e in
        var world = TwoRoomsWorld.episode(variant, rng: &rng)
        var frames: [UInt8] = [], acts: [Float] = [], pos: [Float] = []
        for t in 0...steps {
            world.render(into: frame)
            frames += frame.pixels
            pos += [Float(world.position.x), Float(world.position.y)]
            if t < steps {
                let a = actions.next()
                acts += [Float(a.x), Float(a.y)]
                world.step(a * TwoRoomsWorld.maxStep)
            }
        }
        return try Episode(width: 64, height: 64, frames: frames, actions: acts, actionSize: 2, positions: pos, source: "synthetic #\(e)")
    }
}
