import NeuralEngine
import Testing

@Suite struct LinearAlgebraTests {
    @Test("eigenvalues of a symmetric matrix, ascending")
    func eigenvalues() {
        let e = LinearAlgebra.symmetricEigenvalues([2, 1, 0, 1, 2, 0, 0, 0, 5], n: 3)
        #expect(e.count == 3 && abs(e[0] - 1) < 1e-12 && abs(e[1] - 3) < 1e-12 && abs(e[2] - 5) < 1e-12)
        #expect(LinearAlgebra.symmetricEigenvalues([], n: 0).isEmpty)
    }

    @Test("a positive-definite solve with several right-hand sides gives back X (row-major in and out)")
    func solve() throws {
        // A = Mᵀ M + I for a fixed M; B = A X for a known X (3 × 2).
        let m: [Double] = [1, 2, 0, -1, 0.5, 3, 2, 1, 1]
        var a = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for t in 0..<3 { a[i * 3 + j] += m[t * 3 + i] * m[t * 3 + j] } } }
        for i in 0..<3 { a[i * 3 + i] += 1 }
        let x: [Double] = [1, -2, 0.5, 4, -3, 0.25]
        var b = [Double](repeating: 0, count: 6)
        for i in 0..<3 { for j in 0..<2 { for t in 0..<3 { b[i * 2 + j] += a[i * 3 + t] * x[t * 2 + j] } } }
        let solved = try LinearAlgebra.solvePositiveDefinite(a, b, n: 3, k: 2)
        for i in 0..<6 { #expect(abs(solved[i] - x[i]) < 1e-10, "element \(i)") }
    }

    @Test("a matrix that is not positive definite is refused")
    func notPositiveDefinite() {
        #expect(throws: LinearAlgebra.NotPositiveDefinite.self) {
            _ = try LinearAlgebra.solvePositiveDefinite([1, 2, 2, 1], [1, 1], n: 2, k: 1)
        }
    }
}
