import Foundation
import NeuralEngine
import Testing
@testable import WorldModel

/// A model file names its actions and the efforts it was trained on; loading checks them.
@Suite struct ModelActionsTests {
    static let seedPath = UntrustedModelTests.seedPath

    func loadError(actions: String?, actionSize: String? = nil) throws -> String? {
        var f = try SafetensorsFile.read(path: Self.seedPath)
        f.metadata["actions"] = actions
        if let actionSize { f.metadata["action_size"] = actionSize }
        do {
            _ = try WorldModelFile.parse(f, path: "m.safetensors")
            return nil
        } catch { return "\(error)" }
    }

    @Test(
        "bad action metadata is refused with the file and the reason",
        arguments: [
            (nil, "2", "has no \"actions\""),
            ("[{\"name\":\"vx\"}]", "1", "is not a list of"),
            ("[]", "0", "names 0 actions"),
            ("[{\"name\":\"vx\",\"lower\":-1,\"upper\":1},{\"name\":\"vx\",\"lower\":-1,\"upper\":1}]", "2", "repeated name \"vx\""),
            ("[{\"name\":\"vx\",\"lower\":-1,\"upper\":1},{\"name\":\"vy\",\"lower\":0.5,\"upper\":0.5}]", "2", "vy's span [0.5, 0.5]"),
            ("[{\"name\":\"vx\",\"lower\":-2,\"upper\":1},{\"name\":\"vy\",\"lower\":-1,\"upper\":1}]", "2", "within [-1, 1]"),
            ("[{\"name\":\"vx\",\"lower\":-1,\"upper\":1},{\"name\":\"vy\",\"lower\":-1,\"upper\":1}]", "3", "action_size is 3"),
            // One action named, but the predictor takes [latent + 2].
            ("[{\"name\":\"throttle\",\"lower\":0,\"upper\":1}]", "1", "[latent + 1 actions]"),
        ] as [(String?, String, String)])
    func refused(actions: String?, actionSize: String, reason: String) throws {
        let e = try #require(try loadError(actions: actions, actionSize: actionSize))
        #expect(e.hasPrefix("m.safetensors: ") && e.contains(reason), "\(e)")
    }

    @Test("a model of three actions writes and loads with their names and spans")
    func roundTrip() throws {
        let f = try SafetensorsFile.read(path: Self.seedPath)
        var m = try WorldModelFile.parse(f, path: "seed")
        m.actions = [
            ModelAction(name: "steering", lower: -1, upper: 1), ModelAction(name: "throttle", lower: 0, upper: 0.6),
            ModelAction(name: "winch", lower: -0.5, upper: 0.5),
        ]
        m.predictorLayers = WorldModelArchitecture.predictor(latent: m.latentSize, actions: 3, hidden: 8)
        m.predictor = Parameters.initialized(for: m.predictorLayers, seed: 3)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("three-actions-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try m.write(path: path)
        let back = try WorldModelFile.load(path: path)
        #expect(back.actions == m.actions)
        #expect(try back.makePredictor().inputShape == [m.latentSize + 3])
    }

    @Test("training's spans are the data's, rounded outward to 0.05; an action that never varies is refused")
    func spansFromData() throws {
        let frames = [UInt8](repeating: 0, count: 64 * 64 * 4)
        let e = try Episode(
            width: 64, height: 64, frames: frames, actions: [-0.42, 0.0, 0.3, 0.93, 0.2, 0.999_9], actionSize: 2, positions: nil,
            source: "t")
        let spans = try Dataset(episodes: [e], actionNames: ["steering", "throttle"], validationFraction: 0, seed: 1).modelActions()
        #expect(spans.map(\.name) == ["steering", "throttle"])
        #expect(abs(spans[0].lower + 0.45) < 1e-9 && abs(spans[0].upper - 0.3) < 1e-9, "\(spans[0])")
        #expect(abs(spans[1].lower - 0) < 1e-9 && spans[1].upper == 1, "\(spans[1])")
        let still = try Episode(
            width: 64, height: 64, frames: frames, actions: [0.2, 0, 0.4, 0, 0.1, 0], actionSize: 2, positions: nil, source: "t")
        #expect {
            try Dataset(episodes: [still], actionNames: ["steering", "lamp"], validationFraction: 0, seed: 1).modelActions()
        } throws: { "\($0)".contains("lamp never varies") }
        #expect {
            try Dataset(episodes: [still], actionNames: ["steering"], validationFraction: 0, seed: 1)
        } throws: { "\($0)".contains("2 efforts per action") }
    }
}
