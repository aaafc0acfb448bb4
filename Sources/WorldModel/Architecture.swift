import NeuralEngine

/// The JEPA world model's networks: encoder, action-conditioned predictor, inverse-dynamics head. Feature maps are NHWC.
public enum WorldModelArchitecture {
    /// Camera frames the encoder takes: 64×64 gray, pixels scaled to [0, 1].
    public static let frameShape = [64, 64, 1]
    /// Latent dimensions unless a training run asks for another size.
    public static let latentSize = 32
    /// Action dimensions: the two-rooms robot's (vx, vy) efforts in [-1, 1].
    public static let actionSize = 2

    /// The encoder a training run builds.
    public enum EncoderKind: String, Codable, Sendable, CaseIterable {
        /// `convolutionalEncoder`: strided convolutions, then a linear map of the flattened features.
        case convolutional
        /// `keypointEncoder`: convolutions to keypoint maps, spatial soft-argmax, then a linear map.
        case keypoints
        /// `hybridEncoder`: a shared convolutional stem, then a place branch (as `convolutional`) and
        /// a keypoint branch (as `keypoints`), concatenated.
        case hybrid
        /// `sceneEncoder`: the hybrid's two branches and a third, the scene branch, whose dimensions
        /// training holds constant within an episode (`sceneLatent`).
        case scene
    }

    /// How many of the latent's last dimensions describe the scene (the layout, not the agent): the
    /// objective holds them constant within an episode and spread across episodes. 0 for every
    /// encoder but `scene`.
    public static func sceneLatent(_ kind: EncoderKind) -> Int { kind == .scene ? sceneDimensions : 0 }

    public static func encoder(_ kind: EncoderKind, latent: Int = latentSize) -> [LayerSpec] {
        switch kind {
        case .convolutional: convolutionalEncoder(latent: latent)
        case .keypoints: keypointEncoder(latent: latent)
        case .hybrid: hybridEncoder(latent: latent)
        case .scene: sceneEncoder(latent: latent)
        }
    }

    /// Keypoint maps and latent dimensions of the hybrid encoder's keypoint branch: four, the
    /// two-rooms state's degrees of freedom (the agent's x and y, the wall's x, the door's y).
    public static let hybridKeypoints = 8
    public static let hybridKeypointLatent = 4

    /// A shared stem (3×3/2 convolutions 1→16→32 with ReLU, 64 → 16 pixels) feeding two branches whose
    /// outputs are concatenated into the latent:
    /// - place: two more strided convolutions (16 → 4 pixels) and a linear map of the 4×4×32
    ///   features to `latent − 4` dimensions, whose distances form a basin around a position (what
    ///   the planner's cost needs);
    /// - keypoints: a 1×1 convolution to 8 score maps at 16×16, spatial soft-argmax, and a linear map
    ///   of the 16 coordinates to 4 dimensions, which move linearly with what they track (a linear
    ///   probe reads the agent's position from them; the predictor sees the wall and door directly).
    ///   A 3×3 kernel here trained 30 % slower (5.2 against 7.4 steps/s) for 0.59 M more MACs.
    /// ≈ 2.15 M multiply-accumulates per frame.
    /// With `scene` > 0, a third branch gives the latent's last `scene` dimensions (`sceneEncoder`)
    /// and the place branch `scene` fewer.
    public static func hybridEncoder(latent: Int = latentSize, scene: Int = 0) -> [LayerSpec] {
        let k = hybridKeypoints, kl = min(hybridKeypointLatent, latent - scene - 1)
        var branches: [[LayerSpec]] = [
            [.conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
             .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
             .flatten, .linear(inFeatures: 4 * 4 * 32, outFeatures: latent - kl - scene)],
            [.conv2d(inChannels: 32, outChannels: k, kernel: 1, stride: 1, padding: 0), .spatialSoftArgmax,
             .linear(inFeatures: 2 * k, outFeatures: kl)],
        ]
        if scene > 0 {
            branches.append([.conv2d(inChannels: 32, outChannels: sceneMaps, kernel: 1, stride: 1, padding: 0), .activation(.relu),
                             .flatten, .linear(inFeatures: sceneMapShape.reduce(1, *), outFeatures: scene)])
        }
        return [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .concat(branches),
        ]
    }

    /// Feature maps of the scene encoder's scene branch, and its latent dimensions: one per row of
    /// the 16×16 maps (`tieSceneRows`), so a row where the middle wall has its door reads differently.
    public static let sceneMaps = 4
    public static let sceneDimensions = 16

