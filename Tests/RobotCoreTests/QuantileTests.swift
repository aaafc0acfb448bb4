import RobotCore
import Testing

@Suite struct QuantileTests {
    @Test("the element at ⌊q·n⌋: the upper middle for an even count, the last one at q = 1, NaN for none")
    func nearestRankBelow() {
        let odd: [Double] = [1, 2, 3, 4, 5], even: [Double] = [1, 2, 3, 4]
        #expect(quantile(sorted: odd, 0.5) == 3 && quantile(sorted: even, 0.5) == 3)
        #expect(quantile(sorted: odd, 0) == 1 && quantile(sorted: odd, 1) == 5 && quantile(sorted: odd, 0.99) == 5)
        let hundred = (1...100).map(Double.init)
        #expect(quantile(sorted: hundred, 0.99) == 100 && quantile(sorted: hundred, 0.98) == 99 && quantile(sorted: hundred, 0.5) == 51)
        #expect(quantile(sorted: [Double](), 0.5).isNaN && quantile(sorted: [Float](), 0.5).isNaN)
        #expect(quantile(sorted: [Float(7)], 0.999) == 7)
    }
}
