import Glibc
import RobotCore

/// A forward-looking pinhole camera on a ground robot in the rooms world, rendered by ray casting on the
/// occupancy grid (one ray per sub-column, walked cell by cell: DDA), with floor and ceiling cast per
/// sub-pixel. Each pixel averages 2 × 2 sub-pixels. Allocation-free after init.
public final class RayCaster {
    public let width: Int
    public let height: Int
    /// Horizontal field of view, radians.
    public let fieldOfView: Double
    /// Height of the lens above the floor, m.
    public let cameraHeight: Double
    private let sub = 2
    private let focal: Double
    /// Per sub-row: distance along the view axis at which it meets the floor (below the horizon) or the
    /// ceiling (above), m.
    private var rowDistance: [Double]
    /// Per sub-column: the ray's offset to the right of the view axis per metre of depth.
    private var columnSlope: [Double]
    /// Per sub-column, filled by each render: wall depth, texture, position along the wall, face shading.
    private var wallDepth: [Double]
    private var wallTexture: [UInt8]
    private var wallU: [Float]
    private var wallSide: [Float]
    /// The image being accumulated, gray levels 0...1 weighted.
    private var accumulator: [Float]

    public init(width: Int, height: Int, fieldOfViewDegrees: Double = 90, cameraHeight: Double = 0.15) {
        precondition(width > 0 && height > 0 && fieldOfViewDegrees > 10 && fieldOfViewDegrees < 170)
        precondition(cameraHeight > 0 && cameraHeight < RoomsLayout.wallHeight)
        self.width = width
        self.height = height
        self.fieldOfView = fieldOfViewDegrees * Double.pi / 180
        self.cameraHeight = cameraHeight
        let sw = width * sub, sh = height * sub
        let f = Double(sw) / 2 / tan(fieldOfViewDegrees * Double.pi / 360)
        focal = f
        columnSlope = (0..<sw).map { (Double($0) + 0.5 - Double(sw) / 2) / f }
        rowDistance = (0..<sh).map { r in
            let below = Double(r) + 0.5 - Double(sh) / 2
            return below > 0 ? f * cameraHeight / below : f * (RoomsLayout.wallHeight - cameraHeight) / -below
        }
        wallDepth = [Double](repeating: 0, count: sw)
        wallTexture = [UInt8](repeating: 0, count: sw)
        wallU = [Float](repeating: 0, count: sw)
        wallSide = [Float](repeating: 1, count: sw)
        accumulator = [Float](repeating: 0, count: width * height)
    }

    /// Clears the image being accumulated.
    public func clear() { for k in accumulator.indices { accumulator[k] = 0 } }

    /// Adds the view from `pose` with weight `weight` (the weights of one image sum to 1); `light` scales
    /// every shade (1: the house's lighting).
    public func accumulate(_ layout: RoomsLayout, pose: Pose, light: Float, weight: Float) {
        let sw = width * sub, sh = height * sub
        let fx = cos(pose.heading), fy = sin(pose.heading)
        // Right of the view axis: the heading turned clockwise.
        let rx = fy, ry = -fx
        let s = RoomsLayout.cellSize
        layout.cells.withUnsafeBufferPointer { cells in
            layout.faceTextures.withUnsafeBufferPointer { faces in
                for c in 0..<sw {
                    let dx = fx + rx * columnSlope[c], dy = fy + ry * columnSlope[c]
                    castRay(cells, faces, layout.columns, layout.rows, s, pose.x, pose.y, dx, dy, column: c)
                }
            }
        }
        let wallTop = RoomsLayout.wallHeight - cameraHeight
        let scale = weight / Float(sub * sub)
        layout.cells.withUnsafeBufferPointer { cells in
            accumulator.withUnsafeMutableBufferPointer { acc in
                for r in 0..<sh {
                    // Height of this sub-row's ray above the lens per metre of depth (negative: downwards).
                    let rise = (Double(sh) / 2 - Double(r) - 0.5) / focal
                    let rd = rowDistance[r]
                    let out = (r / sub) * width
                    for c in 0..<sw {
                        let depth = wallDepth[c]
                        var shade: Float
                        if rise * depth > -cameraHeight && rise * depth < wallTop {
                            let v = Float(cameraHeight + rise * depth)
                            shade = layout.textures[Int(wallTexture[c])].shade(u: wallU[c], v: v) * wallSide[c]
                            shade *= attenuation(depth)
                        } else if rise < 0 {
                            let px = pose.x + (fx + rx * columnSlope[c]) * rd, py = pose.y + (fy + ry * columnSlope[c]) * rd
                            shade = floorShade(layout, cells, px, py) * attenuation(rd)
                        } else {
                            shade = 0.62 * attenuation(rd)
                        }
                        acc[out + c / sub] += shade * light * scale
                    }
                }
            }
        }
    }

