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
            for kernel in DenseKernel.available where kernel.precision == .fp32 {
                let stack = try run(kernel, params, net, rows: rows)
                let (worst, scale) = difference(stack.output, reference)
                #expect(worst <= 1e-5 * max(1, scale), "\(kernel.rawValue), \(rows) rows: differs by \(worst)")
                #expect(try stack.disagreement(rows: rows) <= 1e-5)
            }
        }
    }

    @Test("every int8 kernel this CPU runs equals int8-portable bit for bit and tracks the fp32 Network to a few per cent")
    func int8MatchesPortable() throws {
        let params = Parameters.initialized(for: layers, seed: 5)
        var rng = SeededGenerator(seed: 11)
        let int8Kernels = DenseKernel.available.filter { $0.precision == .int8 }
        #expect(int8Kernels.first == .int8Portable)
        for rows in [1, 3, 4, 7, 8, 13, 32, 64] {
            let net = try Network(layers: layers, parameters: params, inputShape: [34], batch: rows)
            for i in 0..<net.input.count { net.input[i] = Float(rng.uniform(-2, 2)) }
            let reference = net.forward()
            let portable = try run(.int8Portable, params, net, rows: rows)
            let (worst, scale) = difference(portable.output, reference)
            #expect(worst <= 0.03 * scale, "int8, \(rows) rows: \(worst) of \(scale) from fp32")
            for kernel in int8Kernels.dropFirst() {
                let stack = try run(kernel, params, net, rows: rows)
                #expect(
                    (0..<reference.count).allSatisfy { stack.output[$0].bitPattern == portable.output[$0].bitPattern }, "\(kernel.rawValue)"
                )
                #expect(try stack.disagreement(rows: rows) == 0)
            }
        }
    }

    /// A 64-row stack of `kernel` run on the first `rows` rows of the network's input.
    private func run(_ kernel: DenseKernel, _ params: Parameters, _ net: Network, rows: Int) throws -> DenseStack {
        let stack = try DenseStack(layers: layers, parameters: params, inputSize: 34, capacity: 64, kernel: kernel)
        for i in 0..<net.input.count { stack.input[i] = net.input[i] }
        stack.forward(rows: rows)
        return stack
    }

    /// The largest difference of `a` from `reference` over the reference's elements, and its largest magnitude.
    private func difference(_ a: Tensor<Float>, _ reference: Tensor<Float>) -> (worst: Float, scale: Float) {
        var worst: Float = 0, scale: Float = 0
        for i in 0..<reference.count {
            worst = max(worst, abs(a[i] - reference[i]))
            scale = max(scale, abs(reference[i]))
        }
        return (worst, scale)
    }

    @Test("an int8 row's result does not depend on the other rows of its batch (each row has its own scale)")
    func int8RowsIndependent() throws {
        let params = Parameters.initialized(for: layers, seed: 6)
        var rng = SeededGenerator(seed: 12)
        for kernel in DenseKernel.available where kernel.precision == .int8 {
            let one = try DenseStack(layers: layers, parameters: params, inputSize: 34, capacity: 32, kernel: kernel)
            let many = try DenseStack(layers: layers, parameters: params, inputSize: 34, capacity: 32, kernel: kernel)
            for i in 0..<many.input.count { many.input[i] = Float(rng.uniform(-2, 2)) * (i >= 34 ? 50 : 1) }
            for i in 0..<34 { one.input[i] = many.input[i] }
            one.forward(rows: 1)
            many.forward(rows: 32)
            #expect((0..<32).allSatisfy { one.output[$0].bitPattern == many.output[$0].bitPattern }, "\(kernel.rawValue)")
        }
    }

    @Test("precision candidates: fp32 and int8 keep to their format, auto takes int8 only with a dot-product instruction")
    func candidates() {
        let fp32 = DenseKernel.candidates(.fp32), int8 = DenseKernel.candidates(.int8)
        #expect(fp32.allSatisfy { $0.precision == .fp32 } && fp32.last == .portable)
        #expect(int8.allSatisfy { $0.precision == .int8 } && int8.last == .int8Portable)
        let auto = DenseKernel.candidates(.auto)
        #expect(auto.last == .portable)
        let autoInt8 = auto.filter { $0.precision == .int8 }
        #expect(autoInt8.allSatisfy { $0.hasDotProduct })
        let dot = DenseKernel.available.contains { $0.hasDotProduct }
        #expect(auto.first?.precision == (dot ? .int8 : .fp32))
        #expect(DenseKernel.best.precision == .fp32)
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
