import NeuralEngine

/// The JEPA world model's networks (see ../shared/docs/world-model.md). Feature maps are NHWC.
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
    }

    public static func encoder(_ kind: EncoderKind, latent: Int = latentSize) -> [LayerSpec] {
        switch kind {
        case .convolutional: convolutionalEncoder(latent: latent)
        case .keypoints: keypointEncoder(latent: latent)
        }
    }

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