    /// The scene branch's linear map (its parameter name in the encoder) and the maps it reads
    /// (rows × columns × channels, flattened row-major).
    public static let sceneHeadWeight = sceneBranch + "3.weight"
    /// The scene branch's parameter prefix in the encoder (the concat's third branch).
    public static let sceneBranch = "4.2."
    public static let sceneMapShape = [16, 16, sceneMaps]

    /// Makes the scene head a row pool: output `o` reads only row `o` of the maps, summed over x, with
    /// one weight per channel shared by all rows (a detector that is the same in every row). Summed
    /// along x, the middle wall looks the same in every row wherever it stands; only the rows of its
    /// door differ (and the agent's, which the scene invariance removes), and each output has its own
    /// variance hinge, so every row must vary across episodes: the door is the one thing that can make
    /// it. The orthogonal projection onto such weights (each channel's weight becomes the mean over
    /// its row entries, all others 0), applied after every optimizer step, so the deployed layer
    /// stays an ordinary linear map.
    public static func tieSceneRows(_ w: Tensor<Float>) {
        let (h, wd, c) = (sceneMapShape[0], sceneMapShape[1], sceneMapShape[2])
        let inputs = h * wd * c
        precondition(w.count == h * inputs, "scene head weight is not [\(h), \(inputs)]")
        w.withUnsafeMutableBufferPointer { p in
            var shared = [Float](repeating: 0, count: c)
            for o in 0..<h {
                for x in 0..<wd { for ch in 0..<c { shared[ch] += p[o * inputs + (o * wd + x) * c + ch] } }
            }
            for ch in 0..<c { shared[ch] /= Float(h * wd) }
            for i in 0..<p.count { p[i] = 0 }
            for o in 0..<h {
                for x in 0..<wd { for ch in 0..<c { p[o * inputs + (o * wd + x) * c + ch] = shared[ch] } }
            }
        }
    }

    /// An experiment (not shipped): the hybrid encoder (place and keypoint branches) with a third
    /// branch on the shared stem, a 1×1 convolution with ReLU to 4 maps at 16×16 and a row pool of
    /// them (`tieSceneRows`) to the latent's last 16 dimensions, one per row. Training holds these
    /// still across two windows of one episode and spread across episodes
    /// (`Objective.sceneInvariance`, their own variance hinge), so they can only carry what an episode
    /// keeps: the layout. The aim is the door's y, which the other branches drop.
    public static func sceneEncoder(latent: Int = latentSize) -> [LayerSpec] { hybridEncoder(latent: latent, scene: sceneDimensions) }

    /// Keypoint maps the keypoint encoder finds.
    public static let keypoints = 16

    /// Two strided 3×3 convolutions with ReLU (64 → 32 → 16 pixels), a 3×3 convolution to
    /// `keypoints` score maps at 16×16, and the spatial soft-argmax: each map becomes the expected
    /// (u, v) of its softmax over pixels, coordinates that move linearly with what the map tracks (the
    /// agent's dot, the door, the wall). A linear map takes the 2·`keypoints` coordinates to the latent.
    /// ≈ 2.5 M multiply-accumulates per frame.
    public static func keypointEncoder(latent: Int = latentSize) -> [LayerSpec] { [
        .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 32, outChannels: keypoints, kernel: 3, stride: 1, padding: 1),
        .spatialSoftArgmax,
        .linear(inFeatures: 2 * keypoints, outFeatures: latent),
    ] }

    /// Four strided 3×3 convolutions (64 → 32 → 16 → 8 → 4 pixels) with ReLU, then a linear map of
    /// the 4×4×32 features to the latent. ≈ 2.1 M multiply-accumulates per frame.
    public static func convolutionalEncoder(latent: Int = latentSize) -> [LayerSpec] { [
        .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .flatten,
        .linear(inFeatures: 4 * 4 * 32, outFeatures: latent),
    ] }

    /// The predictor's residual branch f in z_{t+1} = z_t + f([z_t, a_t]): an MLP of `hidden` units.
    public static func predictor(latent: Int = latentSize, hidden: Int) -> [LayerSpec] {
        [.linear(inFeatures: latent + actionSize, outFeatures: hidden), .activation(.relu),
         .linear(inFeatures: hidden, outFeatures: hidden), .activation(.relu),
         .linear(inFeatures: hidden, outFeatures: latent)]
    }

    /// The inverse-dynamics head (training only): the action a_t from [z_t, z_{t+1}].
    public static func inverseDynamics(latent: Int = latentSize, hidden: Int) -> [LayerSpec] {
        [.linear(inFeatures: 2 * latent, outFeatures: hidden), .activation(.relu),
         .linear(inFeatures: hidden, outFeatures: actionSize)]
    }
}
