/// A binary min-heap of (cost, item) pairs in storage allocated once: Dijkstra's frontier for the route
/// searches (the rooms grid, the place memory). `push` past `capacity` is refused (returns false), so a
/// search can run inside a tick without allocating.
public struct MinHeap<Cost: Comparable> {
    private var costs: [Cost]
    private var items: [Int32]
    public private(set) var count = 0
    public var capacity: Int { costs.count }
    public var isEmpty: Bool { count == 0 }

    /// Room for `capacity` entries; `filler` only initializes the storage.
    public init(capacity: Int, filler: Cost) {
        costs = [Cost](repeating: filler, count: max(1, capacity))
        items = [Int32](repeating: 0, count: max(1, capacity))
    }

    public mutating func removeAll() { count = 0 }

    /// Adds `item` at `cost`; false (nothing added) when the heap is full.
    @discardableResult
    public mutating func push(_ cost: Cost, _ item: Int32) -> Bool {
        guard count < costs.count else { return false }
        var i = count
        count += 1
        costs[i] = cost
        items[i] = item
        while i > 0 && costs[(i - 1) / 2] > costs[i] {
            costs.swapAt(i, (i - 1) / 2)
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
        return true
    }

    /// Removes and returns the entry of least cost (nil when empty).
    public mutating func popMin() -> (cost: Cost, item: Int32)? {
        guard count > 0 else { return nil }
        let top = (costs[0], items[0])
        count -= 1
        costs[0] = costs[count]
        items[0] = items[count]
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < count && costs[l] < costs[m] { m = l }
            if r < count && costs[r] < costs[m] { m = r }
            if m == i { break }
            costs.swapAt(i, m)
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
