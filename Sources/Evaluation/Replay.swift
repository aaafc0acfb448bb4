import Configuration
import Control
import Foundation
import LinuxHardware
import Planning
import Recording
import RobotCore
import Safety
import WorldModel

/// One tick of a run recording, as `replay` reads it back.
struct RecordedTick {
    var episode: Int
    var tick: Int
    var time: Instant
    var proposed: [Double]
    var origin: String
    var applied: [Double]
    var state: String
    var faults: Faults
    /// The frame recorded with this tick (nil: the camera had no new one, or the recorder dropped it).
    var frame: (timestamp: Instant, pixels: ArraySlice<UInt8>)?
}

/// What a run recording holds for replay, in the order it was recorded.
enum ReplayItem {
    case beginEpisode
    case goal(name: String, latent: [Float])
    case tick(RecordedTick)
}

/// A tick where the replayed controller decided otherwise than the recorded one.
public struct ReplayDifference: Codable, Sendable, Equatable {
    public var episode: Int
    public var tick: Int
    /// "proposed" (the planner's command), "applied" (after the governor), "state" or "faults".
    public var field: String
    public var recorded: String
    public var replayed: String
}

/// What `replay` found.
public struct ReplayReport: Codable, Sendable {
    public var path: String
    public var ticks = 0
    public var episodes = 0
    public var goals = 0
    /// Ticks autonomy drove (their proposals are compared), and the operator's (fed to the governor as recorded).
    public var autonomyTicks = 0
    public var operatorTicks = 0
    /// Ticks not compared because a fault with an outside cause (e-stop, link, camera, write, overrun) was latched
    /// in the recording or the replay: those causes come from the recording and their timing is not reproduced.
    public var externalFaultTicks = 0
    /// Autonomy ticks with no goal yet (nothing to plan toward; both propose zeros).
    public var ticksWithoutGoal = 0
    public var comparedTicks = 0
    public var differingTicks = 0
    /// The first differences (at most `ReplayOptions.maxListed`), in tick order.
    public var differences: [ReplayDifference] = []
    /// Largest |replayed − recorded| over every compared channel.
    public var maxProposedDifference = 0.0
    public var maxAppliedDifference = 0.0
    /// "fixed" or "budget": how the recorded run's planner worked.
    public var plannerWork: String
    /// True when the recording can be reproduced exactly: fixed work, the same model, no frames dropped.
    public var exact: Bool
    /// Why it cannot be, and anything else the reader should know.
    public var notes: [String] = []
}

public struct ReplayOptions: Sendable {
    /// Differences up to this are equal (0: bit-identical).
    public var tolerance = 0.0
    public var maxListed = 50
    /// The planner's seed (nil: the recording's `planner_seed`).
    public var seed: UInt64?
    public init() {}
}

