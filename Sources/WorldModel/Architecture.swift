import NeuralEngine

/// The JEPA world model's networks (see ../shared/docs/world-model.md). Feature maps are NHWC.
public enum WorldModelArchitecture {
    /// Camera frames the encoder takes: 64×64 gray, pixels scaled to [0, 1].
    public static let frameShape = [64, 64, 1]
    /// Latent dimensions.
    public static let latentSize = 32

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
}
