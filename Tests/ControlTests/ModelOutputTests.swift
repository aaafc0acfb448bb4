import Foundation
import LinuxHardware
import NeuralEngine
import RobotCore
import Safety
import Simulation
import TestSupport
import Testing
import WorldModel
@testable import Control

@Suite("Bad model numbers fail closed")
struct ModelOutputTests {
    @Test("a model file with a NaN or ∞ weight is refused at load, naming the tensor")
    func nonFiniteWeightsRefused() throws {
        let model = try loadShippedModel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cerebellum-nan-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (part, value) in [("predictor", Float.nan), ("encoder", Float.infinity)] {
            var bad = model
            let params = part == "predictor" ? bad.predictor : bad.encoder
            let name = try #require(params.keys.sorted().first { $0.hasSuffix(".weight") })
            let t = params[name]!.copy()
            t[3] = value
            if part == "predictor" { bad.predictor[name] = t } else { bad.encoder[name] = t }
            let path = dir + "/\(part).safetensors"
            try bad.write(path: path)
            #expect {
                _ = try WorldModelFile.load(path: path)
            } throws: { e in
                "\(e)".contains("\(part).\(name)") && "\(e)".contains("non-finite") && "\(e)".contains(path)
            }
        }
    }

    @Test("a NaN latent at run time latches 'model output invalid', and the outputs go neutral")
    func nanLatentLatches() throws {
        var model = try loadShippedModel()
        // Corrupt the int8 encoder's last bias in memory (a file like this is refused at load).
        let key = try #require(model.quantizedEncoder.tensors.keys.sorted().last { $0.hasSuffix(".bias") })
        let bias = try #require(model.quantizedEncoder.tensors[key]?.as(Float.self)).copy()
        bias[0] = .nan
        model.quantizedEncoder.tensors[key] = AnyTensor(bias)
        let s = try SimSetup()
        let monitor = try LatentMonitor(
            inner: s.loop.source, model: model, channels: [0, 1], governor: s.governor, timer: SystemClock(),
            surpriseThresholdFactor: 3)
        s.loop.source = monitor
        s.loop.tick()
        #expect(monitor.observer.outputInvalid && monitor.isModelOutputInvalid)
        #expect(monitor.observer.isSurprised || !monitor.observer.hasStep, "a NaN surprise counts as surprised")
        #expect(s.governor.latchedFaults.contains(.modelOutputInvalid))
        #expect(s.governor.requestArm() != .armed)
        for _ in 0..<3 { s.loop.tick() }
        #expect(s.governor.lastOutput.isNeutral)
        #expect(monitor.observer.isSurprised, "NaN > threshold is false; the observer counts it as surprised")
    }

    @Test("a camera size the model cannot take is found at load with the sizes named, and never reaches the encoder")
    func cameraSizeChecked() throws {
        let model = try loadShippedModel()
        #expect(model.frameMismatch(width: 64, height: 64) == nil)
        let why = try #require(model.frameMismatch(width: 80, height: 60))
        #expect(why.contains("64×64") && why.contains("80×60"))
        let observer = try LatentObserver(model: model, channels: [0, 1], timer: SystemClock())
        let frame = Frame(width: 80, height: 60)
        frame.timestamp = Instant(nanoseconds: 1)
        frame.isValid = true
        observer.observe(frame, applied: ChannelVector(count: 2))
        #expect(observer.outputInvalid && !observer.hasLatent)
    }
}
