import Testing
@testable import NeuralEngine
import RobotCore

@Suite("Dense stack (the planner's predictor kernels)")
struct DenseStackTests {
    let layers: [LayerSpec] = [
        .linear(inFeatures: 34, outFeatures: 128), .activation(.relu),
        .linear(inFeatures: 128, outFeatures: 128), .activation(.relu),
        .linear(inFeatures: 128, outFeatures: 32),
    ]

    @Test("every kernel this CPU runs matches the Network (OpenBLAS) on the predictor's layers, any row count")
    func matchesNetwork() throws {
        let params = Parameters.initialized(for: layers, seed: 3)
        var rng = SeededGenerator(seed: 9)
        for rows in [1, 3, 4, 7, 8, 13, 32, 64] {
            let net = try Network(layers: layers, parameters: params, inputShape: [34], batch: rows)
            for i in 0..<net.input.count { net.input[i] = Float(rng.uniform(-2, 2)) }
            let reference = net.forward()
            for kernel in DenseKernel.available {
                let stack = try DenseStack(layers: layers, parameters: params, inputSize: 34, capacity: 64, kernel: kernel)
                for i in 0..<net.input.count { stack.input[i] = net.input[i] }
                stack.forward(rows: rows)
                var worst: Float = 0, scale: Float = 0
                for i in 0..<reference.count {
                    worst = max(worst, abs(stack.output[i] - reference[i]))
                    scale = max(scale, abs(reference[i]))
                }
                #expect(worst <= 1e-5 * max(1, scale), "\(kernel.rawValue), \(rows) rows: differs by \(worst)")
                #expect(try stack.disagreement(rows: rows) <= 1e-5)
            }
        }
    }

    @Test("rows past the requested count are not written")
    func onlyRequestedRows() throws {
        let params = Parameters.initialized(for: layers, seed: 4)
        let stack = try DenseStack(layers: layers, parameters: params, inputSize: 34, capacity: 16)
        for i in 0..<stack.output.count { stack.output[i] = 42 }
        stack.forward(rows: 5)
        #expect((5 * 32..<16 * 32).allSatisfy { stack.output[$0] == 42 })
        #expect((0..<5 * 32).contains { stack.output[$0] != 42 })
    }

    @Test("layers it cannot run are refused with the layer named")
    func refusesOtherLayers() throws {
        let other: [LayerSpec] = [.linear(inFeatures: 4, outFeatures: 8), .activation(.gelu), .linear(inFeatures: 8, outFeatures: 2)]
        let params = Parameters.initialized(for: other, seed: 1)
        #expect(throws: ModelError.self) { try DenseStack(layers: other, parameters: params, inputSize: 4, capacity: 2) }
        let missing: Parameters = [:]
        #expect(throws: ModelError.self) { try DenseStack(layers: layers, parameters: missing, inputSize: 34, capacity: 2) }
        #expect(throws: ModelError.self) {
            try DenseStack(layers: layers, parameters: Parameters.initialized(for: layers, seed: 1), inputSize: 33, capacity: 2)
        }
    }

    @Test("OpenBLAS agrees with the portable kernel on the model's shapes (its core type computes correctly here)")
    func blasAgrees() {
        #expect(BLAS.disagreementWithPortable() < 1e-4)
    }
}
