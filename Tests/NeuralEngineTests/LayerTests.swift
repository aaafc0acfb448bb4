import Foundation
import Testing
@testable import NeuralEngine
import WorldModel

/// One case of the numpy fixtures (scripts/nn-fixtures.py): architecture, parameters, input, output.
struct FixtureCase {
    let layers: [LayerSpec]
    let inputShape: [Int]
    let parameters: Parameters
    let x: Tensor<Float>
    let y: Tensor<Float>

    init(_ name: String) throws {
        let f = try SafetensorsFile.read(path: Repo.fixtures)
        layers = try LayerSpec.parse(json: f.metadata[name]!)
        inputShape = try JSONDecoder().decode([Int].self, from: Data(f.metadata[name + ".input_shape"]!.utf8))
        x = try f.tensor(name + ".x", Float.self)
        y = try f.tensor(name + ".y", Float.self)
        var p: Parameters = [:]
        for (key, value) in f.tensors where key.hasPrefix(name + ".") && key != name + ".x" && key != name + ".y" {
            p[String(key.dropFirst(name.count + 1))] = value.as(Float.self)!
        }
        parameters = p
    }

    func network() throws -> Network {
        try Network(layers: layers, parameters: parameters, inputShape: inputShape, batch: x.shape[0])
    }
}

/// Largest |a - b| / (1 + |b|).
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var e: Float = 0
    for i in 0..<a.count { e = max(e, abs(a[i] - b[i]) / (1 + abs(b[i]))) }
    return e
}

@Suite("fp32 layers against numpy")
struct LayerTests {
    static let convolutionCases = ["conv_s1_p1", "conv_s2_p1", "conv_s2_p0_rect", "conv_k5_p2", "conv_k1"]

    @Test(arguments: convolutionCases)
    func convolution(name: String) throws {
        let c = try FixtureCase(name)
        let out = try c.network().forward(c.x)
        #expect(out.shape == c.y.shape)
        #expect(maxRelativeError(out.scalars, c.y.scalars) < 1e-5, "\(name)")
    }

    @Test(arguments: [
        "linear", "linear_single", "relu", "gelu", "silu", "network",
    ])
    func layer(name: String) throws {
        let c = try FixtureCase(name)
        let net = try c.network()
        let out = net.forward(c.x)
        #expect(out.shape == c.y.shape)
        #expect(maxRelativeError(out.scalars, c.y.scalars) < 1e-5, "\(name)")
        // A second pass over the same buffers gives the same answer (no state leaks between calls).
        #expect(net.forward(c.x).scalars == out.scalars)
    }

    @Test func analyticCases() throws {
        // A 1×1 convolution with weight 2 and bias 1 is 2x + 1; a 3×3 box filter sums the window.
        let one = try Network(
            layers: [.conv2d(inChannels: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0)],
            parameters: ["0.weight": Tensor(shape: [1, 1, 1, 1], scalars: [2]), "0.bias": Tensor(shape: [1], scalars: [1])],
            inputShape: [2, 2, 1])
        #expect(one.forward(Tensor(shape: [1, 2, 2, 1], scalars: [0, 1, 2, 3])).scalars == [1, 3, 5, 7])
        do {
            let box = try Network(
                layers: [.conv2d(inChannels: 1, outChannels: 1, kernel: 3, stride: 1, padding: 1)],
                parameters: [
                    "0.weight": Tensor(shape: [1, 3, 3, 1], scalars: Array(repeating: 1, count: 9)),
                    "0.bias": Tensor(shape: [1]),
                ],
                inputShape: [3, 3, 1])
            // Corners see 4 ones, edges 6, the centre 9.
            #expect(
                box.forward(Tensor(shape: [1, 3, 3, 1], scalars: Array(repeating: 1, count: 9))).scalars == [4, 6, 4, 6, 9, 6, 4, 6, 4])
        }
        #expect(Activation.relu.apply(-3) == 0)
        #expect(abs(Activation.gelu.apply(1) - 0.8413447) < 1e-6)
        #expect(abs(Activation.silu.apply(1) - 0.7310586) < 1e-6)
    }

    @Test func rejectsMismatchedParametersAndShapes() {
        let conv = LayerSpec.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1)
        let good = Parameters.initialized(for: [conv], seed: 1)
        #expect(throws: ModelError("missing parameter \"0.bias\" (shape [2])")) {
            try Network(layers: [conv], parameters: ["0.weight": good["0.weight"]!], inputShape: [4, 4, 1])
        }
        #expect(throws: ModelError("parameter \"0.weight\" has shape [2, 3, 3, 1], expected [2, 3, 3, 2]")) {
            try Network(
                layers: [.conv2d(inChannels: 2, outChannels: 2, kernel: 3, stride: 1, padding: 1)], parameters: good, inputShape: [4, 4, 2])
        }
        #expect(throws: ModelError.self) { try Network(layers: [conv], parameters: good, inputShape: [4, 4, 3]) }
        var extra = good
        extra["7.weight"] = Tensor(shape: [1])
        #expect(throws: ModelError("parameter \"7.weight\" belongs to no layer")) {
            try Network(layers: [conv], parameters: extra, inputShape: [4, 4, 1])
        }
        #expect(throws: ModelError.self) {
            try Network(
                layers: [.residual([.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1)])],
                parameters: ["0.0.weight": good["0.weight"]!, "0.0.bias": good["0.bias"]!], inputShape: [4, 4, 1])
        }
    }

    @Test func architectureJSONRoundTripsAndNamesErrors() throws {
        let c = try FixtureCase("network")
        #expect(try LayerSpec.parse(json: LayerSpec.json(c.layers)) == c.layers)
        #expect(throws: ModelError.self) { try LayerSpec.parse(json: #"[{"op":"conv3d"}]"#) }
        let hybrid = WorldModelArchitecture.encoder(.hybrid)
        #expect(try LayerSpec.parse(json: LayerSpec.json(hybrid)) == hybrid)
        #expect(try hybrid[4].outputShape(for: [16, 16, 32], at: "4") == [WorldModelArchitecture.latentSize])
        do {
            _ = try LayerSpec.concat([[.flatten], [.conv2d(inChannels: 2, outChannels: 1, kernel: 1, stride: 1, padding: 0)]])
                .outputShape(for: [3, 3, 2], at: "4")
            Issue.record("accepted a branch that does not end in a vector")
        } catch let e as ModelError {
            #expect(e.reason.contains("branch 1 must end in a vector"), "\(e.reason)")
        }
        do {
            _ = try LayerSpec.parse(json: #"[{"op":"flatten"},{"op":"linear","in":4}]"#)
            Issue.record("accepted a linear layer without out")
        } catch let e as ModelError {
            #expect(e.reason.contains("architecture at 1"), "\(e.reason)")
        }
    }

    @Test func initializationIsSeeded() {
        let layers = [LayerSpec.linear(inFeatures: 8, outFeatures: 4), .activation(.relu), .linear(inFeatures: 4, outFeatures: 2)]
        let a = Parameters.initialized(for: layers, seed: 3), b = Parameters.initialized(for: layers, seed: 3)
        #expect(a["0.weight"]!.scalars == b["0.weight"]!.scalars)
        #expect(a["0.weight"]!.scalars != Parameters.initialized(for: layers, seed: 4)["0.weight"]!.scalars)
        #expect(a["2.weight"]!.scalars == b["2.weight"]!.scalars && a["2.weight"]!.scalars != a["0.weight"]!.scalars.prefix(8).map { $0 })
        #expect(a["0.bias"]!.scalars == [0, 0, 0, 0])
    }
}
