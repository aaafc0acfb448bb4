import Glibc
import RobotCore

/// A 2-D point or vector in world pixels (x right, y down; pixel (i, j) covers [i, i+1) × [j, j+1)).
public typealias Vec2 = SIMD2<Double>

extension SIMD2 where Scalar == Double {
    public var length: Double { (x * x + y * y).squareRoot() }
}

/// An axis-aligned wall rectangle, closed, in world pixels.
public struct Rect: Sendable, Equatable {
    public var minX, minY, maxX, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        (self.minX, self.minY, self.maxX, self.maxY) = (minX, minY, maxX, maxY)
    }
    public func contains(_ p: Vec2) -> Bool { p.x >= minX && p.x <= maxX && p.y >= minY && p.y <= maxY }

    /// Area of overlap with the pixel square [i, i+1) × [j, j+1).
    func coverage(pixelX i: Int, pixelY j: Int) -> Double {
        let w = min(maxX, Double(i + 1)) - max(minX, Double(i))
        let h = min(maxY, Double(j + 1)) - max(minY, Double(j))
        return w > 0 && h > 0 ? w * h : 0
    }

    /// The first time t in [0, 1] at which the segment p + t·v touches the rectangle (slab method).
    func entryTime(from p: Vec2, moving v: Vec2) -> Double? {
        guard let (x0, x1) = Self.slab(p.x, v.x, minX, maxX), let (y0, y1) = Self.slab(p.y, v.y, minY, maxY) else { return nil }
        let t0 = max(x0, y0), t1 = min(x1, y1)
        guard t0 <= t1, t1 >= 0, t0 <= 1 else { return nil }
        return max(t0, 0)
    }

    /// The times at which a point at `pos` moving at `vel` is inside [lo, hi] on one axis; nil if never.
    private static func slab(_ pos: Double, _ vel: Double, _ lo: Double, _ hi: Double) -> (Double, Double)? {
        if abs(vel) < 1e-12 { return pos < lo || pos > hi ? nil : (-.infinity, .infinity) }
        let a = (lo - pos) / vel, b = (hi - pos) / vel
        return (min(a, b), max(a, b))
    }
}

/// Which two-rooms world: the door fixed in the middle, or wall and door moved per episode.
public enum TwoRoomsVariant: String, Sendable, CaseIterable {
    case fixed = "two-rooms"
    case random = "two-rooms-random"
}

/// Where the middle wall and its door are.
public struct TwoRoomsLayout: Sendable, Equatable {
    /// Centre of the middle wall, x in px.
    public var wallX: Double
    /// Centre of the door, y in px.
    public var doorY: Double

    public init(wallX: Double, doorY: Double) {
        self.wallX = wallX
        self.doorY = doorY
    }

    public static let size = 64
    public static let borderThickness = 2.0
    public static let wallHalfThickness = 1.5
    /// Half the door's height: the door is 9 px tall.
    public static let doorHalfHeight = 4.5

    public static let fixed = TwoRoomsLayout(wallX: 32, doorY: 32)

    /// A layout for an episode: the fixed one, or a random wall position and door height.
    public static func make(_ variant: TwoRoomsVariant, rng: inout SeededGenerator) -> TwoRoomsLayout {
        switch variant {
        case .fixed: return .fixed
        case .random: return TwoRoomsLayout(wallX: rng.uniform(22, 42).rounded(), doorY: rng.uniform(14, 50).rounded())
        }
    }

    /// The walls: four borders and the middle wall above and below the door.
    public var walls: [Rect] {
        let s = Double(Self.size), b = Self.borderThickness, h = Self.wallHalfThickness
        return [
            Rect(minX: 0, minY: 0, maxX: s, maxY: b), Rect(minX: 0, minY: s - b, maxX: s, maxY: s),
            Rect(minX: 0, minY: 0, maxX: b, maxY: s), Rect(minX: s - b, minY: 0, maxX: s, maxY: s),
            Rect(minX: wallX - h, minY: 0, maxX: wallX + h, maxY: doorY - Self.doorHalfHeight),
            Rect(minX: wallX - h, minY: doorY + Self.doorHalfHeight, maxX: wallX + h, maxY: s),
        ]
    }

    /// The free area of the left (0) or right (1) room, shrunk by `margin` px from every wall.
    public func room(_ side: Int, margin: Double) -> Rect {
        let s = Double(Self.size), b = Self.borderThickness, h = Self.wallHalfThickness
        return side == 0
            ? Rect(minX: b + margin, minY: b + margin, maxX: wallX - h - margin, maxY: s - b - margin)
            : Rect(minX: wallX + h + margin, minY: b + margin, maxX: s - b - margin, maxY: s - b - margin)
    }

    /// 0 for the left room, 1 for the right.
    public func side(of p: Vec2) -> Int { p.x < wallX ? 0 : 1 }
}

