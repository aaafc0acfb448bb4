import Recording
import RobotCore
import Safety
import Synchronization

/// What the live view shows of one tick, copied by the loop thread without touching the heap.
public struct LiveTick: Sendable {
    /// The tick's command before and after the governor, its state and faults (as the recorder takes it).
    public var command: TickSample
    /// The world model's smoothed one-step surprise and its threshold (nan: none).
    public var surprise: Double
    public var surpriseThreshold: Double
    /// Latent distance from the frame's latent to the goal's (nan: no goal).
    public var goalDistance: Double
    /// Whether the camera delivered a new frame this tick (it is then sent on the image channel).
    public var hasFrame = false
    public var frameTimestamp = Instant.zero
    /// Horizon steps in the plan (its efforts and forecast distances are in the slot beside the tick).
    public var planSteps = 0

    public init(command: TickSample, surprise: Double = .nan, surpriseThreshold: Double = .nan, goalDistance: Double = .nan) {
        (self.command, self.surprise, self.surpriseThreshold, self.goalDistance) = (command, surprise, surpriseThreshold, goalDistance)
    }
}

/// A single-producer, single-consumer ring from the loop thread to the live view's server thread: each
/// of `capacity` preallocated slots holds a tick, its frame (the camera's size) and the plan (up to
/// `maxPlanSteps` steps of `actionSize` efforts and forecast goal distances). `push` never blocks and never
/// allocates; when the server thread falls behind, the tick is dropped and counted (the live view is
/// best-effort, the loop never waits for it).
public final class LiveTap: @unchecked Sendable {
    public let width: Int, height: Int
    public let capacity: Int
    public let maxPlanSteps: Int
    public let actionSize: Int
    private let ticks: UnsafeMutableBufferPointer<LiveTick>
    private let pixels: UnsafeMutableBufferPointer<UInt8>
    private let plans: UnsafeMutableBufferPointer<Float>
    private let forecasts: UnsafeMutableBufferPointer<Float>
    private let pushed = Atomic<Int>(0), taken = Atomic<Int>(0), dropped = Atomic<Int>(0)

    public init(width: Int, height: Int, actionSize: Int, maxPlanSteps: Int = 64, capacity: Int = 16) {
        precondition(width > 0 && height > 0 && capacity > 0 && actionSize > 0 && maxPlanSteps > 0, "live tap sizes")
        (self.width, self.height, self.capacity, self.maxPlanSteps, self.actionSize) = (width, height, capacity, maxPlanSteps, actionSize)
        ticks = .allocate(capacity: capacity)
        ticks.initialize(
            repeating: LiveTick(
                command: TickSample(
                    tick: 0, time: .zero, proposed: ChannelVector(count: 0), hasProposal: false, origin: .autonomy,
                    applied: ChannelVector(count: 0), state: .disarmed, faults: [], truth: nil)))
        pixels = .allocate(capacity: capacity * width * height)
        pixels.initialize(repeating: 0)
        plans = .allocate(capacity: capacity * maxPlanSteps * actionSize)
        plans.initialize(repeating: 0)
        forecasts = .allocate(capacity: capacity * maxPlanSteps)
        forecasts.initialize(repeating: 0)
    }

    deinit {
        ticks.deallocate()
        pixels.deallocate()
        plans.deallocate()
        forecasts.deallocate()
    }

    /// Ticks dropped because the server thread was behind.
    public var droppedTicks: Int { dropped.load(ordering: .relaxed) }

    /// The loop thread, after a tick: copies `tick`, the frame when given (of this tap's size), and the plan
    /// (`plan`: steps × actionSize efforts; `forecast`: the goal distance per step), cut to `maxPlanSteps`.
    public func push(_ tick: LiveTick, frame: Frame?, plan: UnsafeBufferPointer<Float>?, forecast: UnsafeBufferPointer<Float>?) {
        let p = pushed.load(ordering: .relaxed)
        guard p - taken.load(ordering: .acquiring) < capacity else {
            dropped.add(1, ordering: .relaxed)
            return
        }
        let slot = p % capacity
        var t = tick
        t.hasFrame = false
        if let frame, frame.width == width, frame.height == height {
            let bytes = width * height
            (pixels.baseAddress! + slot * bytes).update(from: frame.pixels, count: bytes)
            t.hasFrame = true
            t.frameTimestamp = frame.timestamp
        }
        var steps = 0
        if let plan, let forecast {
            steps = min(maxPlanSteps, plan.count / actionSize, forecast.count)
            (plans.baseAddress! + slot * maxPlanSteps * actionSize).update(from: plan.baseAddress!, count: steps * actionSize)
            (forecasts.baseAddress! + slot * maxPlanSteps).update(from: forecast.baseAddress!, count: steps)
        }
        t.planSteps = steps
        ticks[slot] = t
        pushed.store(p + 1, ordering: .releasing)
    }

    /// The server thread: hands every queued tick, oldest first, to `body` with its frame and plan (valid only
    /// during the call), then frees the slots.
    public func drain(
        _ body: (LiveTick, _ frame: UnsafeBufferPointer<UInt8>?, _ plan: UnsafeBufferPointer<Float>, _ forecast: UnsafeBufferPointer<Float>)
            ->
            Void
    ) {
        let end = pushed.load(ordering: .acquiring)
        var k = taken.load(ordering: .relaxed)
        while k < end {
            let slot = k % capacity
            let t = ticks[slot]
            let bytes = width * height
            let frame = t.hasFrame ? UnsafeBufferPointer(start: pixels.baseAddress! + slot * bytes, count: bytes) : nil
            let plan = UnsafeBufferPointer(start: plans.baseAddress! + slot * maxPlanSteps * actionSize, count: t.planSteps * actionSize)
            let forecast = UnsafeBufferPointer(start: forecasts.baseAddress! + slot * maxPlanSteps, count: t.planSteps)
            body(t, frame, plan, forecast)
            k += 1
            taken.store(k, ordering: .releasing)
        }
    }
}
