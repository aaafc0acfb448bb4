import Foundation
import Simulation
import Testing
@testable import Configuration

/// The Gymnasium bridge's boards: what they read, and what they refuse.
@Suite("Gymnasium boards")
struct GymnasiumBoardTests {
    @Test("the CarRacing board reads its environment, action map, crop, truth and goal, and tells the host in JSON")
    func carRacingReads() throws {
        let b = try LoadedBoard.load(boardPath: "\(repoRoot)/boards/gym-carracing.yaml")
        let sim = try #require(b.profile.simulation)
        #expect(sim.world == .gymnasium && sim.rooms == nil)
        let g = try #require(sim.gymnasium)
        #expect(g.env == "CarRacing-v3" && g.actionRepeat == 2 && g.maxSteps == 300 && g.python == "python3")
        #expect(g.hostScript == "\(repoRoot)/scripts/gym_host.py")
        #expect(g.crop == .init(x: 6, y: 0, width: 84, height: 84))
        #expect(g.goalDistance == 7 && g.goalHeadingDegrees == 45 && g.stepTimeout == .seconds(2))
        #expect(
            g.actionMap
                == .box([
                    .linear(channel: 0, low: 1, high: -1), .positive(channel: 1, low: 0, high: 1), .negative(channel: 1, low: 0, high: 0.8),
                ]))
        let json = try #require(JSONSerialization.jsonObject(with: Data(g.configJSON.utf8)) as? [String: Any])
        #expect(json["env"] as? String == "CarRacing-v3")
        let kwargs = try #require(json["kwargs"] as? [String: Any])
        #expect(kwargs["continuous"] as? Bool == true && kwargs["lap_complete_percent"] as? Double == 0.95)
        #expect((json["truth"] as? [String])?.first == "unwrapped.car.hull.position[0]")
        #expect((json["goal"] as? [String: Any])?["tiles"] as? Int == 15)
        #expect((json["warmup"] as? [String: Any])?["action"] as? [Int] == [0, 0, 0])
        #expect((json["python_path"] as? [String]) == ["\(repoRoot)/scripts"])
    }

    @Test(
        "a Gymnasium board that does not say how to drive its environment is refused, naming the field",
        arguments: [
            (
                "      - {channel: steering, range: [1, -1]}", "      - {channel: steer, range: [1, -1]}",
                "simulation.gymnasium.action[0].channel", "'steer' is not an actuator of this board (steering, throttle)"
            ),
            ("part: positive", "part: upper", "simulation.gymnasium.action[1]", "part is whole, positive or negative"),
            ("range: [0, 0.8]", "range: [0]", "simulation.gymnasium.action[2].range", "a range is [low, high]"),
            (
                "    action_repeat: 2", "    action_repeat: 2\n    discrete: {idle: 0, rules: []}", "simulation.gymnasium",
                "exclude each other"
            ),
            ("    crop: [6, 0, 84, 84]", "    crop: [6, 0, 84]", "simulation.gymnasium.crop", "[x, y, width, height]"),
            ("      - unwrapped.car.hull.angle\n", "", "simulation.gymnasium.goal_heading_deg", "needs a third truth value"),
            ("    env: CarRacing-v3", "    env: CarRacing-v3\n    seed: 4", "simulation.gymnasium.seed", "unknown key"),
            ("    step_timeout_ms: 2000", "    step_timeout_ms: 2", "simulation.gymnasium.step_timeout_ms", "10"),
            ("  world: gymnasium", "  world: two-rooms", "simulation.gymnasium", "is for world: gymnasium"),
        ] as [(String, String, String, String)])
    func refused(replace: String, with: String, field: String, message: String) throws {
        try expectRefused("gym-carracing", replace, with: with, field: field, message: message)
    }
}
