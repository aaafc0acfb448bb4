import Glibc
import Planning
import Simulation
import Testing

/// The wall follower against the simulated two-rooms physics (motion into a wall stops at the wall).
/// The harness stands in for the world model: it reports each move's latent size (`observed`, from the
/// true displacement) and the model's forecast for it, so the tests can give the follower a model that
/// does or does not know the border, and latent moves that grow with distance linearly or, as the
/// encoder's do, faster for small moves.
@Suite struct WallFollowerTests {
    /// The latent size of a move of `d` px: proportional, or like the encoder's, large for small moves.
    enum LatentScale { case linear, concave }

    /// Drives a follow from `start` after a refused push `push`; returns the world, the steps the
    /// follow ran (it ends by crossing or giving up) and the follower.
    static func follow(
        layout: TwoRoomsLayout, start: Vec2, push: (x: Float, y: Float), hint: (x: Float, y: Float),
        maxSteps: Int = 80, knowsBorder: Bool = false, knowsMiddleWall: Float = 1,
        scale: LatentScale = .linear
    ) -> (world: TwoRoomsWorld, steps: Int, follower: WallFollower) {
        var world = TwoRoomsWorld(layout: layout, start: start, goal: Vec2(56, 32))
        world.step(Vec2(Double(push.x), Double(push.y)) * TwoRoomsWorld.maxStep)  // the refused push: up against the wall
        var follower = WallFollower(maxSteps: maxSteps)
        var effort = follower.begin(refused: push.x, push.y, hint: hint)
        var steps = 0
        while let e = effort {
            let before = world.position, move = Vec2(Double(e.x), Double(e.y)) * TwoRoomsWorld.maxStep
            let target = before + move
            world.step(move)
            let d = Float((world.position - before).length / TwoRoomsWorld.maxStep)
            let observed = scale == .linear ? d : d.squareRoot()
            // The model's forecast: a full move, except into a wall it knows; where it half-knows the
            // middle wall, a move into it is forecast short in proportion to how squarely it pushes.
            let intoBorder = layout.walls[0..<4].contains { $0.contains(target) }
            let intoMiddle = layout.walls[4...].contains { $0.contains(target) }
            let squarely = Float(abs(move.x) / TwoRoomsWorld.maxStep)
            let forecast: Float = knowsBorder && intoBorder ? 0.05 : intoMiddle ? 1 - (1 - knowsMiddleWall) * squarely : 1
            effort = follower.next(observed: observed, forecast: forecast)
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
        #expect(
            layout.side(of: r.world.position) == 1, "door at \(doorY), hint \(hintY): ended at \(r.world.position) after \(r.steps) steps")
        #expect(r.follower.phase == .idle && r.follower.crossings == 1 && r.follower.follows == 1)
        #expect(r.steps <= 80)
    }

    /// Pushes 40° and 55° off the wall's normal, either way: the sweep is turned back where it drifts
    /// off the wall and away where it runs into it, and finds a door 28 px away within 80 steps.
    @Test(arguments: [Float(40), -40, 55, -55])
    func findsTheDoorAfterAnObliquePush(degrees: Float) {
        let layout = TwoRoomsLayout(wallX: 30, doorY: 48)
        let a = degrees * .pi / 180
        let r = Self.follow(layout: layout, start: Vec2(27.5, 20), push: (cosf(a), sinf(a)), hint: (0, 1))
        #expect(layout.side(of: r.world.position) == 1, "\(degrees)°: ended at \(r.world.position) after \(r.steps) steps")
    }

    /// The encoder's latent moves are large for small moves (a 0.5 px drift back to the wall reads as
    /// 45 % of a free move), and where the model half-knows the wall it forecasts 30 % of a move for a
    /// push square into it: judged against the follow's own free moves, such probes still read as
    /// short, not as openings.
    @Test func smallMovesBackToTheWallAreNotOpenings() {
        let layout = TwoRoomsLayout(wallX: 30, doorY: 50)
        let start = Vec2(27, 20)
        let plain = Self.follow(layout: layout, start: start, push: (0.94, 0.34), hint: (0, 1))
        let hard = Self.follow(layout: layout, start: start, push: (0.94, 0.34), hint: (0, 1), knowsMiddleWall: 0.3, scale: .concave)
        for r in [plain, hard] {
            #expect(
                layout.side(of: r.world.position) == 1 && r.follower.crossings == 1, "ended at \(r.world.position) after \(r.steps) steps")
        }
        #expect(hard.steps <= plain.steps + 6, "\(hard.steps) steps against \(plain.steps)")
    }

    /// The border wall has no opening: the sweep reverses at one corner and ends at the second, still
    /// in the same room; so does a follow that runs out of steps. Where the model knows the border (it
    /// forecasts no move into it), each corner is recognized at the first refused move.
    @Test func givesUpOnAWallWithoutAnOpening() {
        let layout = TwoRoomsLayout(wallX: 32, doorY: 32)
        let blind = Self.follow(layout: layout, start: Vec2(4.5, 40), push: (-1, 0), hint: (0, 1), maxSteps: 200)
        let knowing = Self.follow(layout: layout, start: Vec2(4.5, 40), push: (-1, 0), hint: (0, 1), maxSteps: 200, knowsBorder: true)
        for r in [blind, knowing] {
            #expect(layout.side(of: r.world.position) == 0 && r.follower.crossings == 0 && r.follower.phase == .idle)
            #expect(
                r.follower.corners == 2 && r.steps < 200,
                "the sweep should end at its second corner, not at the step limit (\(r.steps) steps)")
        }
        #expect(
            knowing.steps + 6 <= blind.steps,
            "a known corner costs one refused move, not 90° of turning: \(knowing.steps) against \(blind.steps) steps")
        let short = Self.follow(layout: layout, start: Vec2(4.5, 40), push: (-1, 0), hint: (0, 1), maxSteps: 5)
        #expect(short.steps == 5 && short.follower.phase == .idle)
        var off = WallFollower(maxSteps: 0)
        #expect(off.begin(refused: 1, 0, hint: (0, 1)) == nil && !off.isActive)
    }
}
