import NeuralEngine

/// The JEPA world model's networks (see ../shared/docs/world-model.md). Feature maps are NHWC.
public enum WorldModelArchitecture {
    /// Camera frames the encoder takes: 64×64 gray, pixels scaled to [0, 1].
    public static let frameShape = [64, 64, 1]
    /// Latent dimensions.
    public static let latentSize = 32
    /// Action dimensions: the two-rooms robot's (vx, vy) efforts in [-1, 1].
    public static let actionSize = 2

    /// The encoder: four strided 3×3 convolutions (64 → 32 → 16 → 8 → 4 pixels) with ReLU, then a
    /// linear map of the 4×4×32 features to the latent. ≈ 2.1 M multiply-accumulates per frame.
    public static let encoder: [LayerSpec] = [
        .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .conv2d(inChannels: 32, outChannels: 32, kernel: 3, stride: 2, padding: 1), .activation(.relu),
        .flatten,
        .linear(inFeatures: 4 * 4 * 32, outFeatures: latentSize),
    ]

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
