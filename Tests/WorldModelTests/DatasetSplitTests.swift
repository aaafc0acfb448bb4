import TestSupport
import Testing

@testable import WorldModel

@Suite struct DatasetSplitTests {
    @Test("one long drive is cut in two: its last tenth validates, so a single recording still gets validation")
    func loneEpisode() throws {
        let e = try syntheticEpisodes(count: 1, steps: 99, seed: 3)[0]
        let d = try Dataset(episodes: [e], actionNames: ["vx", "vy"], validationFraction: 0.1, seed: 1)
        #expect(d.episodes.map(\.frameCount) == [90, 10] && d.trainingEpisodes == [0] && d.validationEpisodes == [1])
        #expect(Array(d.episodes[1].frames.prefix(e.frameBytes)) == Array(e.frames[(90 * e.frameBytes)..<(91 * e.frameBytes)]))
        #expect(d.episodes[0].actions.count == 89 * 2 && d.episodes[1].positions?.count == 20)
        #expect(!d.windows(horizon: 8, in: d.validationEpisodes).isEmpty)
        // Several episodes are split by episode, as before.
        let many = try Dataset(
            episodes: try syntheticEpisodes(count: 5, steps: 20, seed: 4), actionNames: ["vx", "vy"], validationFraction: 0.2, seed: 1)
        #expect(many.episodes.count == 5 && many.validationEpisodes.count == 1)
    }
}

@Suite struct ModelEvaluationWithoutTruthTests {
    @Test("without true positions the evaluation still gives the k-step error, the spread and the int8 agreement; the probe is left out")
    func noTruth() throws {
        var eps = try syntheticEpisodes(count: 2, steps: 60, seed: 5)
        let model = try loadShippedModel()
        let withTruth = try ModelEvaluation.run(model: model, episodes: eps, horizon: 4)
        #expect(withTruth.probeR2Overall != nil)
        for i in eps.indices { eps[i].positions = nil }
        let r = try ModelEvaluation.run(model: model, episodes: [eps[0]], horizon: 4)
        #expect(r.probeR2 == nil && r.probeR2Overall == nil && r.probeRMSErrorPx == nil)
        #expect(r.predictionError.count == 4 && r.predictionError.allSatisfy(\.isFinite) && r.rollouts > 0)
        #expect(r.minCosineInt8 > 0.99 && r.spread.effectiveRank > 1)
    }
}
