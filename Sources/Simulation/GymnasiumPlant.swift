import Glibc
import RobotCore

/// A Gymnasium environment behind a board (`simulation: {world: gymnasium}`): what the bridge needs to start
/// the host, map the board's channels onto the action space, turn observations into camera frames and judge
/// episodes by the truth the host reports (docs/gym-bridge.md).
public struct GymnasiumSettings: Sendable, Equatable {
    /// The Gymnasium id (`gymnasium.make(env, **kwargs)`).
    public var env: String
    /// HELLO's JSON text: the id, kwargs, imports, observation source, truth paths, goal and warm-up recipes.
    public var configJSON: String
    /// The interpreter, looked up on PATH (`python3`).
    public var python: String
    /// The host script, an absolute path (the repository's scripts/gym_host.py by default).
    public var hostScript: String
    public var actionMap: GymActionMap
    /// Environment steps per control tick (the same action each), like Atari's frame skip.
    public var actionRepeat: Int
    /// Crop of the observation before it is averaged down to the camera size (x, y, width, height; nil: centred).
    public var crop: GrayResampler.Rect?
    /// Ticks before an episode ends without success (nil: the environment's own limit over `actionRepeat`).
    public var maxSteps: Int?
    /// Success: within this distance of the goal's truth position (the environment's units; nil: no such success).
    public var goalDistance: Double?
    /// … and within this heading error, degrees (needs a third truth value, radians; nil: any heading).
    public var goalHeadingDegrees: Double?
    /// How long the host may take to start and answer HELLO, and then each RESET.
    public var startTimeout: Duration
    /// How long the host may take for one STEP before the bridge gives up on it (a camera fault).
    public var stepTimeout: Duration

    public init(
        env: String, configJSON: String, python: String = "python3", hostScript: String, actionMap: GymActionMap,
        actionRepeat: Int = 1, crop: GrayResampler.Rect? = nil, maxSteps: Int? = nil, goalDistance: Double? = nil,
        goalHeadingDegrees: Double? = nil, startTimeout: Duration = .seconds(60), stepTimeout: Duration = .seconds(2)
    ) {
        self.env = env
        self.configJSON = configJSON
        self.python = python
        self.hostScript = hostScript
        self.actionMap = actionMap
        self.actionRepeat = actionRepeat
        self.crop = crop
        self.maxSteps = maxSteps
        self.goalDistance = goalDistance
        self.goalHeadingDegrees = goalHeadingDegrees
        self.startTimeout = startTimeout
        self.stepTimeout = stepTimeout
    }
}

/// How the board's channels become the environment's action. Each channel's drive is what its simulated
/// servo makes of the pulse (−1…1, through `ActuatorPhysics`), so calibration and the governor stand in
/// front as on every board.
public enum GymActionMap: Sendable, Equatable {
    /// One entry per component of a Box action.
    case box([BoxComponent])
    /// The first rule whose condition holds picks the action; none: `idle`, or no step at all when `idle` is nil
    /// (the world holds still: neutral efforts must not move a robot whose environment has no no-op action).
    case discrete(rules: [DiscreteRule], idle: Int?)

    public enum BoxComponent: Sendable, Equatable {
        /// Drive −1…1 of `channel` → `low`…`high`, linearly.
        case linear(channel: Int, low: Double, high: Double)
        /// The drive's positive part 0…1 → `low`…`high` (negative drives give `low`): a gas pedal.
        case positive(channel: Int, low: Double, high: Double)
        /// The drive's negative part 0…1 (of −drive) → `low`…`high`: a brake on reverse throttle.
        case negative(channel: Int, low: Double, high: Double)
        case constant(Double)
    }

    /// `action` when `channel`'s drive is above `above` (or below `below`).
    public struct DiscreteRule: Sendable, Equatable {
        public var channel: Int
        public var above: Double?
        public var below: Double?
        public var action: Int
        public init(channel: Int, above: Double? = nil, below: Double? = nil, action: Int) {
            self.channel = channel
            self.above = above
            self.below = below
            self.action = action
        }
        func holds(_ drives: [Double]) -> Bool {
            let d = drives[channel]
            if let a = above, !(d > a) { return false }
            if let b = below, !(d < b) { return false }
            return true
        }
    }

