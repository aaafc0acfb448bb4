import NeuralEngine
import RobotCore
import Safety
import WorldModel

/// The world model's view of the camera, updated inside the tick: encodes each frame with the
/// int8 encoder and compares the latent with the predictor's forecast from the previous latent and
/// the efforts the governor actually applied after it. The mean squared difference per latent
/// dimension is the model's one-step "surprise". Allocation-free after init.
public final class LatentObserver {
    public let latentSize: Int
    /// The governor channel of each of the model's actions (`plannedChannels`).
    public let channels: [Int]
    private let maxChannel: Int
    private let encoder: QuantizedNetwork
    /// The predictor for one row on the project's own dense kernels (no BLAS library in the tick).
    private let predictor: DenseStack
    /// The newest frame's latent (valid once `hasLatent`).
    public private(set) var latent: [Float]
    public private(set) var hasLatent = false
    /// The frame before's latent, and the latent distance of the last step: the one the predictor
    /// forecast for the applied action and the one observed (valid when `hasStep`).
    public private(set) var previousLatent: [Float]
    public private(set) var predictedMove: Float = 0
    public private(set) var observedMove: Float = 0
    public private(set) var hasStep = false
    /// Time to encode one frame (int8), wall clock.
    public private(set) var encodeTime = LatencyHistogram()
    /// One-step surprise: the last value, sum and count, an exponential moving average (α = 0.1), the max.
    public private(set) var surprise = 0.0
    public private(set) var surpriseSum = 0.0
    public private(set) var surpriseCount = 0
    public private(set) var smoothedSurprise = 0.0
    public private(set) var maxSurprise = 0.0
    /// Smoothed surprise above which the model is "surprised" (nil: never).
    public var threshold: Double?
    /// Ticks on which the smoothed surprise was above the threshold.
    public private(set) var surprisedTicks = 0
    private let timer: RobotClock

    /// `timer` measures encode time (a real clock even when the loop runs on a manual one).
    /// `thresholdFactor` × the model's validation p99 one-step error is the surprise threshold (nil: none).
    /// `kernel`: the predictor's dense kernel (nil: the fastest that passes its check). `channels`: the governor
    /// channel of each of the model's actions.
    public init(
        model: WorldModelFile, channels: [Int], timer: RobotClock, thresholdFactor: Double? = nil, kernel: DenseKernel? = nil
    ) throws {
        guard channels.count == model.actions.count, channels.allSatisfy({ $0 >= 0 }) else {
            throw ModelError("the model takes \(model.actions.count) actions, \(channels.count) channels were given for them")
        }
        self.channels = channels
        maxChannel = channels.max() ?? 0
        encoder = try model.makeQuantizedEncoder()
        predictor = try model.makeRolloutPredictor(capacity: 1, kernel: kernel).stack
        latentSize = model.latentSize
        latent = [Float](repeating: 0, count: model.latentSize)
        previousLatent = latent
        self.timer = timer
        if let thresholdFactor, let p99 = model.validationOneStepErrorP99 { threshold = p99 * thresholdFactor }
    }

    public var meanSurprise: Double { surpriseCount == 0 ? 0 : surpriseSum / Double(surpriseCount) }
    /// A NaN surprise counts as surprised (a comparison with NaN is false, so it is tested the other way).
    public var isSurprised: Bool { threshold.map { !(smoothedSurprise <= $0) } ?? false }
    /// The newest latent or forecast holds a NaN or ∞: the model's output cannot be used.
    public private(set) var outputInvalid = false

    /// Forget the previous latent (a new episode: the world jumped).
    public func reset() {
        hasLatent = false
        hasStep = false
        smoothedSurprise = 0
    }

    /// Encodes `frame` (when valid) and scores the forecast made from the previous latent and `applied`.
    public func observe(_ frame: Frame, applied: ChannelVector) {
        guard frame.isValid else { return }
        guard frame.pixels.count == encoder.input.count else {
            // A frame the encoder cannot take (checked against the board at load, so a driver fault): no latent.
            outputInvalid = true
            return
        }
        let t0 = timer.now()
        encoder.input.assignGray8(frame.pixels)
        let z = encoder.forward()
        encodeTime.record(timer.now() - t0)
        let d = latentSize
        var finite = true
        for j in 0..<d where !z[j].isFinite { finite = false }
        hasStep = false
        if hasLatent && applied.count > maxChannel {
            predictor.input.withUnsafeMutableBufferPointer { x in
                for j in 0..<d { x[j] = latent[j] }
                for j in 0..<channels.count { x[d + j] = Float(applied[channels[j]]) }
            }
            predictor.forward(rows: 1)
            let f = predictor.output
            var s = 0.0
            var predicted: Float = 0, observed: Float = 0
            for j in 0..<d {
                let e = Double(latent[j] + f[j] - z[j])
                s += e * e
                predicted += f[j] * f[j]
                observed += (z[j] - latent[j]) * (z[j] - latent[j])
            }
            (predictedMove, observedMove, hasStep) = (predicted.squareRoot(), observed.squareRoot(), true)
            for j in 0..<d where !f[j].isFinite { finite = false }
            s /= Double(d)
            surprise = s
            surpriseSum += s
            surpriseCount += 1
            smoothedSurprise = surpriseCount == 1 ? s : 0.9 * smoothedSurprise + 0.1 * s
            maxSurprise = max(maxSurprise, s)
            if isSurprised { surprisedTicks += 1 }
        }
        outputInvalid = !finite
        for j in 0..<d { previousLatent[j] = latent[j]; latent[j] = z[j] }
        hasLatent = true
    }

    /// The int8 latent of one gray frame (goal images), outside the tick.
    public func encode(_ pixels: [UInt8]) -> [Float] {
        encoder.input.assignGray8(pixels)
        return encoder.forward().scalars
    }
}

/// Refuses a channel map (`plannedChannels`) that names a channel `governor` does not have.
func requireChannels(_ channels: [Int], of governor: SafetyGovernor) throws {
    if let bad = channels.first(where: { $0 >= governor.channelCount }) {
        throw ModelError("the model's actions map to channel \(bad), the board has \(governor.channelCount) channels")
    }
}

/// Runs the world model alongside another command source (the waypoint follower, the teleop
/// arbiter), inside the tick, so its surprise is watched whoever drives.
public final class LatentMonitor: CommandSource {
    public var inner: CommandSource
    public let governor: SafetyGovernor
    public let observer: LatentObserver
    public var origin: CommandOrigin { inner.origin }
    public var isLinkLost: Bool { inner.isLinkLost }
    public var isSurprised: Bool { observer.isSurprised }
    public var isStarved: Bool { inner.isStarved }
    public var isModelOutputInvalid: Bool { observer.outputInvalid }

    /// `channels`: the governor channel of each of the model's actions (`plannedChannels`).
    public init(
        inner: CommandSource, model: WorldModelFile, channels: [Int], governor: SafetyGovernor, timer: RobotClock,
        surpriseThresholdFactor: Double? = nil
    ) throws {
        self.inner = inner
        self.governor = governor
        try requireChannels(channels, of: governor)
        observer = try LatentObserver(model: model, channels: channels, timer: timer, thresholdFactor: surpriseThresholdFactor)
    }

    public func reset() { observer.reset() }

    public func resume() { inner.resume() }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        observer.observe(frame, applied: governor.lastOutput.efforts)
        return inner.decide(frame: frame, now: now, into: &command)
    }
}
