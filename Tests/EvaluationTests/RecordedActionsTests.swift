import Evaluation
import Recording
import Testing
import WorldModel

/// A recording's efforts become a model's actions by the actuators' names.
@Suite struct RecordedActionsTests {
    @Test("the planned actuators by default, else every one; a chosen set by name, in its order")
    func channelsByName() throws {
        let planned = try recordedActionChannels(
            actuators: "steering,throttle,lamp", planned: "steering,throttle", chosen: nil, channelCount: 3, source: "r.mcap")
        #expect(planned.channels == [0, 1] && planned.names == ["steering", "throttle"])
        let all = try recordedActionChannels(actuators: "vx,vy", planned: nil, chosen: nil, channelCount: 2, source: "r.mcap")
        #expect(all.channels == [0, 1] && all.names == ["vx", "vy"])
        let chosen = try recordedActionChannels(
            actuators: "steering,throttle,lamp", planned: nil, chosen: ["throttle", "steering"], channelCount: 3, source: "r.mcap")
        #expect(chosen.channels == [1, 0])
    }

    @Test("a comma-separated list of names, each trimmed of spaces")
    func namesFromAList() {
        #expect(actuatorNames(" steering , throttle,lamp ") == ["steering", "throttle", "lamp"])
        #expect(actuatorNames("vx") == ["vx"])
    }

    @Test(
        "what cannot be matched is refused with the file and the reason",
        arguments: [
            (nil, ["vx"], 2, "does not name its channels"),
            ("vx,vy", ["vz"], 2, "no actuator \"vz\" in the recording (actuators: vx, vy)"),
            ("vx,vy", ["vx", "vx"], 2, "distinct"),
            ("vx,vy", ["vx"], 3, "names 2 actuators"),
        ] as [(String?, [String], Int, String)])
    func refused(actuators: String?, chosen: [String], channels: Int, reason: String) {
        #expect {
            try recordedActionChannels(actuators: actuators, planned: nil, chosen: chosen, channelCount: channels, source: "r.mcap")
        } throws: { "\($0)".hasPrefix("r.mcap: ") && "\($0)".contains(reason) }
    }

    @Test("an episode takes the chosen channels' efforts, the last frame's action dropped")
    func episodeFromChannels() throws {
        let r = RecordedEpisode(
            index: 0, width: 1, height: 1, frames: [1, 2, 3], actions: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], channels: 3,
            positions: nil, info: [:], source: "r.mcap#0")
        let e = try Episode(r, channels: [2, 0])
        #expect(e.actionSize == 2 && e.actions == [0.3, 0.1, 0.6, 0.4])
        #expect(throws: DatasetError.self) { try Episode(r, channels: [3]) }
    }
}
