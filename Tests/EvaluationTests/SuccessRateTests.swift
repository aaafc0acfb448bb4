import Evaluation
import Testing

@Suite("Evaluation statistics")
struct EvaluationStatisticsTests {
    @Test("Wilson 95 % interval matches known values and stays in [0, 1]")
    func wilson() {
        let (lo, hi) = wilsonInterval(successes: 195, trials: 200)
        #expect(abs(lo - 0.9428) < 5e-4 && abs(hi - 0.9893) < 5e-4, "\(lo) \(hi)")
        let (l0, h0) = wilsonInterval(successes: 0, trials: 50)
        #expect(l0 == 0 && abs(h0 - 0.0713) < 5e-4)
        let (l1, h1) = wilsonInterval(successes: 200, trials: 200)
        #expect(abs(l1 - 0.9812) < 5e-4 && h1 == 1)
    }
}