    /// The action for these channel drives (each −1…1), clamped into `space` when it is a Box; nil: no step.
    public func action(drives: [Double], space: GymActionSpace) -> GymAction? {
        switch self {
        case .box(let components):
            var values = components.map { c -> Double in
                switch c {
                case .linear(let ch, let lo, let hi): lo + (max(-1, min(1, drives[ch])) + 1) / 2 * (hi - lo)
                case .positive(let ch, let lo, let hi): lo + max(0, min(1, drives[ch])) * (hi - lo)
                case .negative(let ch, let lo, let hi): lo + max(0, min(1, -drives[ch])) * (hi - lo)
                case .constant(let v): v
                }
            }
            if case .box(let low, let high) = space {
                for i in values.indices { values[i] = max(low[i], min(high[i], values[i])) }
            }
            return .box(values)
        case .discrete(let rules, let idle):
            return (rules.first { $0.holds(drives) }?.action ?? idle).map { .discrete($0) }
        }
    }

    /// Why this map does not fit `space` (nil: it fits).
    public func mismatch(with space: GymActionSpace) -> String? {
        switch (self, space) {
        case (.box(let components), .box(let low, _)):
            components.count == low.count
                ? nil : "the action map has \(components.count) components, the environment's Box has \(low.count)"
        case (.discrete(let rules, let idle), .discrete(let n, let start)):
            (rules.map(\.action) + (idle.map { [$0] } ?? [])).first { !(start..<(start + n)).contains($0) }
                .map { "action \($0) is outside the environment's Discrete(\(n), start \(start))" }
        case (.box, .discrete): "the action map is for a Box, the environment's actions are Discrete"
        case (.discrete, .box): "the action map is for Discrete actions, the environment's are a Box"
        }
    }
}

/// The connection to one Gymnasium host process: whole messages out, whole payloads in within a deadline.
public protocol GymHostLink: AnyObject {
    /// Sends one message (header included).
    func send(_ message: [UInt8]) -> GymLinkFailure?
    /// The next payload (type byte first) within `timeout`.
    func receive(timeout: Duration) -> Result<[UInt8], GymLinkFailure>
    /// Ends the host: CLOSE, and a kill if it lingers. Safe to call twice.
    func close()
}

/// Why the host could not be talked to.
public enum GymLinkFailure: Error, Equatable, CustomStringConvertible {
    /// The host exited or closed its end (how it ended, when known).
    case closed(String)
    /// No whole reply within the timeout.
    case timedOut(Duration)
    /// A reply that breaks the protocol.
    case malformed(String)
    /// The host's own ERROR message.
    case hostError(String)

    public var description: String {
        switch self {
        case .closed(let how): "the host is gone (\(how))"
        case .timedOut(let d): "the host did not answer within \(Int(d.inSeconds * 1000)) ms"
        case .malformed(let why): "malformed reply: \(why)"
        case .hostError(let text): "the host reported: \(text)"
        }
    }

    /// The device failure the camera and actuators report for it (the governor latches their faults).
    public var deviceFailure: DeviceFailure {
        switch self {
        case .closed: .lost
        case .timedOut: .io(errno: .timedOut)
        case .malformed: .io(errno: .protocolError)
        case .hostError: .io(errno: .ioError)
        }
    }
}

