/// Heat maps side by side, one panel per grid of values: dark is low, light is high, each panel scaled to
/// its own largest value; a NaN cell (no value there, e.g. inside a wall) is drawn blue; an optional red
/// marker (grid units) shows a place of interest.
public struct HeatMapStrip: Sendable {
    public struct Panel: Sendable {
        /// Row-major, `width × height`.
        public var values: [Double]
        public var width: Int
        public var height: Int
        public var marker: (x: Double, y: Double)?
        public init(values: [Double], width: Int, height: Int, marker: (x: Double, y: Double)? = nil) {
            precondition(values.count == width * height, "values must fill the grid")
            (self.values, self.width, self.height, self.marker) = (values, width, height, marker)
        }

        /// The largest value (1 when there is none).
        public var maximum: Double { values.filter { !$0.isNaN }.max() ?? 1 }
    }

    /// Pixels per grid cell.
    public var cellSize: Int
    public var panels: [Panel] = []
    public static let blocked = RGB(0, 0, 160)
    static let gap = 8

    public init(cellSize: Int) { self.cellSize = cellSize }

    public func render() -> RGBImage {
        let widths = panels.map { $0.width * cellSize + Self.gap }
        var img = RGBImage(width: max(1, widths.reduce(0, +)), height: max(1, panels.map { $0.height * cellSize }.max() ?? 1))
        var ox = 0
        for (p, w) in zip(panels, widths) {
            let top = p.maximum > 0 ? p.maximum : 1
            for y in 0..<p.height {
                for x in 0..<p.width {
                    let v = p.values[y * p.width + x]
                    let q = UInt8(min(255, max(0, 255 * v / top)))
                    img.fillRect(
                        x: ox + x * cellSize, y: y * cellSize, width: cellSize, height: cellSize, v.isNaN ? Self.blocked : RGB(q, q, q))
                }
            }
            if let m = p.marker { img.disc(Double(ox) + m.x * Double(cellSize), m.y * Double(cellSize), radius: 4, RGB(255, 0, 0)) }
            ox += w
        }
        return img
    }
}
