/// The Wilson score interval of a success rate (95 % for z = 1.96): unlike the normal
/// approximation it stays inside [0, 1] and is honest near 0 % and 100 %.
public func wilsonInterval(successes: Int, trials: Int, z: Double = 1.96) -> (Double, Double) {
    guard trials > 0 else { return (0, 1) }
    let n = Double(trials), p = Double(successes) / n, z2 = z * z
    let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
    return (max(0, centre - half), min(1, centre + half))
}