    /// The image accumulated so far into `frame` (which must be `width` × `height`), with Gaussian noise of
    /// `noise` gray levels drawn from `rng` (0: none).
    public func finish(into frame: Frame, noise: Double, rng: inout SeededGenerator) {
        precondition(frame.width == width && frame.height == height, "the camera renders \(width)×\(height) frames")
        for k in 0..<(width * height) {
            var v = Double(accumulator[k]) * 255
            if noise > 0 { v += noise * rng.normal() }
            frame.pixels[k] = UInt8(min(255, max(0, v.rounded())))
        }
    }

    /// Light falls off with distance: a wall 3 m away is 0.74 of one at the lens.
    @inline(__always)
    private func attenuation(_ d: Double) -> Float { Float(1 / (1 + 0.04 * d * d)) }

    @inline(__always)
    private func floorShade(_ layout: RoomsLayout, _ cells: UnsafeBufferPointer<UInt8>, _ x: Double, _ y: Double) -> Float {
        let s = RoomsLayout.cellSize
        let i = Int((x / s).rounded(.down)), j = Int((y / s).rounded(.down))
        guard i >= 0, j >= 0, i < layout.columns, j < layout.rows else { return 0.3 }
        let k = cells[j * layout.columns + i]
        let base: Float = k < RoomsLayout.doorway ? layout.floorShades[Int(k)] : 0.5
        // 0.5 m tiles, alternately lighter and darker.
        let tile = (Int((x * 2).rounded(.down)) + Int((y * 2).rounded(.down))) & 1
        return tile == 0 ? base + 0.05 : base - 0.05
    }

    /// Walks the ray (dx, dy) per metre of depth from (x, y) through the grid to the first occupied cell.
    @inline(__always)
    private func castRay(
        _ cells: UnsafeBufferPointer<UInt8>, _ faces: UnsafeBufferPointer<UInt8>, _ columns: Int, _ rows: Int, _ s: Double,
        _ x: Double, _ y: Double, _ dx: Double, _ dy: Double, column c: Int
    ) {
        var i = Int((x / s).rounded(.down)), j = Int((y / s).rounded(.down))
        let stepI = dx > 0 ? 1 : -1, stepJ = dy > 0 ? 1 : -1
        // Depth to cross one cell along each axis, and depth to the first crossing.
        let deltaX = dx == 0 ? Double.infinity : abs(s / dx), deltaY = dy == 0 ? Double.infinity : abs(s / dy)
        var nextX = dx == 0 ? Double.infinity : ((dx > 0 ? Double(i + 1) * s - x : x - Double(i) * s) / abs(dx))
        var nextY = dy == 0 ? Double.infinity : ((dy > 0 ? Double(j + 1) * s - y : y - Double(j) * s) / abs(dy))
        var depth = 0.0, xFace = true
        for _ in 0..<(columns + rows) * 2 {
            if nextX < nextY {
                depth = nextX
                nextX += deltaX
                i += stepI
                xFace = true
            } else {
                depth = nextY
                nextY += deltaY
                j += stepJ
                xFace = false
            }
            guard i >= 0, j >= 0, i < columns, j < rows else { break }
            let cell = j * columns + i
            if cells[cell] == RoomsLayout.solid {
                let face = xFace ? (stepI > 0 ? 0 : 1) : (stepJ > 0 ? 2 : 3)
                wallTexture[c] = faces[cell * 4 + face]
                wallU[c] = Float(xFace ? y + dy * depth : x + dx * depth)
                wallSide[c] = xFace ? 0.85 : 1
                wallDepth[c] = depth
                return
            }
        }
        wallTexture[c] = 0
        wallU[c] = 0
        wallSide[c] = 1
        wallDepth[c] = depth
    }
}
