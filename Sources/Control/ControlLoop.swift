import RobotCore
import Safety

/// Something the loop raised that a person should see (printed outside the tick).
public enum LoopEvent: Sendable, Equatable {
    /// The tick ended `late` past the next deadline; `skipped` whole periods were dropped.
    case overrun(tick: Int, late: Duration, skipped: Int)
    /// The governor latched new faults this tick.
    case faultLatched(tick: Int, faults: Faults)
}

/// What one tick did.
public struct TickReport: Sendable {
    public var tick: Int
    public var wake: Instant
    public var capture: CaptureResult
    /// The source's proposal (meaningful when `proposed` is true).
    public var command: Command
    public var proposed: Bool
    public var output: SafeCommand
    public var state: GovernorState
    public var latchedFaults: Faults
    public var execution: Duration
}

/// The fixed-rate control loop: each tick reads (frame, inputs) → decides (command source) →
/// gates (safety governor) → writes (actuators) → publishes (statistics, events), then sleeps to
/// the next absolute deadline. An overrun is counted, raised as an event, and the whole periods
/// it covered are skipped: never a burst of catch-up ticks. A tick allocates nothing.
public final class ControlLoop {
    public let period: Duration
    public let clock: RobotClock
    public let camera: FrameSource
    public let eStop: DigitalInput?
    public var source: CommandSource
    public let governor: SafetyGovernor
    public let actuators: ActuatorOutput
    /// Output lines and the watchdog that follow the governor's state (real boards).
    public var signals: BoardSignals?
    /// The newest frame (reused every tick).
    public let frame: Frame
    public private(set) var statistics = LoopStatistics()
    public private(set) var consecutiveOverruns = 0
    public private(set) var nextDeadline: Instant?
    private var lastWake: Instant?
    private var command: Command
    private var events: EventRing

    public init(
        period: Duration, clock: RobotClock, camera: FrameSource, eStop: DigitalInput?,
        source: CommandSource, governor: SafetyGovernor, actuators: ActuatorOutput
    ) {
        precondition(actuators.channelCount == governor.channelCount, "actuator and governor channel counts differ")
        self.period = period
        self.clock = clock
        self.camera = camera
        self.eStop = eStop
        self.source = source
        self.governor = governor
        self.actuators = actuators
        self.frame = Frame(width: camera.width, height: camera.height)
        self.command = .neutral(channels: governor.channelCount, at: .zero, origin: source.origin)
        self.events = EventRing(capacity: 256)
    }

    /// Sleeps to the next deadline, then runs one tick. The first tick runs at once.
    @discardableResult
    public func tick() -> TickReport {
        if let d = nextDeadline { clock.sleep(until: d) }
        let wake = clock.now()
        let deadline = nextDeadline ?? wake
        statistics.wakeJitter.record(wake - deadline)
        if let last = lastWake { statistics.period.record(wake - last) }
        lastWake = wake
        statistics.ticks += 1

        // read
        let capture = camera.capture(into: frame)
        var cameraFailure: DeviceFailure?
        if case .failed(let f) = capture { cameraFailure = f }
        let eStopReading = eStop?.read() ?? .level(false)

        // decide
        let proposed = source.decide(frame: frame, now: wake, into: &command)

        // gate
        let latchedBefore = governor.latchedFaults
        let inputs = TickInputs(
            now: wake, eStop: eStopReading, frameTimestamp: frame.isValid ? frame.timestamp : nil,
            cameraFailure: cameraFailure, consecutiveOverruns: consecutiveOverruns,
            teleopLinkLost: source.isLinkLost, modelSurprised: source.isSurprised,
            plannerStarved: source.isStarved, modelOutputInvalid: source.isModelOutputInvalid)
        var output = governor.step(command: proposed ? command : nil, inputs: inputs)

        // write
        if let failure = actuators.write(output) {
            output = governor.recordWrite(failure)
            _ = actuators.write(output)
        } else {
            governor.recordWrite(nil)
        }
        if let signals, let failure = signals.update(state: governor.state, now: wake) {
            output = governor.recordWrite(failure)
            _ = actuators.write(output)
            _ = signals.update(state: governor.state, now: wake)
        }

        // publish
        let fresh = governor.latchedFaults.subtracting(latchedBefore)
        if !fresh.isEmpty { events.push(.faultLatched(tick: statistics.ticks, faults: fresh)) }
        let end = clock.now()
        statistics.execution.record(end - wake)
        schedule(after: deadline, end: end)
        return TickReport(
            tick: statistics.ticks, wake: wake, capture: capture, command: command, proposed: proposed,
            output: output, state: governor.state, latchedFaults: governor.latchedFaults, execution: end - wake)
    }

    /// The next deadline is one period after this one; if the tick ended past it, that is an
    /// overrun and every whole period already missed is skipped.
    private func schedule(after deadline: Instant, end: Instant) {
        var next = deadline + period
        if end > next {
            let missed = Int((end - next).nanoseconds / period.nanoseconds) + 1
            next = next + period * missed
            statistics.overruns += 1
            statistics.skippedPeriods += missed
            consecutiveOverruns += 1
            statistics.longestOverrunStreak = max(statistics.longestOverrunStreak, consecutiveOverruns)
            events.push(.overrun(tick: statistics.ticks, late: end - (deadline + period), skipped: missed))
        } else {
            consecutiveOverruns = 0
        }
        nextDeadline = next
    }

    /// True when events wait to be drained (allocation-free).
    public var hasEvents: Bool { !events.isEmpty }

    /// Takes the events raised since the last call (allocates: call outside the tick).
    public func drainEvents() -> [LoopEvent] { events.drain() }

    /// Forgets the statistics (after warm-up, or between benchmark phases).
    public func resetStatistics() { statistics = LoopStatistics() }

    /// Restarts the schedule from now (after a pause between episodes).
    public func restartSchedule() {
        nextDeadline = nil
        lastWake = nil
        consecutiveOverruns = 0
    }

    /// Stops: disarms and writes neutral to every output.
    public func stop() {
        governor.disarm()
        governor.recordWrite(actuators.write(governor.neutral))
        _ = signals?.update(state: governor.state, now: clock.now())
    }
}

/// A fixed-capacity ring of loop events; when full, the oldest are dropped and counted.
struct EventRing {
    private var items: [LoopEvent?]
    private var head = 0
    private var count = 0
    private(set) var dropped = 0
    var isEmpty: Bool { count == 0 }

    init(capacity: Int) { items = Array(repeating: nil, count: capacity) }

    mutating func push(_ e: LoopEvent) {
        if count == items.count {
            head = (head + 1) % items.count
            count -= 1
            dropped += 1
        }
        items[(head + count) % items.count] = e
        count += 1
    }

    mutating func drain() -> [LoopEvent] {
        var out: [LoopEvent] = []
        for k in 0..<count { if let e = items[(head + k) % items.count] { out.append(e) } }
        head = 0
        count = 0
        return out
    }
}