/// The bridge could not start the environment: the host's own words, or what went wrong talking to it.
public struct GymBridgeError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A Gymnasium environment as a simulated robot: pulses in (through the board's action map), the
/// environment's observation out as the camera's frame, one `actionRepeat` of environment steps per
/// `stepPeriod` of the clock, in lockstep with a manual clock (faster than real time) or paced by the
/// system clock. A host that dies, hangs or breaks the protocol latches `failure`: from then on the camera
/// and actuators report it (the governor latches a fault) and the world stands still. Truth (position,
/// heading) comes only from the host's evaluation-only values, for judging and recording.
public final class GymnasiumPlant: SimulatedPlant, Device {
    public let settings: GymnasiumSettings
    public let physics: [ActuatorPhysics]
    public let stepPeriod: Duration
    public let ready: GymReady
    public private(set) var pulses: ChannelVector
    public private(set) var steps = 0
    /// The environment said terminated or truncated: the episode is over (the world stands still).
    public private(set) var episodeOver = false
    /// The seed of the current episode's RESET.
    public private(set) var episodeSeed: UInt64
    /// What went wrong with the host, once (nil while it is healthy).
    public private(set) var failure: GymLinkFailure?
    /// Told of a failure once, when it latches (the rig prints it).
    public var onFailure: (GymLinkFailure) -> Void = { _ in }
    private let link: GymHostLink
    private var observation: GymObservation
    private var goal: GymObservation
    /// The resampler for the last observation and frame sizes (width, height, channels, frame width, height).
    private var resampler: (key: SIMD8<Int>, resampler: GrayResampler)?
    private var trail: StepTrail<Vec2>
    private var rng: SeededGenerator
    private var drives: [Double]

    /// Says HELLO, checks the action map against READY's space, and starts the first episode.
    public init(
        settings: GymnasiumSettings, physics: [ActuatorPhysics], stepPeriod: Duration, link: GymHostLink, seed: UInt64
    ) throws(GymBridgeError) {
        self.settings = settings
        self.physics = physics
        self.stepPeriod = stepPeriod
        self.link = link
        var neutral = ChannelVector(count: physics.count)
        for i in physics.indices { neutral[i] = physics[i].neutralMicros }
        pulses = neutral
        drives = Array(repeating: 0, count: physics.count)
        rng = SeededGenerator(seed: seed)
        episodeSeed = 0
        trail = StepTrail(period: stepPeriod, state: .zero)
        /// Ends the host and says why the environment cannot be driven.
        func refuse(_ why: String) -> GymBridgeError {
            link.close()
            return GymBridgeError("gymnasium host (\(settings.env)): \(why)")
        }
        func fail(_ f: GymLinkFailure, _ doing: String) -> GymBridgeError { refuse("\(doing): \(f)") }
        if let f = link.send(GymProtocol.hello(configJSON: settings.configJSON)) { throw fail(f, "HELLO") }
        switch GymnasiumPlant.reply(link, timeout: settings.startTimeout, truthCount: nil) {
        case .success(.ready(let r)): ready = r
        case .success: throw fail(.malformed("expected READY"), "HELLO")
        case .failure(let f): throw fail(f, "starting")
        }
        if let why = settings.actionMap.mismatch(with: ready.actionSpace) { throw refuse(why) }
        observation = GymObservation(
            terminated: false, truncated: false, isGoal: false, reward: 0, height: 1, width: 1, channels: 1, truth: [], pixels: [0])
        goal = observation
        if let f = startEpisode() { throw fail(f, "the first RESET") }
        if let c = settings.crop, c.x + c.width > observation.width || c.y + c.height > observation.height {
            throw refuse("crop \(c) does not fit the \(observation.width)×\(observation.height) observation")
        }
    }

    deinit { link.close() }

    public var channelCount: Int { physics.count }
    public var maxEpisodeSteps: Int {
        settings.maxSteps ?? ready.maxEpisodeSteps.map { ($0 + settings.actionRepeat - 1) / settings.actionRepeat } ?? 1000
    }
    public var position: Vec2 { GymnasiumPlant.position(observation) }
    public var room: Int? { nil }
    public var goalPosition: Vec2 { GymnasiumPlant.position(goal) }
    public var distanceToGoal: Double {
        observation.truth.count >= 2 ? ((position - goalPosition) * (position - goalPosition)).sum().squareRoot() : .nan
    }
    public var reachedGoal: Bool {
        guard let r = settings.goalDistance, distanceToGoal <= r else { return false }
        guard let limit = settings.goalHeadingDegrees else { return true }
        guard observation.truth.count >= 3, goal.truth.count >= 3 else { return false }
        return abs(wrappedAngle(observation.truth[2] - goal.truth[2])) <= limit * .pi / 180
    }
    public var deviceFailure: DeviceFailure? { failure?.deviceFailure }
    public var episodeInfo: [String: Double] {
        var info: [String: Double] = ["episode_seed": Double(episodeSeed)]
        if goal.truth.count >= 2 {
            info["goal_x"] = goal.truth[0]
            info["goal_y"] = goal.truth[1]
        }
        if observation.truth.count >= 2 && steps == 0 {
            info["start_x"] = observation.truth[0]
            info["start_y"] = observation.truth[1]
        }
        return info
    }

    /// One tick of the world per call at most: under the manual clock that is lockstep with the loop; on the
    /// system clock a host slower than the loop's period makes the world run slower than real time (the
    /// periods it missed are skipped), never a backlog of steps.
    public func advance(to now: Instant) {
        steps += trail.advance(to: now, current: position, maxSteps: 1) {
            stepOnce()
            return position
        }
    }

    public func apply(pulses new: ChannelVector, at now: Instant) {
        advance(to: now)
        for i in physics.indices {
            pulses[i] = new[i]
            drives[i] = physics[i].drive(pulseMicros: new[i])
        }
    }

    public func position(at t: Instant) -> Vec2 { trail.state(at: t, current: position) }

    /// The newest observation (a simulator's frame is of now; camera latency is not modelled).
    public func render(into frame: Frame, exposedAt t: Instant) { draw(observation, into: frame) }
    public func renderGoal(into frame: Frame) { draw(goal, into: frame) }

    public func newEpisode() {
        guard failure == nil else { return }
        _ = startEpisode()
    }

    /// Ends the host at the rig's shutdown.
    public func shutdown() { close() }

    /// Ends the host (CLOSE). The plant latches `closed` after this.
    public func close() {
        link.close()
        if failure == nil { failure = .closed("closed by the controller") }
    }

    /// RESET with the next seed: the goal's observation, then the start's.
    private func startEpisode() -> GymLinkFailure? {
        episodeSeed = rng.next() >> 1
        steps = 0
        episodeOver = false
        for i in physics.indices {
            pulses[i] = physics[i].neutralMicros
            drives[i] = 0
        }
        if let f = link.send(GymProtocol.reset(seed: episodeSeed, wantGoal: true)) { return latch(f) }
        for expectGoal in [true, false] {
            switch GymnasiumPlant.reply(link, timeout: settings.startTimeout, truthCount: ready.truthCount) {
            case .success(.observation(let o)) where o.isGoal == expectGoal:
                if expectGoal { goal = o } else { observation = o }
            case .success: return latch(.malformed(expectGoal ? "expected the goal's observation" : "expected the start's observation"))
            case .failure(let f): return latch(f)
            }
        }
        trail.reset(to: position)
        return nil
    }

    /// One tick of the world: `actionRepeat` STEPs with the current action (none once the episode is over,
    /// the host failed, or the action map says the world holds still).
    private func stepOnce() {
        guard failure == nil, !episodeOver, let action = settings.actionMap.action(drives: drives, space: ready.actionSpace) else {
            return
        }
        let message = GymProtocol.step(action)
        for _ in 0..<settings.actionRepeat {
            if let f = link.send(message) { _ = latch(f); return }
            switch GymnasiumPlant.reply(link, timeout: settings.stepTimeout, truthCount: ready.truthCount) {
            case .success(.observation(let o)) where !o.isGoal:
                observation = o
                if o.terminated || o.truncated {
                    episodeOver = true
                    return
                }
            case .success: _ = latch(.malformed("expected a step's observation")); return
            case .failure(let f): _ = latch(f); return
            }
        }
    }

    private func latch(_ f: GymLinkFailure) -> GymLinkFailure {
        if failure == nil {
            failure = f
            link.close()
            onFailure(f)
        }
        return f
    }

    private func draw(_ o: GymObservation, into frame: Frame) {
        let key = SIMD8(o.width, o.height, o.channels, frame.width, frame.height, 0, 0, 0)
        if resampler.map({ $0.key != key }) ?? true {
            // A crop that fit the first observation but not this one (the environment changed its size): centred.
            let crop = settings.crop.flatMap { c in c.x + c.width <= o.width && c.y + c.height <= o.height ? c : nil }
            guard
                let r = try? GrayResampler(
                    sourceWidth: o.width, sourceHeight: o.height, bytesPerLine: o.width * o.channels,
                    layout: o.channels == 3 ? .rgb24 : .gray, crop: crop, outputWidth: frame.width, outputHeight: frame.height)
            else { return }
            resampler = (key, r)
        }
        guard let r = resampler?.resampler else { return }
        o.pixels.withUnsafeBytes { src in frame.pixels.withUnsafeMutableBufferPointer { r.resample(src, into: $0) } }
    }

    private static func position(_ o: GymObservation) -> Vec2 { o.truth.count >= 2 ? Vec2(o.truth[0], o.truth[1]) : .zero }

    /// The next reply, decoded; the host's ERROR and a malformed reply are failures.
    private static func reply(_ link: GymHostLink, timeout: Duration, truthCount: Int?) -> Result<GymReply, GymLinkFailure> {
        switch link.receive(timeout: timeout) {
        case .failure(let f): return .failure(f)
        case .success(let payload):
            do {
                let r = try GymReply.decode(payload, truthCount: truthCount)
                if case .error(let text) = r { return .failure(.hostError(text)) }
                return .success(r)
            } catch { return .failure(.malformed(error.message)) }
        }
    }
}
