import Glibc
import RobotCore

/// A pose on the floor of the rooms world: position in metres (x east, y north), heading in radians
/// counter-clockwise from +x.
public struct Pose: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var heading: Double

    public init(x: Double, y: Double, heading: Double) {
        (self.x, self.y, self.heading) = (x, y, heading)
    }

    public var position: Vec2 { Vec2(x, y) }

    /// The heading difference to `other`, wrapped to [-π, π], radians.
    public func headingError(to other: Pose) -> Double { wrappedAngle(other.heading - heading) }
}

/// `a` wrapped to [-π, π].
public func wrappedAngle(_ a: Double) -> Double {
    var r = fmod(a + Double.pi, 2 * Double.pi)
    if r < 0 { r += 2 * Double.pi }
    return r - Double.pi
}

/// How one wall face looks: a base shade with vertical stripes and a horizontal band, gray levels 0...1.
public struct WallTexture: Sendable, Equatable {
    public var base: Float
    /// Distance between stripes along the wall, m (0: none).
    public var stripePeriod: Float
    /// Shade added on the stripes' dark half (negative: darker).
    public var stripeContrast: Float
    /// A horizontal band from `bandLow` to `bandHigh` metres above the floor, at `bandShade`.
    public var bandLow: Float
    public var bandHigh: Float
    public var bandShade: Float

    /// The shade at `u` metres along the wall and `v` metres above the floor.
    @inline(__always)
    func shade(u: Float, v: Float) -> Float {
        if v >= bandLow && v < bandHigh { return bandShade }
        guard stripePeriod > 0 else { return base }
        let phase = u / stripePeriod
        return phase - phase.rounded(.down) < 0.5 ? base + stripeContrast : base
    }
}

/// The house of the rooms world: rooms on a grid, joined by doorways, with a few box obstacles, on an
/// occupancy grid of 0.1 m cells. Each room has its own wall and floor look, and a few panels on its
/// walls, so a camera can tell the rooms apart; walls are 1 m high, the ceiling on top of them.
public struct RoomsLayout: Sendable {
    /// Side of a grid cell, m.
    public static let cellSize = 0.1
    /// Wall (and ceiling) height, m.
    public static let wallHeight = 1.0
    /// A free cell that belongs to no room (a doorway).
    public static let doorway: UInt8 = 254
    /// An occupied cell.
    public static let solid: UInt8 = 255

    public let columns: Int
    public let rows: Int
    /// Per cell: the room index of a free cell, `doorway`, or `solid`.
    public let cells: [UInt8]
    /// Per occupied cell and face (−x, +x, −y, +y): the texture index it shows.
    let faceTextures: [UInt8]
    public let textures: [WallTexture]
    /// Per room: the floor's base shade, 0...1.
    public let floorShades: [Float]
    /// The rooms' interiors, in metres.
    public let rooms: [Rect]
    /// The doorways' openings, in metres.
    public let doors: [Rect]
    /// The box obstacles, in metres.
    public let obstacles: [Rect]

    public var width: Double { Double(columns) * Self.cellSize }
    public var height: Double { Double(rows) * Self.cellSize }

    /// The cell holding `(x, y)` m, or nil outside the grid.
    @inline(__always)
    public func cellIndex(x: Double, y: Double) -> Int? {
        let i = Int((x / Self.cellSize).rounded(.down)), j = Int((y / Self.cellSize).rounded(.down))
        guard i >= 0, j >= 0, i < columns, j < rows else { return nil }
        return j * columns + i
    }

    /// The room holding `p`, or nil (a doorway, a wall, outside).
    public func room(at p: Vec2) -> Int? {
        guard let c = cellIndex(x: p.x, y: p.y), cells[c] < Self.doorway else { return nil }
        return Int(cells[c])
    }

