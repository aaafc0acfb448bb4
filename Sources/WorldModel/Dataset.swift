import RobotCore

/// One recorded episode: frames (8-bit gray, row-major), the action applied after each frame but the
/// last, and, for simulated recordings, the agent's true position in each frame (for probes only;
/// never shown to the model).
public struct Episode: Sendable {
    public let width: Int
    public let height: Int
    /// frameCount × width × height bytes.
    public var frames: [UInt8]
    /// (frameCount − 1) × actionSize efforts in [-1, 1]: actions[t] moves frame t to frame t + 1.
    public var actions: [Float]
    /// Efforts per action: the planned actuators' count.
    public let actionSize: Int
    /// frameCount × 2 (x, y) in px, when the recording has ground truth.
    public var positions: [Float]?
    /// Where it came from, for messages ("file.mcap#3").
    public var source: String

    public var frameBytes: Int { width * height }
    public var frameCount: Int { frames.count / frameBytes }

    /// Frames `range` as an episode of their own (the actions between them go with them).
    public func slice(_ range: Range<Int>, source: String) throws -> Episode {
        let a = actionSize
        return try Episode(
            width: width, height: height, frames: Array(frames[(range.lowerBound * frameBytes)..<(range.upperBound * frameBytes)]),
            actions: Array(actions[(range.lowerBound * a)..<((range.upperBound - 1) * a)]), actionSize: a,
            positions: positions.map { Array($0[(2 * range.lowerBound)..<(2 * range.upperBound)]) }, source: source)
    }

    public init(
        width: Int, height: Int, frames: [UInt8], actions: [Float], actionSize: Int, positions: [Float]?, source: String
    ) throws {
        self.width = width
        self.actionSize = actionSize
        self.height = height
        self.frames = frames
        self.actions = actions
        self.positions = positions
        self.source = source
        let n = frames.count / (width * height)
        guard frames.count == n * width * height, n >= 1 else {
            throw DatasetError("\(source): \(frames.count) frame bytes is not a whole number of \(width)×\(height) frames")
        }
        guard (1...ModelAction.maxCount).contains(actionSize) else {
            throw DatasetError("\(source): \(actionSize) efforts per action is outside 1…\(ModelAction.maxCount)")
        }
        guard actions.count == (n - 1) * actionSize else {
            throw DatasetError("\(source): \(n) frames need \(n - 1) actions of \(actionSize) efforts, found \(actions.count) efforts")
        }
        if let positions, positions.count != n * 2 {
            throw DatasetError("\(source): \(n) frames but \(positions.count / 2) positions")
        }
    }
}

public struct DatasetError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A training window: `horizon` actions and the `horizon + 1` frames around them.
public struct Window: Sendable, Equatable {
    public var episode: Int
    public var start: Int
}

/// Episodes split into training and validation by episode (never by frame, so no validation frame
/// has a near-duplicate neighbour in training), with the windows of each side.
public struct Dataset: Sendable {
    public let episodes: [Episode]
    /// The actions every episode's efforts are (names in order).
    public let actionNames: [String]
    public var actionSize: Int { actionNames.count }
    public let trainingEpisodes: [Int]
    public let validationEpisodes: [Int]

    /// Splits deterministically: a seeded shuffle, the first `validationFraction` (at least one
    /// episode when there are two or more) for validation. A lone episode (one long drive) is cut in two
    /// first: its last `validationFraction` of frames (at least 10) becomes the validation episode.
    /// `actionNames`: what each episode's efforts are, in order (one per effort of an action).
    public init(episodes given: [Episode], actionNames: [String], validationFraction: Double, seed: UInt64) throws {
        guard !given.isEmpty else { throw DatasetError("no episodes") }
        self.actionNames = actionNames
        let w = given[0].width, h = given[0].height
        if let bad = given.first(where: { $0.width != w || $0.height != h }) {
            throw DatasetError("\(bad.source): frames are \(bad.width)×\(bad.height), the first episode's are \(w)×\(h)")
        }
        if let bad = given.first(where: { $0.actionSize != actionNames.count }) {
            throw DatasetError(
                "\(bad.source): \(bad.actionSize) efforts per action, but the actions are \(actionNames.count) "
                    + "(\(actionNames.joined(separator: ", ")))"
            )
        }
        if given.count == 1, validationFraction > 0, given[0].frameCount >= 40 {
            let e = given[0], n = e.frameCount
            let cut = n - max(10, Int((Double(n) * validationFraction).rounded()))
            episodes = [
                try e.slice(0..<cut, source: e.source + " (frames 0..<\(cut))"),
                try e.slice(cut..<n, source: e.source + " (frames \(cut)..<\(n))"),
            ]
            trainingEpisodes = [0]
            validationEpisodes = [1]
            return
        }
        let episodes = given
        self.episodes = episodes
        var order = Array(episodes.indices)
        var rng = SeededGenerator(seed: seed ^ 0x5EED_DA7A)
        order.shuffle(using: &rng)
        var nVal = Int((Double(episodes.count) * validationFraction).rounded())
        if episodes.count >= 2 { nVal = min(max(nVal, 1), episodes.count - 1) } else { nVal = 0 }
        validationEpisodes = Array(order.prefix(nVal)).sorted()
        trainingEpisodes = Array(order.dropFirst(nVal)).sorted()
    }

    /// Every window of `horizon` steps in the given episodes.
    public func windows(horizon: Int, in which: [Int]) -> [Window] {
        var out: [Window] = []
        for e in which where episodes[e].frameCount > horizon {
            for s in 0..<(episodes[e].frameCount - horizon) { out.append(Window(episode: e, start: s)) }
        }
        return out
    }

    public var frameCount: Int { episodes.reduce(0) { $0 + $1.frameCount } }

    /// The model's actions: each name with the span of efforts the data holds, rounded outward to
    /// `ModelAction.spanStep` (within [-1, 1]). An action that never varies cannot be learned and is refused.
    public func modelActions() throws -> [ModelAction] {
        let a = actionSize
        var lo = [Float](repeating: .infinity, count: a), hi = [Float](repeating: -.infinity, count: a)
        for e in episodes {
            for (i, v) in e.actions.enumerated() {
                lo[i % a] = min(lo[i % a], v)
                hi[i % a] = max(hi[i % a], v)
            }
        }
        return try (0..<a).map { j in
            let step = ModelAction.spanStep
            // Efforts are stored as Float: 0.3 reads 0.300000012, which is still 0.3 (a 10⁻⁴ step's tolerance).
            let lower = max(-1, (Double(lo[j]) / step + 1e-4).rounded(.down) * step)
            let upper = min(1, (Double(hi[j]) / step - 1e-4).rounded(.up) * step)
            guard lower < upper else {
                throw DatasetError(
                    "action \(actionNames[j]) never varies in the data (always \(lo[j])): the model cannot learn what it does; leave it "
                        + "out (train --actions)"
                )
            }
            return ModelAction(name: actionNames[j], lower: lower, upper: upper)
        }
    }
    public var transitionCount: Int { episodes.reduce(0) { $0 + $1.frameCount - 1 } }
}
