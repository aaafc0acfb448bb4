import ArgumentParser
import Configuration
import Foundation
import NeuralEngine
import Planning
import RobotCore
import Simulation
import WorldModel

struct BenchWork: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "One phase of the control tick, repeated a given number of times and not timed (for instruction counts).",
        discussion: """
            Runs one phase of the tick --count times on the board's own code path, with no clock and no
            deadline: `convert` (a camera capture of the board's size and format down to the encoder's gray
            input, as the V4L2 driver converts each frame), `encode` (the int8 encoder on one frame), `plan` (one
            planning tick doing all of the board's configured work: samples × horizon × iterations predictor
            rows), `route` (a route search run to its end). Prints the units of work done (frames, predictor
            rows, route-search children) so that a counter run around it (scripts/count-instructions.sh, under
            qemu's instruction-counting plugin) can divide by them. The timed figures are `bench encoder` and
            `bench planner`.
            """)

    enum Phase: String, ExpressibleByArgument, CaseIterable {
        case convert, encode, plan, route
    }

    @Option(help: "The phase: \(Phase.allCases.map(\.rawValue).joined(separator: ", ")).")
    var phase: Phase

    @Option(help: "Repetitions of the phase (0: only the set-up).")
    var count = 1

    @Option(help: "Board profile (camera size and format, planner settings).")
    var board = "boards/sim-two-rooms.yaml"

    @Option(help: "World model.")
    var model = "models/two-rooms.safetensors"

    @Option(help: "The rollouts' numbers: auto, fp32 or int8 (default: the board's planner.predictor).")
    var predictor: DensePrecision?

    func run() throws {
        guard (0...100_000).contains(count) else { throw ValidationError("--count must be in 0…100000") }
        let profile = loadBoardOrExit(board).profile
        let wm: WorldModelFile
        do { wm = try WorldModelFile.load(path: model) } catch { warn("error: \(model): \(error)"); throw ExitCode(2) }
        var config = profile.planner ?? PlannerConfig()
        if let predictor { config.predictor = predictor }
        var units = 0
        var detail = ""
        switch phase {
        case .convert:
            // A board without a V4L2 camera (a simulated one) counts a UVC webcam's default: 320×240 YUYV.
            let cam = profile.camera.v4l2
            let (width, height) = (cam?.captureWidth ?? 320, cam?.captureHeight ?? 240)
            // MJPEG is decoded (by libv4lconvert) before this step: counted as YUYV here.
            let layout: GrayResampler.Layout = cam?.format == "grey" ? .gray : .yuyv
            let crop = cam?.crop.flatMap { c in c.count == 4 ? GrayResampler.Rect(x: c[0], y: c[1], width: c[2], height: c[3]) : nil }
            let resampler = try GrayResampler(
                sourceWidth: width, sourceHeight: height, bytesPerLine: width * layout.bytesPerPixel, layout: layout, crop: crop,
                outputWidth: wm.frameShape[1], outputHeight: wm.frameShape[0], limitedRange: layout != .gray)
            var source = [UInt8](repeating: 0, count: resampler.minimumSourceBytes)
            var random = SeededGenerator(seed: 5)
            for i in source.indices { source[i] = UInt8(truncatingIfNeeded: random.next()) }
            var out = [UInt8](repeating: 0, count: resampler.outputWidth * resampler.outputHeight)
            source.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dst in
                    var i = 0
                    while i < count { resampler.resample(src, into: dst); i += 1 }
                }
            }
            units = count
            detail =
                "\(width)×\(height) \(layout.rawValue) → \(resampler.outputWidth)×\(resampler.outputHeight) gray"
                + (cam?.format == "mjpeg" ? ", after the MJPEG decode (not counted)" : "")
        case .encode:
            let encoder = try wm.makeQuantizedEncoder()
            let pixels = Self.startAndGoal().start.pixels
            var i = 0
            while i < count { encoder.input.assignGray8(pixels); _ = encoder.forward(); i += 1 }
            units = count
            detail = "int8 encoder, \(encoder.kernel.rawValue) kernel"
        case .plan:
            let planner = try LatentPlanner(model: wm, config: config)
            let (z, g) = try Self.latents(wm)
            var rows = 0
            z.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer { gb in
                    var i = 0
                    while i < count {
                        let step = planner.plan(from: zb, goal: gb)
                        rows += step.iterations * config.samples * config.horizon
                        i += 1
                    }
                }
            }
            units = rows
            detail =
                "\(config.samples) samples × \(config.horizon) steps × \(config.iterations) iteration(s) per tick, "
                + "\(planner.kernel.rawValue) kernel"
        case .route:
            let roadmap = try LatentRoadmap(model: wm, config: config)
            let (z, g) = try Self.latents(wm)
            z.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer { gb in
                    var i = 0
                    while i < count {
                        roadmap.search(
                            from: zb, goal: gb, mergeFactor: Float(config.roadmapMergeFactor), goalFactor: Float(config.roadmapGoalFactor))
                        i += 1
                    }
                }
            }
            units = roadmap.expanded
            detail = "route search children, \(config.roadmapMacroSteps) macro steps each"
        }
        print("work: \(phase.rawValue) × \(count): \(units) units (\(detail))")
    }

    /// The frames of a two-rooms episode's start and goal (in different rooms), seed 1.
    private static func startAndGoal() -> (start: Frame, goal: Frame) {
        var rng = SeededGenerator(seed: 1)
        let world = TwoRoomsWorld.episode(.random, rng: &rng)
        let start = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
        let goal = Frame(width: TwoRoomsLayout.size, height: TwoRoomsLayout.size)
        world.render(into: start, agent: world.position)
        world.render(into: goal, agent: world.goal)
        return (start, goal)
    }

    /// The int8 latents of the start and goal frames, as the tick sees them.
    private static func latents(_ wm: WorldModelFile) throws -> ([Float], [Float]) {
        let encoder = try wm.makeQuantizedEncoder()
        let (start, goal) = startAndGoal()
        encoder.input.assignGray8(start.pixels)
        let z = encoder.forward().scalars
        encoder.input.assignGray8(goal.pixels)
        return (z, encoder.forward().scalars)
    }
}

extension DensePrecision: ExpressibleByArgument {}
