import Planning
import Simulation
import Testing

/// The wall follower against the simulated two-rooms physics (motion into a wall stops at the wall),
/// with the move ratio taken from the true displacement: it finds the door from either side of it,
/// after a straight or an oblique refused push, and gives up on a wall without one.
@Suite struct WallFollowerTests {
    /// Drives a follow from `start` after a refused push `push`; returns the world and the steps the
    /// follow ran (it ends by crossing or giving up).
    static func follow(layout: TwoRoomsLayout, start: Vec2, push: (x: Float, y: Float), hint: (x: Float, y: Float),
                       maxSteps: Int = 80) -> (world: TwoRoomsWorld, steps: Int, follower: WallFollower) {
        var world = TwoRoomsWorld(layout: layout, start: start, goal: Vec2(56, 32))
        world.step(Vec2(Double(push.x), Double(push.y)) * TwoRoomsWorld.maxStep)   // the refused push: up against the wall
        var follower = WallFollower(maxSteps: maxSteps)
        var effort = follower.begin(refused: push.x, push.y, hint: hint)
        var steps = 0
        while let e = effort {
            let before = world.position
            world.step(Vec2(Double(e.x), Double(e.y)) * TwoRoomsWorld.maxStep)
            let ratio = Float((world.position - before).length / TwoRoomsWorld.maxStep)
            effort = follower.next(lastMoveRatio: ratio)
            steps += 1
            if steps > 10 * maxSteps { break }
        }
        return (world, steps, follower)
    }

    /// The wall's face is at x = 28.5; the push from x = 27 ends against it, 19 px from the door.
    @Test(arguments: [(doorY: 12.0, hintY: Float(1)), (12.0, -1), (50.0, 1), (50.0, -1)])
    func findsTheDoorFromEitherSide(doorY: Double, hintY: Float) {
        let layout = TwoRoomsLayout(wallX: 30, doorY: doorY)
        let r = Self.follow(layout: layout, start: Vec2(27, 31), push: (1, 0), hint: (0, hintY))
        #expect(layout.side(of: r.world.position) == 1, "door at \(doorY), hint \(hintY): ended at \(r.world.position) after \(r.steps) steps")
        #expect(r.follower.phase == .idle && r.follower.crossings == 1 && r.follower.follows == 1)
        #expect(r.steps <= 80)
    }

    /// A push 40° off the wall's normal: the sweep is turned away from the wall where it runs into it.
    @Test func findsTheDoorAfterAnObliquePush() {
        let layout = TwoRoomsLayout(wallX: 30, doorY: 48)
        let r = Self.follow(layout: layout, start: Vec2(27.5, 20), push: (0.766, -0.643), hint: (0, 1), maxSteps: 120)
        #expect(layout.side(of: r.world.position) == 1, "ended at \(r.world.position) after \(r.steps) steps")
    }

    /// The border wall has no opening: the sweep reverses once at a corner, and at the second the
    /// follow ends, still in the same room; so does a follow that runs out of steps.
    @Test func givesUpOnAWallWithoutAnOpening() {
        let layout = TwoRoomsLayout(wallX: 32, doorY: 32)
        let r = Self.follow(layout: layout, start: Vec2(4.5, 40), push: (-1, 0), hint: (0, 1), maxSteps: 200)
        #expect(layout.side(of: r.world.position) == 0 && r.follower.crossings == 0 && r.follower.phase == .idle)
        #expect(r.steps < 200, "the sweep should end at its second reversal, not at the step limit")
        let short = Self.follow(layout: layout, start: Vec2(4.5, 40), push: (-1, 0), hint: (0, 1), maxSteps: 5)
        #expect(short.steps == 5 && short.follower.phase == .idle)
        var off = WallFollower(maxSteps: 0)
        #expect(off.begin(refused: 1, 0, hint: (0, 1)) == nil && !off.isActive)
    }
}
