import NeuralEngine
import RobotCore
import Safety
import WorldModel

/// Runs the world model alongside another command source, inside the tick: encodes each frame
/// with the int8 encoder and compares the latent with the predictor's forecast from the previous
/// tick's latent and the action the governor actually applied then. The mean squared difference
/// per dimension is the model's one-step "surprise". Allocation-free after init.
public final class LatentMonitor: CommandSource {
    public var inner: CommandSource
    public let governor: SafetyGovernor
    public let clock: RobotClock
    public var origin: CommandOrigin { inner.origin }
    public var isLinkLost: Bool { inner.isLinkLost }
    public let latentSize: Int
    private let encoder: QuantizedNetwork
    private let predictor: Network
    private var previous: [Float]
    private var hasPrevious = false
    /// Time to encode one frame (int8), per tick.
    public private(set) var encodeTime = LatencyHistogram()
    /// One-step surprise: sum and count, and an exponential moving average (α = 0.1).
    public private(set) var surpriseSum = 0.0
    public private(set) var surpriseCount = 0
    public private(set) var smoothedSurprise = 0.0
    public private(set) var maxSurprise = 0.0

    public init(inner: CommandSource, model: WorldModelFile, governor: SafetyGovernor, clock: RobotClock) throws {
        self.inner = inner
        self.governor = governor
        self.clock = clock
        encoder = try model.makeQuantizedEncoder()
        predictor = try model.makePredictor()
        latentSize = model.latentSize
        previous = [Float](repeating: 0, count: model.latentSize)
        guard governor.channelCount >= WorldModelArchitecture.actionSize else {
            throw ModelError("the world model takes \(WorldModelArchitecture.actionSize) actions, the board has \(governor.channelCount) channels")
        }
    }

    public var meanSurprise: Double { surpriseCount == 0 ? 0 : surpriseSum / Double(surpriseCount) }

    /// Forget the previous latent (a new episode: the world jumped).
    public func reset() { hasPrevious = false }

    public func decide(frame: Frame, now: Instant, into command: inout Command) -> Bool {
        if frame.isValid {
            let t0 = clock.now()
            encoder.input.assignGray8(frame.pixels)
            let z = encoder.forward()
            encodeTime.record(clock.now() - t0)
            let d = latentSize
            if hasPrevious {
                let applied = governor.lastOutput.efforts
                predictor.input.withUnsafeMutableBufferPointer { x in
                    for j in 0..<d { x[j] = previous[j] }
                    x[d] = Float(applied[0])
                    x[d + 1] = Float(applied[1])
                }
                let f = predictor.forward()
                var s = 0.0
                for j in 0..<d {
                    let e = Double(previous[j] + f[j] - z[j])
                    s += e * e
                }
                s /= Double(d)
                surpriseSum += s
                surpriseCount += 1
                smoothedSurprise = surpriseCount == 1 ? s : 0.9 * smoothedSurprise + 0.1 * s
                maxSurprise = max(maxSurprise, s)
            }
            for j in 0..<d { previous[j] = z[j] }
            hasPrevious = true
        }
        return inner.decide(frame: frame, now: now, into: &command)
    }
}
