// swift-tools-version:6.1
// Cerebellum: an onboard controller for camera-driven robots on ARM Linux boards.
// One module per layer, every dependency pointing down the layers of docs/architecture.md.
import PackageDescription

let package = Package(
    name: "Cerebellum",
    products: [
        .executable(name: "cerebellum", targets: ["cerebellum"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries from Debian packages (see `make deps`).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CI2C", providers: [.apt(["libi2c-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // What Swift cannot call directly: ioctl (variadic) and the request-number macros.
        .target(name: "CShims", dependencies: ["CV4L2"]),
        // int8 GEMM kernels with CPU-feature dispatch (AVX2, AVX-512 VNNI, NEON SDOT, portable).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        // Shared value types and hardware protocols. Standard library only.
        .target(name: "RobotCore", dependencies: ["CZlib"]),
        // The safety governor: the last layer before any actuator. Small and pure.
        .target(name: "Safety", dependencies: ["RobotCore"]),
        // Simulated worlds and devices behind the same protocols as the real drivers.
        .target(name: "Simulation", dependencies: ["RobotCore", "Safety"]),
        // Board profiles and calibration files: YAML with file:line:column errors.
        .target(
            name: "Configuration",
            dependencies: ["RobotCore", "Safety", "Simulation", "NeuralEngine", "Planning", .product(name: "Yams", package: "Yams")]),
        // Real Linux drivers and system facts (V4L2, libgpiod, i2c-dev, serial ports, the output supervisor).
        .target(name: "LinuxHardware", dependencies: ["RobotCore", "Safety", "CShims", "CV4L2", "CGPIOD", "CI2C"]),
        // Tensors, fp32 layers over OpenBLAS, int8 inference, quantization, safetensors.
        .target(name: "NeuralEngine", dependencies: ["RobotCore", "COpenBLAS", "CKernels"]),
        // The JEPA world model: encoder and predictor architectures, training, export to int8.
        .target(name: "WorldModel", dependencies: ["NeuralEngine", "RobotCore"]),
        // Latent model-predictive control: MPPI / CEM over action sequences through the predictor.
        .target(name: "Planning", dependencies: ["NeuralEngine", "WorldModel", "RobotCore", "Safety"]),
        // Pictures for people: PNG (deflate and inflate by zlib), a raster canvas with a bitmap font, line charts.
        .target(name: "Reports", dependencies: ["RobotCore", "CZlib"]),
        // MCAP writer and reader; the dataset and log layout (camera images, actions, truth, episodes).
        .target(name: "Recording", dependencies: ["RobotCore", "Safety"]),
        // The teleop console: line editing, commands, checksummed sentences, key drive, the hand-off to the loop.
        .target(name: "Teleop", dependencies: ["RobotCore", "Safety", .product(name: "Crypto", package: "swift-crypto")]),
        // The live view: a Foxglove WebSocket server fed by the loop through a lock-free tap.
        .target(
            name: "LiveView",
            dependencies: ["RobotCore", "Safety", "Recording", "LinuxHardware", .product(name: "Crypto", package: "swift-crypto")]),
        // What runs on the robot: the fixed-rate loop, statistics, the rig from a board profile, the arbiter, the planner source.
        .target(
            name: "Control",
            dependencies: [
                "RobotCore", "Safety", "Simulation", "Configuration", "LinuxHardware", "Teleop", "Recording",
                "NeuralEngine", "WorldModel", "Planning",
            ]),
        // Off the robot: goal-reaching evaluation, exploration recording, probes of what a model knows.
        .target(
            name: "Evaluation",
            dependencies: [
                "RobotCore", "Safety", "Simulation", "Configuration", "Recording", "NeuralEngine",
                "WorldModel", "Planning", "LinuxHardware", "Control",
            ]),
        .executableTarget(
            name: "cerebellum",
            dependencies: [
                "Evaluation", "Control", "Configuration", "Simulation", "Safety", "RobotCore", "LinuxHardware", "NeuralEngine",
                "WorldModel", "Teleop", "Recording", "Reports", "Planning", "LiveView",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Counts heap allocations made by one thread (interposes malloc in the test process).
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        // Shared by the test targets: the repository's paths, the shipped model and board, stepping clocks.
        .target(
            name: "TestSupport",
            dependencies: [
                "Control", "Configuration", "Simulation", "Safety", "Planning", "WorldModel", "NeuralEngine",
                "LinuxHardware", "RobotCore",
            ], path: "Tests/TestSupport"),
        .testTarget(
            name: "LinuxHardwareTests",
            dependencies: [
                "LinuxHardware", "CShims", "Simulation", "Safety", "RobotCore", "NeuralEngine", "WorldModel", "CAllocationCounter",
            ]),
        .testTarget(name: "SafetyTests", dependencies: ["Safety", "RobotCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Safety", "RobotCore"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "Planning", "Safety", "Simulation", "RobotCore"]),
        .testTarget(
            name: "NeuralEngineTests",
            dependencies: ["NeuralEngine", "CKernels", "WorldModel", "Simulation", "RobotCore", "CAllocationCounter"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "WorldModelTests", dependencies: ["WorldModel", "NeuralEngine", "Recording", "Simulation", "RobotCore", "TestSupport"]),
        .testTarget(
            name: "RecordingTests",
            dependencies: [
                "Recording", "Reports", "Control", "Evaluation", "Configuration", "Simulation", "RobotCore",
                "Safety", "CAllocationCounter", "TestSupport",
            ]),
        .testTarget(name: "LiveViewTests", dependencies: ["LiveView", "Recording", "Safety", "RobotCore", "CAllocationCounter"]),
        .testTarget(name: "TeleopTests", dependencies: ["Teleop", "Safety", "RobotCore"]),
        .testTarget(
            name: "ControlTests",
            dependencies: [
                "Control", "Teleop", "Simulation", "Configuration", "Safety", "RobotCore", "NeuralEngine", "WorldModel",
                "Planning", "LinuxHardware", "CAllocationCounter", "TestSupport",
            ]),
        .testTarget(name: "RobotCoreTests", dependencies: ["RobotCore", "CAllocationCounter"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "RobotCore", "TestSupport"]),
        .testTarget(
            name: "PlanningTests",
            dependencies: ["Planning", "WorldModel", "NeuralEngine", "Simulation", "LinuxHardware", "RobotCore", "TestSupport"]),
        // ShippedModelQualityTests check the trained model, not the code: `make eval-smoke` runs them, `make test-unit` skips them.
        .testTarget(
            name: "EvaluationTests",
            dependencies: [
                "Evaluation", "Control", "Planning", "WorldModel", "Configuration", "Simulation",
                "LinuxHardware", "RobotCore", "Recording", "TestSupport",
            ],
            exclude: ["Fixtures"]),
    ]
)

// The libFuzzer harnesses (`make fuzz`): only in a build made for them, with -sanitize=fuzzer,address.
if Context.environment["CEREBELLUM_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "CerebellumFuzz",
            dependencies: [
                "Configuration", "LiveView", "NeuralEngine", "Recording", "Reports", "RobotCore", "Safety", "Teleop", "WorldModel",
            ],
            path: "Tests/Fuzz", exclude: ["corpus"], swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    package.products.append(.executable(name: "cerebellum-fuzz", targets: ["CerebellumFuzz"]))
}