/// The two-rooms benchmark world (world-model.md; PLDM / EB-JEPA protocol): a point agent in two
/// rooms joined by a door, moved by a 2-D action of norm ≤ 2.45 px per step, stopped at walls.
public struct TwoRoomsWorld: Sendable {
    public static let maxStep = 2.45
    public static let successRadius = 4.5
    public static let maxEpisodeSteps = 200
    /// Agent dot: Gaussian standard deviation, px.
    public static let dotSigma = 1.7
    /// Wall brightness, 0...1 (the dot is 1).
    public static let wallLevel = 0.6

    public private(set) var layout: TwoRoomsLayout
    public private(set) var walls: [Rect]
    public private(set) var position: Vec2
    public private(set) var goal: Vec2
    /// The wall layer, rendered once per layout (anti-aliased by pixel coverage).
    private var background: [UInt8]

    public init(layout: TwoRoomsLayout, start: Vec2, goal: Vec2) {
        self.layout = layout
        self.walls = layout.walls
        self.position = start
        self.goal = goal
        self.background = Self.renderWalls(walls)
    }

    /// A new episode: layout from the variant, start and goal uniform in opposite rooms.
    public static func episode(_ variant: TwoRoomsVariant, rng: inout SeededGenerator) -> TwoRoomsWorld {
        let layout = TwoRoomsLayout.make(variant, rng: &rng)
        let startSide = rng.next() & 1 == 0 ? 0 : 1
        func sample(_ r: Rect) -> Vec2 { Vec2(rng.uniform(r.minX, r.maxX), rng.uniform(r.minY, r.maxY)) }
        let start = sample(layout.room(startSide, margin: 1.5))
        let goal = sample(layout.room(1 - startSide, margin: 1.5))
        return TwoRoomsWorld(layout: layout, start: start, goal: goal)
    }

    public var distanceToGoal: Double { (goal - position).length }
    public var reachedGoal: Bool { distanceToGoal <= Self.successRadius }

    /// Places the agent (tests, goal capture). The point must be free.
    public mutating func teleport(to p: Vec2) {
        precondition(isFree(p), "(\(p.x), \(p.y)) is inside a wall")
        position = p
    }

    public func isFree(_ p: Vec2) -> Bool { !walls.contains { $0.contains(p) } }

    /// One step: the action is clipped to norm ≤ 2.45, and motion into a wall stops at the wall.
    public mutating func step(_ action: Vec2) {
        var v = action
        if !(v.x.isFinite && v.y.isFinite) { return }
        let n = v.length
        if n > Self.maxStep { v *= Self.maxStep / n }
        guard n > 0 else { return }
        var t = 1.0
        // Index loop: `for w in walls` allocates per element in debug builds, and this runs in the tick.
        for k in 0..<walls.count { if let hit = walls[k].entryTime(from: position, moving: v) { t = min(t, hit) } }
        if t < 1 { t = max(0, t - 1e-6 / v.length) }
        position += v * t
    }

    /// Renders the agent at `agent` (default: its position) into a 64×64 frame.
    public func render(into frame: Frame, agent: Vec2? = nil) {
        precondition(frame.width == TwoRoomsLayout.size && frame.height == TwoRoomsLayout.size, "two-rooms frames are 64×64")
        let p = agent ?? position
        let size = TwoRoomsLayout.size
        let r = Int((4 * Self.dotSigma).rounded(.up))
        let inv2s2 = 1 / (2 * Self.dotSigma * Self.dotSigma)
        frame.pixels.withUnsafeMutableBufferPointer { px in
            background.withUnsafeBufferPointer { bg in _ = px.update(fromContentsOf: bg) }
            let cx = Int(p.x), cy = Int(p.y)
            for j in max(0, cy - r)...min(size - 1, cy + r) {
                for i in max(0, cx - r)...min(size - 1, cx + r) {
                    let dx = Double(i) + 0.5 - p.x, dy = Double(j) + 0.5 - p.y
                    let v = UInt8((255 * exp(-(dx * dx + dy * dy) * inv2s2)).rounded())
                    if v > px[j * size + i] { px[j * size + i] = v }
                }
            }
        }
    }

    private static func renderWalls(_ walls: [Rect]) -> [UInt8] {
        let size = TwoRoomsLayout.size
        var out = [UInt8](repeating: 0, count: size * size)
        for j in 0..<size {
            for i in 0..<size {
                let c = min(1, walls.reduce(0) { $0 + $1.coverage(pixelX: i, pixelY: j) })
                out[j * size + i] = UInt8((255 * wallLevel * c).rounded())
            }
        }
        return out
    }
}

extension TwoRoomsWorld {
    /// `count` frames of random episodes (layout from `variant`, agent at the episode's start), for
    /// calibration and held-out checks of the encoder. Seeded: the same seed gives the same frames.
    public static func sampleFrames(count: Int, seed: UInt64, variant: TwoRoomsVariant = .random) -> [Frame] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let frame = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
            episode(variant, rng: &rng).render(into: frame)
            return frame
        }
    }
}
