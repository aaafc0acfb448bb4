import Foundation
import Planning
import Simulation
import Testing
@testable import Configuration

/// The rooms worlds' boards: what they read, and what they refuse.
@Suite("Rooms world boards")
struct RoomsBoardTests {
    @Test("the car board reads its house, camera, vehicle and place memory")
    func carBoardReads() throws {
        let b = try LoadedBoard.load(boardPath: "\(repoRoot)/boards/sim-car.yaml")
        let sim = try #require(b.profile.simulation)
        #expect(sim.world == .carRooms)
        let rooms = try #require(sim.rooms)
        #expect(rooms.houseSeed == 1 && rooms.roomColumns == 2 && rooms.roomRows == 2)
        #expect(rooms.fieldOfViewDegrees == 90 && rooms.cameraHeight == 0.15 && rooms.maxSteps == 600)
        #expect(rooms.vehicle.radius == 0.18)
        guard case .car(let car) = rooms.vehicle.drive else { Issue.record("not a car"); return }
        #expect(car.wheelbase == 0.26 && abs(car.maxSteer - 28 * Double.pi / 180) < 1e-12 && car.reverseSpeed == 0.5)
        #expect(sim.actuatorTruth[0].reversed && sim.actuatorTruth[1].deadbandMicros == 40)
        let planner = try #require(b.profile.planner)
        #expect(planner.memory?.hasSuffix("/models/car-rooms.memory.safetensors") == true, "\(planner.memory ?? "none")")
        #expect(planner.memoryPlaceFactor == 1.0 && planner.memoryFollow == .mpc && planner.roadmapEvery == 0)
        let base = try LoadedBoard.load(boardPath: "\(repoRoot)/boards/sim-diffdrive.yaml")
        guard case .differential(let d)? = base.profile.simulation?.rooms?.vehicle.drive else { Issue.record("not a base"); return }
        #expect(d.track == 0.28 && d.maxWheelSpeed == 0.6)
    }

    @Test(
        "a rooms board that does not fit its robot is refused, naming the field",
        arguments: [
            ("  - name: steering ", "  - name: steer ", "simulation.world", "actuators are steering, throttle"),
            ("  rooms: [2, 2]", "  rooms: [1, 1]", "simulation.rooms", "at least two rooms"),
            ("  light: [0.8, 1.15]", "  light: [1.2, 0.8]", "simulation.light", "lowest first"),
            ("    wheelbase_m: 0.26\n", "", "simulation.vehicle", "missing required key 'wheelbase_m'"),
            ("    wheelbase_m: 0.26", "    wheelbase_m: 0.26\n    track_m: 0.3", "simulation.vehicle.track_m", "unknown key"),
            ("  memory_follow: mpc", "  memory_follow: teleport", "planner.memory_follow", "'teleport' is not one of"),
            ("  world: car-rooms", "  world: two-rooms", "simulation.vehicle", "is for the rooms worlds"),
        ])
    func refused(replace: String, with: String, field: String, message: String) throws {
        try expectRefused("sim-car", replace, with: with, field: field, message: message)
    }
}
