/// The `q`-quantile (0…1) of `sorted` (ascending): the element at index ⌊q·n⌋, clamped to the last one, so
/// the median of an even count is the upper middle element; NaN when `sorted` is empty. The one definition
/// of every percentile and median the tools report. (The loop's own percentiles come from its
/// allocation-free log-bucket histogram, `LatencyHistogram`, which keeps no samples.)
public func quantile<T: BinaryFloatingPoint>(sorted: [T], _ q: Double) -> T {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
}
