import Foundation

/// A line chart: several named series on shared axes (linear or log y), grid, ticks, legend.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(Double, Double)]
        public var markers: Bool
    }
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logY: Bool
    public private(set) var series: [Series] = []

    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logY = logY
    }

    public mutating func add(name: String, points: [(Double, Double)], markers: Bool = false) {
        series.append(Series(name: name, points: points.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }, markers: markers))
    }

    public func render(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        let left = 70, right = 170, top = 30, bottom = 45
        let pw = width - left - right, ph = height - top - bottom
        img.text(title, x: left, y: 10, .black)
        let all = series.flatMap(\.points)
        guard !all.isEmpty, pw > 10, ph > 10 else { return img }
        var x0 = all.map(\.0).min()!, x1 = all.map(\.0).max()!
        if x1 <= x0 { x1 = x0 + 1 }
        func ty(_ v: Double) -> Double { logY ? log10(v) : v }
        var y0 = all.map { ty($0.1) }.min()!, y1 = all.map { ty($0.1) }.max()!
        if logY { y0 = floor(y0); y1 = ceil(y1) }
        if y1 <= y0 { y1 = y0 + 1 }
        if !logY { let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad }
        x0 = min(x0, x1)
        func px(_ x: Double) -> Double { Double(left) + (x - x0) / (x1 - x0) * Double(pw - 1) }
        func py(_ y: Double) -> Double { Double(top + ph - 1) - (ty(y) - y0) / (y1 - y0) * Double(ph - 1) }

        // Grid and ticks.
        let yTicks: [Double] = logY ? stride(from: y0, through: y1, by: 1).map { pow(10, $0) } : niceTicks(y0, y1).map { $0 }
        for v in yTicks {
            let y = Int(py(v).rounded())
            img.line(Double(left), Double(y), Double(left + pw - 1), Double(y), .lightGray)
            let label = logY ? "1e\(Int(log10(v).rounded()))" : formatTick(v)
            img.text(label, x: left - 6 - RGBImage.textWidth(label), y: y - 3, .black)
        }
        for v in niceTicks(x0, x1) {
            let x = Int(px(v).rounded())
            img.line(Double(x), Double(top), Double(x), Double(top + ph - 1), .lightGray)
            let label = formatTick(v)
            img.text(label, x: x - RGBImage.textWidth(label) / 2, y: top + ph + 6, .black)
        }
        img.rectOutline(x: left, y: top, width: pw, height: ph, .gray)
        img.text(xLabel, x: left + pw / 2 - RGBImage.textWidth(xLabel) / 2, y: height - 16, .black)
        img.verticalText(yLabel, x: 8, y: top + ph / 2 + RGBImage.textWidth(yLabel) / 2, .black)

        for (k, s) in series.enumerated() {
            let c = RGB.palette[k % RGB.palette.count]
            for i in 1..<max(1, s.points.count) {
                img.line(px(s.points[i - 1].0), py(s.points[i - 1].1), px(s.points[i].0), py(s.points[i].1), c, thickness: 2)
            }
            if s.markers || s.points.count == 1 { for p in s.points { img.disc(px(p.0), py(p.1), radius: 3.5, c) } }
            let ly = top + 8 + k * 16
            img.fillRect(x: left + pw + 12, y: ly, width: 16, height: 4, c)
            img.text(s.name, x: left + pw + 34, y: ly - 2, .black)
        }
        return img
    }
}

/// About five round tick values covering [lo, hi].
func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let span = hi - lo
    guard span > 0, span.isFinite else { return [lo] }
    let raw = span / 5
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    var v = ceil(lo / step) * step
    var out: [Double] = []
    while v <= hi + step * 1e-9 { out.append(v); v += step }
    return out
}

func formatTick(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 10000 || abs(v) < 0.01 { return String(format: "%.0e", v) }
    if v == v.rounded() { return String(Int(v)) }
    return String(format: "%g", (v * 1000).rounded() / 1000)
}
