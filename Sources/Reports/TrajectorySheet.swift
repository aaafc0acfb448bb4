import Foundation

/// A contact sheet of 2-D episodes: one panel per episode with its walls, start (green), goal
/// (red ring: the success radius), and the path taken (blue; orange when it failed).
public struct TrajectorySheet: Sendable {
    public struct Panel: Sendable {
        /// Wall rectangles (minX, minY, maxX, maxY) in world units.
        public var walls: [(Double, Double, Double, Double)]
        public var start: (Double, Double)
        public var goal: (Double, Double)
        public var path: [(Double, Double)]
        public var success: Bool
        public var label: String
        public init(
            walls: [(Double, Double, Double, Double)], start: (Double, Double), goal: (Double, Double),
            path: [(Double, Double)], success: Bool, label: String
        ) {
            (self.walls, self.start, self.goal, self.path, self.success, self.label) = (walls, start, goal, path, success, label)
        }
    }

    public var title: String
    /// World size (square), in world units.
    public var worldSize: Double
    /// Radius drawn around the goal, world units.
    public var goalRadius: Double
    public var panels: [Panel] = []

    public init(title: String, worldSize: Double, goalRadius: Double) {
        self.title = title
        self.worldSize = worldSize
        self.goalRadius = goalRadius
    }

    /// Renders `columns` panels per row, each `scale` pixels per world unit.
    public func render(columns: Int = 8, scale: Int = 3) -> RGBImage {
        let side = Int(worldSize) * scale, gap = 6, header = 22, caption = 12
        let cols = max(1, min(columns, panels.count))
        let rows = (panels.count + cols - 1) / cols
        var img = RGBImage(
            width: max(cols * (side + gap) + gap, RGBImage.textWidth(title) + 2 * gap),
            height: header + rows * (side + caption + gap) + gap)
        img.text(title, x: gap, y: 6, .black)
        let s = Double(scale)
        for (i, p) in panels.enumerated() {
            let ox = gap + (i % cols) * (side + gap), oy = header + (i / cols) * (side + caption + gap)
            img.fillRect(x: ox, y: oy, width: side, height: side, RGB(24, 24, 28))
            for w in p.walls {
                let x0 = Int((w.0 * s).rounded()), y0 = Int((w.1 * s).rounded())
                let x1 = Int((w.2 * s).rounded()), y1 = Int((w.3 * s).rounded())
                img.fillRect(x: ox + x0, y: oy + y0, width: x1 - x0, height: y1 - y0, RGB(150, 150, 150))
            }
            let pathColor = p.success ? RGB(80, 160, 255) : RGB(255, 150, 40)
            for k in 1..<max(1, p.path.count) {
                let a = p.path[k - 1], b = p.path[k]
                img.line(Double(ox) + a.0 * s, Double(oy) + a.1 * s, Double(ox) + b.0 * s, Double(oy) + b.1 * s, pathColor)
            }
            ring(&img, Double(ox) + p.goal.0 * s, Double(oy) + p.goal.1 * s, goalRadius * s, RGB(240, 60, 60))
            img.disc(Double(ox) + p.goal.0 * s, Double(oy) + p.goal.1 * s, radius: 1.5, RGB(240, 60, 60))
            img.disc(Double(ox) + p.start.0 * s, Double(oy) + p.start.1 * s, radius: 2.5, RGB(60, 220, 90))
            if !p.success { img.rectOutline(x: ox - 2, y: oy - 2, width: side + 4, height: side + 4, RGB(220, 30, 30)) }
            img.text(p.label, x: ox, y: oy + side + 3, p.success ? .black : RGB(200, 0, 0))
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
