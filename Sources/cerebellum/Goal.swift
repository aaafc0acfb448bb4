import ArgumentParser
import Configuration
import Control
import Foundation
import LinuxHardware
import Reports
import RobotCore
import Simulation

struct Goal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Goal images: capture the camera's current frame as a named goal, or list the goals.",
        subcommands: [Capture.self, List.self])

    /// Where named goals live: `goals/NAME.png`.
    static let directory = "goals"

    /// A goal argument: an existing PNG file, or the name of one in `goals/`.
    static func resolve(_ nameOrFile: String) -> String {
        FileManager.default.fileExists(atPath: nameOrFile) ? nameOrFile : "\(directory)/\(nameOrFile).png"
    }

    /// Reads a goal image and checks it has the camera's size; the error names the file.
    static func load(_ nameOrFile: String, width: Int, height: Int) throws -> GrayImage {
        let path = resolve(nameOrFile)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no goal \"\(nameOrFile)\": neither a file nor \(path) (cerebellum goal capture \(nameOrFile) saves one)")
        }
        let image = try GrayImage.readPNG(path: path)
        guard image.width == width, image.height == height else {
            throw ValidationError("\(path): the goal image is \(image.width)×\(image.height), the camera gives \(width)×\(height)")
        }
        return image
    }

    /// Every goal in `goals/` that loads, by name (for the console's `goal NAME`).
    static func library(width: Int, height: Int) -> [String: GrayImage] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var out: [String: GrayImage] = [:]
        for f in files.sorted() where f.hasSuffix(".png") {
            if let g = try? load("\(directory)/\(f)", width: width, height: height) { out[String(f.dropLast(4))] = g }
        }
        return out
    }

    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save the camera's current frame as goals/NAME.png.",
            discussion: "On a simulated board the frame shows the episode the seed chooses; --at places the agent first.")

        @Argument(help: "Goal name (letters, digits, - and _).")
        var name: String
        @Option(help: "Board profile.")
        var board = "boards/sim-two-rooms.yaml"
        @Option(help: "Simulated board: place the robot at X,Y (px, two-rooms) or X,Y,HEADING (m, m, degrees: rooms) first.")
        var at: String?
        @Option(help: "Simulated board: world seed (default: the profile's).")
        var seed: UInt64?
        @Flag(help: "Replace an existing goal of that name.")
        var force = false
        @Flag(
            help: ArgumentHelp(
                "Simulated board: save the episode's goal view instead of the camera's frame.",
                discussion: "What the world shows at the episode's goal: on a gymnasium board the environment's goal recipe "
                    + "(simulation.gymnasium.goal) for the seed's first episode."))
        var episodeGoal = false

        func run() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ValidationError("goal names use letters, digits, - and _ only")
            }
            let path = "\(Goal.directory)/\(name).png"
            if FileManager.default.fileExists(atPath: path) && !force { throw ValidationError("\(path) exists (--force replaces it)") }
            let loaded = loadBoardOrExit(board)
            let rig = try Rig(board: loaded, clock: SystemClock(), seed: seed)
            if let at {
                let parts = at.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                if let robot = rig.robot {
                    guard parts.count == 2 else { throw ValidationError("--at takes X,Y in px on a two-rooms board") }
                    let p = Vec2(parts[0], parts[1])
                    guard robot.world.isFree(p), p.x > 0, p.y > 0, p.x < Double(TwoRoomsLayout.size), p.y < Double(TwoRoomsLayout.size)
                    else {
                        throw ValidationError("--at \(at) is inside a wall or outside the world")
                    }
                    robot.reset(world: TwoRoomsWorld(layout: robot.world.layout, start: p, goal: robot.world.goal))
                } else if let robot = rig.simulation?.groundRobot {
                    guard parts.count == 3 else { throw ValidationError("--at takes X,Y,HEADING (m, m, degrees) on a rooms board") }
                    let p = Pose(x: parts[0], y: parts[1], heading: parts[2] * Double.pi / 180)
                    guard robot.layout.discIsFree(p.position, radius: robot.settings.vehicle.radius) else {
                        throw ValidationError("--at \(at): the robot there would touch a wall or a box, or be outside the house")
                    }
                    robot.teleport(to: p)
                } else {
                    throw ValidationError("--at places the robot on a simulated board")
                }
            }
            defer { rig.shutdown() }
            let frame = Frame(width: loaded.profile.camera.width, height: loaded.profile.camera.height)
            // A real camera needs a few frames to start streaming: wait up to 3 s for one, and skip the first
            // (auto exposure settles), as a person pressing a shutter would.
            let clock = SystemClock()
            let until = clock.now() + .seconds(3)
            let wanted = rig.plant == nil ? 2 : 1
            var frames = 0
            if episodeGoal {
                guard let plant = rig.plant, at == nil else {
                    throw ValidationError(
                        at == nil ? "--episode-goal needs a simulated board" : "--episode-goal and --at exclude each other")
                }
                plant.renderGoal(into: frame)
                frame.isValid = true
                frames = wanted
            }
            while frames < wanted {
                switch rig.camera.capture(into: frame) {
                case .newFrame: frames += 1
                case .noNewFrame: clock.sleep(until: clock.now() + .milliseconds(5))
                case .failed(let f): throw ValidationError("camera: \(f)")
                }
                if frames < wanted && clock.now() > until { throw ValidationError("camera: no frame within 3 s") }
            }
            guard frame.isValid else { throw ValidationError("camera: no frame") }
            try FileManager.default.createDirectory(atPath: Goal.directory, withIntermediateDirectories: true)
            try RGBImage(gray: frame.pixels, width: frame.width, height: frame.height).writePNG(path: path)
            var info = "\(frame.width)×\(frame.height)"
            if let robot = rig.robot { info += String(format: ", agent at (%.1f, %.1f)", robot.world.position.x, robot.world.position.y) }
            if let robot = rig.simulation?.groundRobot {
                info += String(
                    format: ", robot at (%.2f, %.2f) m heading %.0f°", robot.pose.x, robot.pose.y, robot.pose.heading * 180 / Double.pi)
            }
            if let g = rig.plant as? GymnasiumPlant {
                info += ", \(g.settings.env) seed \(g.episodeSeed)"
                let t = episodeGoal ? g.goalPosition : g.position
                if g.ready.truthCount >= 2 { info += String(format: " at (%.1f, %.1f)", t.x, t.y) }
            }
            print("saved goal \(name): \(path) (\(info))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the goals in goals/.")
        func run() throws {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: Goal.directory)) ?? []).filter { $0.hasSuffix(".png") }
                .sorted()
            if files.isEmpty { print("no goals yet (cerebellum goal capture NAME)") }
            for f in files {
                let path = "\(Goal.directory)/\(f)"
                do {
                    let g = try GrayImage.readPNG(path: path)
                    print("\(f.dropLast(4))  \(g.width)×\(g.height)  \(path)")
                } catch { print("\(f.dropLast(4))  unreadable: \(error)") }
            }
        }
    }
}
