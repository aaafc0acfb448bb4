import Foundation

/// A contact sheet of 2-D episodes: one panel per episode with its walls, start (green), goal
/// (red ring: the success radius), and the path taken (blue; orange when it failed). Headings, where
/// given, are short strokes from the start and goal.
public struct TrajectorySheet: Sendable {
    public struct Panel: Sendable {
        /// Wall rectangles (minX, minY, maxX, maxY) in world units.
        public var walls: [(Double, Double, Double, Double)]
        public var start: (Double, Double)
        public var goal: (Double, Double)
        public var path: [(Double, Double)]
        public var success: Bool
        public var label: String
        /// Headings of the start and goal poses, radians counter-clockwise from +x (nil: a point).
        public var startHeading: Double?
        public var goalHeading: Double?
        public init(
            walls: [(Double, Double, Double, Double)], start: (Double, Double), goal: (Double, Double),
            path: [(Double, Double)], success: Bool, label: String, startHeading: Double? = nil, goalHeading: Double? = nil
        ) {
            (self.walls, self.start, self.goal, self.path, self.success, self.label) = (walls, start, goal, path, success, label)
            (self.startHeading, self.goalHeading) = (startHeading, goalHeading)
        }
    }

    public var title: String
    /// World size, in world units.
    public var worldWidth: Double
    public var worldHeight: Double
    /// Radius drawn around the goal, world units.
    public var goalRadius: Double
    /// True for worlds whose y points up (north up in the picture); false for image coordinates.
    public var yUp = false
    public var panels: [Panel] = []

    /// A square world of `worldSize` units.
    public init(title: String, worldSize: Double, goalRadius: Double) {
        self.init(title: title, worldWidth: worldSize, worldHeight: worldSize, goalRadius: goalRadius)
    }

    public init(title: String, worldWidth: Double, worldHeight: Double, goalRadius: Double, yUp: Bool = false) {
        self.title = title
        self.worldWidth = worldWidth
        self.worldHeight = worldHeight
        self.goalRadius = goalRadius
        self.yUp = yUp
    }

    /// Renders `columns` panels per row, `scale` pixels per world unit.
    public func render(columns: Int = 8, scale: Double = 3) -> RGBImage {
        let sideX = Int((worldWidth * scale).rounded(.up)), sideY = Int((worldHeight * scale).rounded(.up))
        let gap = 6, header = 22, caption = 12
        let cols = max(1, min(columns, panels.count))
        let rows = (panels.count + cols - 1) / cols
        var img = RGBImage(
            width: max(cols * (sideX + gap) + gap, RGBImage.textWidth(title) + 2 * gap),
            height: header + rows * (sideY + caption + gap) + gap)
        img.text(title, x: gap, y: 6, .black)
        let s = scale
        for (i, p) in panels.enumerated() {
            let ox = gap + (i % cols) * (sideX + gap), oy = header + (i / cols) * (sideY + caption + gap)
            // World to picture: x right; y down, or up when `yUp`.
            let px = { (x: Double) in Double(ox) + x * s }
            let py = { (y: Double) in Double(oy) + (yUp ? worldHeight - y : y) * s }
            img.fillRect(x: ox, y: oy, width: sideX, height: sideY, RGB(24, 24, 28))
            for w in p.walls {
                let x0 = Int(px(w.0).rounded()), x1 = Int(px(w.2).rounded())
                let ya = Int(py(w.1).rounded()), yb = Int(py(w.3).rounded())
                img.fillRect(x: x0, y: min(ya, yb), width: x1 - x0, height: abs(yb - ya), RGB(150, 150, 150))
            }
            let pathColor = p.success ? RGB(80, 160, 255) : RGB(255, 150, 40)
            for k in 1..<max(1, p.path.count) {
                let a = p.path[k - 1], b = p.path[k]
                img.line(px(a.0), py(a.1), px(b.0), py(b.1), pathColor)
            }
            let (gx, gy) = (px(p.goal.0), py(p.goal.1)), (sx, sy) = (px(p.start.0), py(p.start.1))
            ring(&img, gx, gy, goalRadius * s, RGB(240, 60, 60))
            img.disc(gx, gy, radius: 1.5, RGB(240, 60, 60))
            img.disc(sx, sy, radius: 2.5, RGB(60, 220, 90))
            let stroke = max(6, goalRadius * s * 1.5)
            if let h = p.goalHeading { img.line(gx, gy, gx + stroke * cos(h), gy - (yUp ? 1 : -1) * stroke * sin(h), RGB(240, 60, 60)) }
            if let h = p.startHeading { img.line(sx, sy, sx + stroke * cos(h), sy - (yUp ? 1 : -1) * stroke * sin(h), RGB(60, 220, 90)) }
            if !p.success { img.rectOutline(x: ox - 2, y: oy - 2, width: sideX + 4, height: sideY + 4, RGB(220, 30, 30)) }
            img.text(p.label, x: ox, y: oy + sideY + 3, p.success ? .black : RGB(200, 0, 0))
        }
        return img
    }

    private func ring(_ img: inout RGBImage, _ cx: Double, _ cy: Double, _ r: Double, _ c: RGB) {
        let n = max(12, Int(r * 6))
        for k in 0..<n {
            let a0 = 2 * Double.pi * Double(k) / Double(n), a1 = 2 * Double.pi * Double(k + 1) / Double(n)
            img.line(cx + r * cos(a0), cy + r * sin(a0), cx + r * cos(a1), cy + r * sin(a1), c)
        }
    }
}