    /// Whether a disc of `radius` m at `p` touches no occupied cell (outside the grid counts as occupied).
    public func discIsFree(_ p: Vec2, radius: Double) -> Bool {
        let s = Self.cellSize
        let i0 = Int(((p.x - radius) / s).rounded(.down)), i1 = Int(((p.x + radius) / s).rounded(.down))
        let j0 = Int(((p.y - radius) / s).rounded(.down)), j1 = Int(((p.y + radius) / s).rounded(.down))
        guard i0 >= 0, j0 >= 0, i1 < columns, j1 < rows else { return false }
        let r2 = radius * radius
        for j in j0...j1 {
            for i in i0...i1 where cells[j * columns + i] == Self.solid {
                let cx = min(max(p.x, Double(i) * s), Double(i + 1) * s)
                let cy = min(max(p.y, Double(j) * s), Double(j + 1) * s)
                let dx = p.x - cx, dy = p.y - cy
                if dx * dx + dy * dy < r2 { return false }
            }
        }
        return true
    }

    /// A house of `roomColumns` × `roomRows` rooms, each 2.4–3.2 m a side, drawn from `rng`: every room
    /// reachable through 0.8–1.0 m doorways (a random spanning tree and a few extra doors), up to two
    /// boxes per room that leave every passage at least 0.5 m wide, textures and panels per room.
    public static func make(roomColumns: Int = 2, roomRows: Int = 2, rng: inout SeededGenerator) -> RoomsLayout {
        precondition(roomColumns >= 1 && roomRows >= 1 && roomColumns * roomRows <= 16)
        func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
        let widths = (0..<roomColumns).map { _ in int(24, 32) }, heights = (0..<roomRows).map { _ in int(24, 32) }
        // Room (a, b) spans cells [x0[a], x0[a] + widths[a]) × [y0[b], y0[b] + heights[b]); walls between.
        var x0 = [1], y0 = [1]
        for w in widths.dropLast() { x0.append(x0.last! + w + 1) }
        for h in heights.dropLast() { y0.append(y0.last! + h + 1) }
        let columns = x0.last! + widths.last! + 1, rows = y0.last! + heights.last! + 1
        let roomCount = roomColumns * roomRows
        var cells = [UInt8](repeating: solid, count: columns * rows)
        var rooms: [Rect] = []
        for b in 0..<roomRows {
            for a in 0..<roomColumns {
                let k = b * roomColumns + a
                for j in y0[b]..<(y0[b] + heights[b]) { for i in x0[a]..<(x0[a] + widths[a]) { cells[j * columns + i] = UInt8(k) } }
                rooms.append(
                    Rect(
                        minX: Double(x0[a]) * cellSize, minY: Double(y0[b]) * cellSize,
                        maxX: Double(x0[a] + widths[a]) * cellSize, maxY: Double(y0[b] + heights[b]) * cellSize))
            }
        }
        // Doors: a random spanning tree over neighbouring rooms (random edge order, union-find), then
        // each left-over wall gets a door with probability 0.3.
        var edges: [(Int, Int)] = []
        for b in 0..<roomRows {
            for a in 0..<roomColumns {
                let k = b * roomColumns + a
                if a + 1 < roomColumns { edges.append((k, k + 1)) }
                if b + 1 < roomRows { edges.append((k, k + roomColumns)) }
            }
        }
        for i in stride(from: edges.count - 1, to: 0, by: -1) { edges.swapAt(i, int(0, i)) }
        var root = Array(0..<roomCount)
        func find(_ k: Int) -> Int {
            var k = k
            while root[k] != k { k = root[k] }
            return k
        }
        var doors: [Rect] = []
        for (p, q) in edges {
            let (rp, rq) = (find(p), find(q))
            let inTree = rp != rq
            if inTree { root[rp] = rq } else if rng.unit() >= 0.3 { continue }
            let width = int(8, 10)
            let (a, b) = (p % roomColumns, p / roomColumns)
            if q == p + 1 {
                // The wall column between room a and a + 1, the door somewhere along room b's height.
                let i = x0[a] + widths[a], j = y0[b] + int(3, heights[b] - width - 3)
                for jj in j..<(j + width) { cells[jj * columns + i] = doorway }
                doors.append(
                    Rect(
                        minX: Double(i) * cellSize, minY: Double(j) * cellSize, maxX: Double(i + 1) * cellSize,
                        maxY: Double(j + width) * cellSize))
            } else {
                let j = y0[b] + heights[b], i = x0[a] + int(3, widths[a] - width - 3)
                for ii in i..<(i + width) { cells[j * columns + ii] = doorway }
                doors.append(
                    Rect(
                        minX: Double(i) * cellSize, minY: Double(j) * cellSize, maxX: Double(i + width) * cellSize,
                        maxY: Double(j + 1) * cellSize))
            }
        }
        // Boxes: 3–5 cells a side, at least 5 cells from every wall, doorway and other box.
        var obstacles: [Rect] = []
        for k in 0..<roomCount {
            let r = rooms[k]
            for _ in 0..<int(0, 2) {
                let side = int(3, 5)
                let (ri0, rj0) = (Int((r.minX / cellSize).rounded()), Int((r.minY / cellSize).rounded()))
                let (ri1, rj1) = (Int((r.maxX / cellSize).rounded()), Int((r.maxY / cellSize).rounded()))
                let i = int(ri0 + 5, ri1 - 5 - side), j = int(rj0 + 5, rj1 - 5 - side)
                let box = Rect(
                    minX: Double(i) * cellSize, minY: Double(j) * cellSize, maxX: Double(i + side) * cellSize,
                    maxY: Double(j + side) * cellSize)
                let clearance = 0.5
                let crowded = (doors + obstacles).contains { o in
                    box.minX - clearance < o.maxX && o.minX < box.maxX + clearance && box.minY - clearance < o.maxY
                        && o.minY < box.maxY + clearance
                }
                if crowded { continue }
                for jj in j..<(j + side) { for ii in i..<(i + side) { cells[jj * columns + ii] = solid } }
                obstacles.append(box)
            }
        }
        // Looks: room k's walls are texture k, boxes texture roomCount, door jambs roomCount + 1, panels after.
        let palette: [Float] = [0.30, 0.42, 0.54, 0.66, 0.78, 0.36, 0.48, 0.60, 0.72, 0.84, 0.33, 0.45, 0.57, 0.69, 0.81, 0.39]
        var order = Array(0..<palette.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, int(0, i)) }
        var textures: [WallTexture] = []
        var floorShades: [Float] = []
        for k in 0..<roomCount {
            let base = palette[order[k]]
            let periods: [Float] = [0, 0.15, 0.3, 0.6]
            let bandLow = Float(rng.uniform(0.0, 0.1))
            textures.append(
                WallTexture(
                    base: base, stripePeriod: periods[int(0, 3)], stripeContrast: base > 0.55 ? -0.12 : 0.12,
                    bandLow: bandLow, bandHigh: bandLow + Float(rng.uniform(0.04, 0.12)), bandShade: base > 0.55 ? 0.2 : 0.9))
            floorShades.append(Float(rng.uniform(0.22, 0.45)))
        }
        textures.append(WallTexture(base: 0.9, stripePeriod: 0.1, stripeContrast: -0.5, bandLow: 0, bandHigh: 0, bandShade: 0))
        textures.append(WallTexture(base: 0.15, stripePeriod: 0, stripeContrast: 0, bandLow: 0, bandHigh: 0, bandShade: 0))
        var faces = [UInt8](repeating: 0, count: columns * rows * 4)
        let offsets = [-1, 1, -columns, columns]
        for c in 0..<(columns * rows) where cells[c] == solid {
            let (i, j) = (c % columns, c / columns)
            let isBox = obstacles.contains { $0.contains(Vec2((Double(i) + 0.5) * cellSize, (Double(j) + 0.5) * cellSize)) }
            for f in 0..<4 {
                let n = c + offsets[f]
                let inside = (f == 0 && i > 0) || (f == 1 && i + 1 < columns) || (f == 2 && j > 0) || (f == 3 && j + 1 < rows)
                guard inside, cells[n] != solid else { continue }
                if isBox {
                    faces[c * 4 + f] = UInt8(roomCount)
                } else if cells[n] == doorway {
                    faces[c * 4 + f] = UInt8(roomCount + 1)
                } else {
                    faces[c * 4 + f] = cells[n]
                }
            }
        }
        // Panels: two or three per room, 0.4–0.7 m wide, on wall faces that look into the room.
        for k in 0..<roomCount {
            for _ in 0..<int(2, 3) {
                let base = textures[k].base
                let shade: Float = base > 0.55 ? Float(rng.uniform(0.05, 0.25)) : Float(rng.uniform(0.8, 1.0))
                let low = Float(rng.uniform(0.15, 0.3))
                textures.append(
                    WallTexture(
                        base: shade, stripePeriod: rng.unit() < 0.5 ? 0 : 0.1, stripeContrast: shade > 0.5 ? -0.25 : 0.25,
                        bandLow: low, bandHigh: low + 0.05, bandShade: base))
                let id = UInt8(textures.count - 1)
                let r = rooms[k]
                let width = int(4, 7)
                let (ri0, rj0) = (Int((r.minX / cellSize).rounded()), Int((r.minY / cellSize).rounded()))
                let (ri1, rj1) = (Int((r.maxX / cellSize).rounded()), Int((r.maxY / cellSize).rounded()))
                // One of the room's four walls (west, east, south, north), `f` the face the room sees.
                let wall = int(0, 3)
                let start = wall < 2 ? rj0 + 1 + int(0, rj1 - rj0 - width - 2) : ri0 + 1 + int(0, ri1 - ri0 - width - 2)
                for t in start..<(start + width) {
                    let c: Int, f: Int
                    switch wall {
                    case 0: (c, f) = (t * columns + ri0 - 1, 1)
                    case 1: (c, f) = (t * columns + ri1, 0)
                    case 2: (c, f) = ((rj0 - 1) * columns + t, 3)
                    default: (c, f) = (rj1 * columns + t, 2)
                    }
                    if cells[c] == solid && faces[c * 4 + f] == UInt8(k) { faces[c * 4 + f] = id }
                }
            }
        }
        return RoomsLayout(
            columns: columns, rows: rows, cells: cells, faceTextures: faces, textures: textures, floorShades: floorShades,
            rooms: rooms, doors: doors, obstacles: obstacles)
    }

    /// The occupied cells as rectangles, m: runs of solid cells per grid row (for pictures).
    public var wallRects: [Rect] {
        var out: [Rect] = []
        let s = Self.cellSize
        for j in 0..<rows {
            var i = 0
            while i < columns {
                guard cells[j * columns + i] == Self.solid else { i += 1; continue }
                let i0 = i
                while i < columns && cells[j * columns + i] == Self.solid { i += 1 }
                out.append(Rect(minX: Double(i0) * s, minY: Double(j) * s, maxX: Double(i) * s, maxY: Double(j + 1) * s))
            }
        }
        return out
    }

    /// The room graph: rooms `a` and `b` share a doorway.
    public func adjacent(_ a: Int, _ b: Int) -> Bool {
        doors.contains { d in
            let c = Vec2((d.minX + d.maxX) / 2, (d.minY + d.maxY) / 2)
            let n = [Vec2(c.x - 0.15, c.y), Vec2(c.x + 0.15, c.y), Vec2(c.x, c.y - 0.15), Vec2(c.x, c.y + 0.15)].compactMap { room(at: $0) }
            return n.contains(a) && n.contains(b)
        }
    }

    /// A pose in room `k` whose disc of `radius` + 0.1 m is free, heading uniform.
    public func freePose(inRoom k: Int, radius: Double, rng: inout SeededGenerator) -> Pose {
        let r = rooms[k]
        for _ in 0..<1000 {
            let p = Vec2(rng.uniform(r.minX + radius, r.maxX - radius), rng.uniform(r.minY + radius, r.maxY - radius))
            if discIsFree(p, radius: radius + 0.1) { return Pose(x: p.x, y: p.y, heading: rng.uniform(-Double.pi, Double.pi)) }
        }
        preconditionFailure("room \(k) has no free place for a disc of \(radius) m")
    }
}