/// The recording cannot be replayed (not a run recording, wrong board, no goal …).
public struct ReplayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// openpilot-style process replay: feeds a run recording's frames, in order and with their recorded times,
/// through a fresh encoder, planner (fixed work: bit-identical on any CPU) and safety governor built from
/// `board` and `model`, and compares, tick by tick, what the planner proposes and what the governor lets
/// through with what the recording says. The operator's commands are fed as recorded; arming, disarming and
/// faults with an outside cause follow the recording. A run recorded with `run --fixed-work` replays with no
/// difference until the code's decisions change.
public func replayRecording(
    _ file: MCAPFile, board: LoadedBoard, model: WorldModelFile, modelCRC32: String?, options: ReplayOptions = ReplayOptions()
) throws -> ReplayReport {
    let metadata = try runRecordingMetadata(file)
    if let policy = metadata["policy"], policy != "planner" {
        throw ReplayError("\(file.path) was driven by --policy \(policy); replay runs the latent planner")
    }
    if let recordedBoard = metadata["board"], recordedBoard != board.profile.name {
        throw ReplayError("\(file.path) was recorded on board \(recordedBoard), not \(board.profile.name)")
    }
    let items = try replayItems(file, channels: board.profile.actuators.count)
    let work = metadata["planner_work"] ?? "budget"
    var report = ReplayReport(path: file.path, plannerWork: work, exact: true)
    if work != "fixed" {
        report.exact = false
        report.notes.append(
            "the run's planner worked to its wall-clock budget (planner_work: \(work)): how much it planned varied with the CPU, "
                + "so the replay (fixed work) is expected to differ; record with `run --fixed-work` for an exact replay")
    }
    if let recorded = metadata["model_crc32"], let crc = modelCRC32, recorded != crc {
        report.exact = false
        report.notes.append("the model differs from the recorded one (CRC-32 \(crc), recorded \(recorded))")
    }
    if let after = metadata["started_after_ticks"].flatMap({ Int($0) }), after > 0 {
        report.exact = false
        report.notes.append(
            "the recording started \(after) tick(s) into the run: what the controller held before (its plan and last latent, "
                + "the governor's last output) is not in the file, so the first ticks are expected to differ")
    }
    if let dropped = file.metadata.first(where: { $0.name == "cerebellum.run" })?.values["frames_dropped"], dropped != "0" {
        report.exact = false
        report.notes.append("the recorder dropped \(dropped) frame(s): those ticks replay with the frame before")
    }
    let seed = options.seed ?? metadata["planner_seed"].flatMap { UInt64($0) } ?? 1
    let governor = try SafetyGovernor(config: board.safetyConfig)
    let source = try LatentPlannerSource(
        model: model, channels: board.profile.channels(for: model), config: board.profile.planner ?? PlannerConfig(), governor: governor,
        timer: SystemClock(), seed: seed,
        surpriseThresholdFactor: board.profile.surprise.thresholdFactor, fixedWork: true)
    let frame = Frame(width: board.profile.camera.width, height: board.profile.camera.height)
    var command = Command.neutral(channels: governor.channelCount, at: .zero, origin: .autonomy)
    var operatorDrove = false
    let external: Faults = [
        .eStop, .eStopUnreadable, .cameraLost, .actuatorFailure, .loopWatchdog, .heartbeatLost, .teleopLinkLost, .outputsCut,
    ]

    func differ(_ t: RecordedTick, _ field: String, _ recorded: String, _ replayed: String) {
        guard report.differences.count < options.maxListed else { return }
        report.differences.append(ReplayDifference(episode: t.episode, tick: t.tick, field: field, recorded: recorded, replayed: replayed))
    }
    func largest(_ a: [Double], _ b: ChannelVector) -> Double {
        guard a.count == b.count else { return .infinity }
        return (0..<a.count).map { abs(a[$0] - b[$0]) }.max() ?? 0
    }

    for item in items {
        switch item {
        case .beginEpisode:
            report.episodes += 1
            source.reset()
        case .goal(let name, let latent):
            guard latent.count == model.latentSize else {
                throw ReplayError(
                    "\(file.path): goal \"\(name)\" has a latent of \(latent.count) values, the model's is \(model.latentSize)")
            }
            report.goals += 1
            source.setGoal(latent: latent, name: name)
        case .tick(let t):
            report.ticks += 1
            if let f = t.frame {
                guard f.pixels.count == frame.pixels.count else {
                    throw ReplayError(
                        "\(file.path): tick \(t.tick)'s frame has \(f.pixels.count) bytes, the board's camera \(frame.pixels.count)")
                }
                frame.pixels.withUnsafeMutableBufferPointer { d in
                    f.pixels.withUnsafeBufferPointer { d.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
                }
                frame.timestamp = f.timestamp
                frame.sequence &+= 1
                frame.isValid = true
            }
            // Arming and disarming (an operator's or `--arm`'s) happen before the tick decides, as in the loop.
            switch t.state {
            case GovernorState.armed.rawValue where governor.state != .armed:
                if !governor.latchedFaults.isEmpty { _ = governor.clearFaults() }
                _ = governor.requestArm()
            case GovernorState.disarmed.rawValue where governor.state == .armed:
                governor.disarm()
            case GovernorState.disarmed.rawValue where governor.state == .faulted && t.faults.isEmpty:
                _ = governor.clearFaults()
            default: break
            }
            let autonomy = t.origin == CommandOrigin.autonomy.description
            let proposed: Bool
            if autonomy {
                report.autonomyTicks += 1
                // Control comes back after the operator drove: the arbiter hands autonomy a fresh start.
                if operatorDrove { source.resume() }
                operatorDrove = false
                if !source.hasGoal { report.ticksWithoutGoal += 1 }
                proposed = source.decide(frame: frame, now: t.time, into: &command)
            } else {
                report.operatorTicks += 1
                operatorDrove = true
                proposed = !t.proposed.isEmpty
                command.efforts = ChannelVector(t.proposed)
                command.origin = .teleop
                command.issuedAt = t.time
            }
            let outside = t.faults.intersection(external)
            let inputs = TickInputs(
                now: t.time, eStop: .level(outside.contains(.eStop) || outside.contains(.eStopUnreadable)),
                frameTimestamp: frame.isValid ? frame.timestamp : nil, cameraFailure: outside.contains(.cameraLost) ? .lost : nil,
                consecutiveOverruns: outside.contains(.loopWatchdog) ? Int(Int32.max) : 0,
                teleopLinkLost: outside.contains(.teleopLinkLost),
                modelSurprised: autonomy && source.isSurprised, plannerStarved: autonomy && source.isStarved,
                modelOutputInvalid: autonomy && source.isModelOutputInvalid)
            var output = governor.step(command: proposed ? command : nil, inputs: inputs)
            let writeFault: DeviceFailure? =
                outside.contains(.outputsCut) ? .cutBySupervisor : outside.contains(.actuatorFailure) ? .injected : nil
            let written = governor.recordWrite(writeFault)
            if writeFault != nil { output = written }
            guard outside.isEmpty && governor.latchedFaults.intersection(external).isEmpty else {
                report.externalFaultTicks += 1
                continue
            }
            report.comparedTicks += 1
            var same = true
            if autonomy {
                let d = t.proposed.isEmpty ? (proposed ? .infinity : 0) : largest(t.proposed, command.efforts)
                report.maxProposedDifference = max(report.maxProposedDifference, d)
                if d > options.tolerance {
                    same = false
                    differ(t, "proposed", describe(t.proposed), describe(command.efforts.array))
                }
            }
            let d = largest(t.applied, output.efforts)
            report.maxAppliedDifference = max(report.maxAppliedDifference, d)
            if d > options.tolerance {
                same = false
                differ(t, "applied", describe(t.applied), describe(output.efforts.array))
            }
            if governor.state.rawValue != t.state {
                same = false
                differ(t, "state", t.state, governor.state.rawValue)
            }
            if governor.latchedFaults != t.faults {
                same = false
                differ(t, "faults", t.faults.description, governor.latchedFaults.description)
            }
            if !same { report.differingTicks += 1 }
        }
    }
    if report.ticks == 0 { throw ReplayError("\(file.path) holds no ticks (/cerebellum/command messages)") }
    if report.goals == 0 { report.notes.append("the recording names no goal: the planner had nothing to plan toward") }
    return report
}

/// The `cerebellum` metadata of a run recording; throws, naming the file, for any other kind (a dataset from
/// `record`, a file of another program).
public func runRecordingMetadata(_ file: MCAPFile) throws -> [String: String] {
    let metadata = file.metadata.first { $0.name == "cerebellum" }?.values ?? [:]
    guard metadata["kind"] == "run" else {
        throw ReplayError("\(file.path) is not a run recording (kind: \(metadata["kind"] ?? "none")): replay needs one from `run --record`")
    }
    return metadata
}

/// Efforts as the report prints them: every digit a Double needs to read back the same.
private func describe(_ efforts: [Double]) -> String { "[" + efforts.map { "\($0)" }.joined(separator: ", ") + "]" }

/// The recording's episodes, goals and ticks (each with the frame written after it), in file order.
func replayItems(_ file: MCAPFile, channels: Int) throws -> [ReplayItem] {
    var topic: [UInt16: String] = [:]
    for (id, c) in file.channels { topic[id] = c.topic }
    guard topic.values.contains(DatasetTopics.command) else {
        throw ReplayError("\(file.path) has no \(DatasetTopics.command) channel: replay needs a run recording (`run --record`)")
    }
    let decoder = JSONDecoder()
    let faultNames = Dictionary(uniqueKeysWithValues: Faults.all.map { ($0.1, $0.0) })
    var items: [ReplayItem] = []
    var lastTick: Int?  // index in items of the last tick, while it has no frame
    for (n, m) in file.messages.enumerated() {
        let place = "\(file.path): message \(n) (\(topic[m.channel] ?? "?"))"
        func json<T: Decodable>(_ t: T.Type) throws -> T {
            do { return try decoder.decode(t, from: Data(file.payload(m))) } catch { throw ReplayError("\(place): bad JSON: \(error)") }
        }
        switch topic[m.channel] {
        case DatasetTopics.episode:
            if try json(EpisodeMessage.self).event == "begin" { items.append(.beginEpisode) }
            lastTick = nil
        case DatasetTopics.event:
            let e = try json(EventMessage.self)
            guard e.kind == "goal" else { continue }
            guard let latent = GoalLatentText.decode(Substring(e.text)) else {
                throw ReplayError("\(place): a goal latent that is not numbers")
            }
            items.append(.goal(name: e.label, latent: latent))
            lastTick = nil
        case DatasetTopics.command:
            let c = try json(CommandMessage.self)
            var faults: Faults = []
            if c.faults != "none" {
                for name in c.faults.components(separatedBy: ", ") {
                    guard let f = faultNames[name] else { throw ReplayError("\(place): unknown fault \"\(name)\"") }
                    faults.insert(f)
                }
            }
            guard GovernorState(rawValue: c.state) != nil else { throw ReplayError("\(place): unknown governor state \"\(c.state)\"") }
            guard c.applied.count == channels, c.proposed.isEmpty || c.proposed.count == channels else {
                throw ReplayError("\(place): \(c.applied.count) applied efforts, the board has \(channels) channels")
            }
            items.append(
                .tick(
                    RecordedTick(
                        episode: c.episode, tick: c.tick, time: Instant(nanoseconds: Int64(m.logTime)), proposed: c.proposed,
                        origin: c.origin, applied: c.applied, state: c.state, faults: faults, frame: nil)))
            lastTick = items.count - 1
        case DatasetTopics.image:
            guard let i = lastTick, case .tick(var t) = items[i] else { continue }
            let image = try CDRImage.decode(file.payload(m), path: file.path, message: n)
            t.frame = (Instant(nanoseconds: Int64(m.logTime)), image.pixels)
            items[i] = .tick(t)
            lastTick = nil
        default: continue
        }
    }
    return items
}
