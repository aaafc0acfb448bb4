import COpenBLAS

/// Dense linear algebra in Double through LAPACK (OpenBLAS's): a symmetric positive-definite solve and
/// the eigenvalues of a symmetric matrix — for the probes and statistics off the control path.
public enum LinearAlgebra {
    public struct NotPositiveDefinite: Error {}

    /// Solves A X = B for a symmetric positive-definite n × n `a` (Cholesky factorization, `dposv`); `b`
    /// and the result are row-major n × k. Throws when A is not positive definite.
    public static func solvePositiveDefinite(_ a: [Double], _ b: [Double], n: Int, k: Int) throws -> [Double] {
        precondition(a.count == n * n && b.count == n * k, "solvePositiveDefinite: shapes")
        var factor = a  // symmetric: the same in either layout
        var columns = [Double](repeating: 0, count: n * k)  // B column-major
        for i in 0..<n { for j in 0..<k { columns[j * n + i] = b[i * k + j] } }
        var order = Int32(n), rhs = Int32(k), lead = Int32(max(1, n)), info: Int32 = 0
        var upper = CChar(UInt8(ascii: "U"))
        dposv_(&upper, &order, &rhs, &factor, &lead, &columns, &lead, &info, 1)
        precondition(info >= 0, "dposv: argument \(-info) is invalid")
        if info > 0 { throw NotPositiveDefinite() }
        var x = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { x[i * k + j] = columns[j * n + i] } }
        return x
    }

    /// The eigenvalues of a symmetric n × n matrix, ascending (`dsyev`, values only).
    public static func symmetricEigenvalues(_ a: [Double], n: Int) -> [Double] {
        precondition(a.count == n * n, "symmetricEigenvalues: shape")
        guard n > 0 else { return [] }
        var m = a
        var values = [Double](repeating: 0, count: n)
        var order = Int32(n), lead = Int32(n), info: Int32 = 0
        var valuesOnly = CChar(UInt8(ascii: "N")), upper = CChar(UInt8(ascii: "U"))
        // A workspace query first, then the call.
        var size = 0.0, query: Int32 = -1
        dsyev_(&valuesOnly, &upper, &order, &m, &lead, &values, &size, &query, &info, 1, 1)
        var work = [Double](repeating: 0, count: max(1, Int(size)))
        var length = Int32(work.count)
        dsyev_(&valuesOnly, &upper, &order, &m, &lead, &values, &work, &length, &info, 1, 1)
        precondition(info == 0, "dsyev: info \(info)")
        return values
    }
}
