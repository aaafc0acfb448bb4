import NeuralEngine

/// The JEPA world model's networks: encoder, action-conditioned predictor, inverse-dynamics head. Feature maps are NHWC.
public enum WorldModelArchitecture {
    /// Camera frames the encoder takes: 64×64 gray, pixels scaled to [0, 1].
    public static let frameShape = [64, 64, 1]
    /// Latent dimensions unless a training run asks for another size.
    public static let latentSize = 32

    /// The encoder a training run builds.
    public enum EncoderKind: String, Codable, Sendable, CaseIterable {
        /// `convolutionalEncoder`: strided convolutions, then a linear map of the flattened features.
        case convolutional
        /// `keypointEncoder`: convolutions to keypoint maps, spatial soft-argmax, then a linear map.
        case keypoints
        /// `hybridEncoder`: a shared convolutional stem, then a place branch (as `convolutional`) and
        /// a keypoint branch (as `keypoints`), concatenated.
        case hybrid
    }

    public static func encoder(_ kind: EncoderKind, latent: Int = latentSize) -> [LayerSpec] {
        switch kind {
        case .convolutional: convolutionalEncoder(latent: latent)
        case .keypoints: keypointEncoder(latent: latent)
        case .hybrid: hybridEncoder(latent: latent)
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
    /// ≈ 2.15 M multiply-accumulates per frame.
    public static func hybridEncoder(latent: Int = latentSize) -> [LayerSpec] {
        let k = hybridKeypoints, kl = min(hybridKeypointLatent, latent - 1)
        let branches: [[LayerSpec]] = [
            [
                .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
                .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
                .flatten, .linear(inFeatures: 4 * 4 * 32, outFeatures: latent - kl),
            ],
            [
                .conv2d(inChannels: 32, outChannels: k, kernel: 1, stride: 1, padding: 0), .spatialSoftArgmax,
                .linear(inFeatures: 2 * k, outFeatures: kl),
            ],
        ]
        return [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .concat(branches),
        ]
    }

    /// Keypoint maps the keypoint encoder finds.
    public static let keypoints = 16

    /// Two strided 3×3 convolutions with ReLU (64 → 32 → 16 pixels), a 3×3 convolution to
    /// `keypoints` score maps at 16×16, and the spatial soft-argmax: each map becomes the expected
    /// (u, v) of its softmax over pixels, coordinates that move linearly with what the map tracks (the
    /// agent's dot, the door, the wall). A linear map takes the 2·`keypoints` coordinates to the latent.
    /// ≈ 2.5 M multiply-accumulates per frame.
    public static func keypointEncoder(latent: Int = latentSize) -> [LayerSpec] {
        [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 32, outChannels: keypoints, kernel: 3, stride: 1, padding: 1),
            .spatialSoftArgmax,
            .linear(inFeatures: 2 * keypoints, outFeatures: latent),
        ]
    }

    /// Four strided 3×3 convolutions (64 → 32 → 16 → 8 → 4 pixels) with ReLU, then a linear map of
    /// the 4×4×32 features to the latent. ≈ 2.1 M multiply-accumulates per frame.
    public static func convolutionalEncoder(latent: Int = latentSize) -> [LayerSpec] {
        [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
            .flatten,
            .linear(inFeatures: 4 * 4 * 32, outFeatures: latent),
        ]
    }

    /// The predictor's residual branch f in z_{t+1} = z_t + f([z_t, a_t]) for `actions` action dimensions: an MLP
    /// of `hidden` units.
    public static func predictor(latent: Int = latentSize, actions: Int, hidden: Int) -> [LayerSpec] {
        [
            .linear(inFeatures: latent + actions, outFeatures: hidden), .activation(.relu),
            .linear(inFeatures: hidden, outFeatures: hidden), .activation(.relu),
            .linear(inFeatures: hidden, outFeatures: latent),
        ]
    }

    /// The inverse-dynamics head (training only): the action a_t from [z_t, z_{t+1}].
    public static func inverseDynamics(latent: Int = latentSize, actions: Int, hidden: Int) -> [LayerSpec] {
        [
            .linear(inFeatures: 2 * latent, outFeatures: hidden), .activation(.relu),
            .linear(inFeatures: hidden, outFeatures: actions),
        ]
    }
}
