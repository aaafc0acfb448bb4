/// Moves the world refused this episode: latents where the agent, pushed in a direction, stayed put
/// although the predictor said it would move (a wall the model does not know, typical of layouts it
/// saw little of). The planner's imagined rollouts consult it (the MPPI samples and the route search):
/// a step taken within an entry's radius of its latent, in a direction within 45° of the refused one,
/// is held still. So the planner stops driving into the same piece of wall and searches around it, the
/// way a robot remembers a bump. A small ring (the oldest entry goes first); allocation-free after init.
public final class BlockedMoves {
    public let capacity: Int
    public let latentSize: Int
    private var latents: [Float]
    /// Unit direction of the refused effort per entry.
    private var directions: [Float]
    private var radiiSquared: [Float]
    public private(set) var count = 0
    private var next = 0
    /// Entries recorded since the last `clear` (also those the ring dropped).
    public private(set) var recorded = 0

    /// A push counts as refused when the latent moved less than this fraction of the forecast move
    /// (the planner source's memory and the wall follower share it).
    public static let refusedRatio: Float = 0.3

    /// Cosine above which a move counts as the refused one (45°).
    public static let sameDirection: Float = 0.7071

    public init(latentSize: Int, capacity: Int = 64) {
        precondition(latentSize >= 1 && capacity >= 1)
        self.capacity = capacity
        self.latentSize = latentSize
        latents = [Float](repeating: 0, count: capacity * latentSize)
        directions = [Float](repeating: 0, count: capacity * 2)
        radiiSquared = [Float](repeating: 0, count: capacity)
    }

    public func clear() {
        count = 0
        next = 0
        recorded = 0
    }

    /// Remembers that effort (ex, ey) from latent `z` did not move the agent; steps within `radius`
    /// (latent distance) of `z` in that direction are held from now on.
    public func record(latent z: UnsafeBufferPointer<Float>, effort ex: Float, _ ey: Float, radius: Float) {
        let norm = (ex * ex + ey * ey).squareRoot()
        guard z.count == latentSize, norm > 0, radius > 0 else { return }
        let d = latentSize
        for j in 0..<d { latents[next * d + j] = z[j] }
        directions[2 * next] = ex / norm
        directions[2 * next + 1] = ey / norm
        radiiSquared[next] = radius * radius
        next = (next + 1) % capacity
        count = min(count + 1, capacity)
        recorded += 1
    }

    /// True when the step with effort (ax, ay) from latent `z` is one the world refused. Called for
    /// every imagined step, so it checks the direction first and stops a distance once it is too far.
    public func blocks(_ z: UnsafePointer<Float>, _ ax: Float, _ ay: Float) -> Bool {
        guard count > 0 else { return false }
        let norm = (ax * ax + ay * ay).squareRoot()
        guard norm > 0.2 else { return false }
        let d = latentSize, threshold = Self.sameDirection * norm
        return latents.withUnsafeBufferPointer { lb in
            directions.withUnsafeBufferPointer { db in
                radiiSquared.withUnsafeBufferPointer { rb in
                    for i in 0..<count where ax * db[2 * i] + ay * db[2 * i + 1] > threshold {
                        let entry = lb.baseAddress! + i * d, r2 = rb[i]
                        var s: Float = 0
                        var j = 0
                        while j < d && s < r2 { let e = z[j] - entry[j]; s += e * e; j += 1 }
                        if s < r2 { return true }
                    }
                    return false
                }
            }
        }
    }
}
