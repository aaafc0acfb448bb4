import Reports
import Testing

@Suite struct HeatMapTests {
    func pixel(_ img: RGBImage, _ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * img.width + x)
        return RGB(img.pixels[i], img.pixels[i + 1], img.pixels[i + 2])
    }

    @Test("each panel is scaled to its own largest value; a NaN cell is blue; panels sit side by side")
    func panels() {
        var maps = HeatMapStrip(cellSize: 2)
        maps.panels.append(HeatMapStrip.Panel(values: [0, 1, 2, .nan], width: 2, height: 2))
        maps.panels.append(HeatMapStrip.Panel(values: [10, 5, 0, 10], width: 2, height: 2))
        let img = maps.render()
        #expect(img.width == 2 * (2 * 2 + 8) && img.height == 4)
        #expect(pixel(img, 0, 0) == RGB(0, 0, 0))
        #expect(pixel(img, 3, 1) == RGB(127, 127, 127))
        #expect(pixel(img, 1, 3) == RGB(255, 255, 255))
        #expect(pixel(img, 3, 3) == HeatMapStrip.blocked)
        let second = 2 * 2 + 8
        #expect(pixel(img, second, 0) == RGB(255, 255, 255) && pixel(img, second + 2, 0) == RGB(127, 127, 127))
        #expect(maps.panels[1].maximum == 10)
    }
}
