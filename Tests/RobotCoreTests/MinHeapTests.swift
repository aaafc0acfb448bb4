import Testing
@testable import RobotCore

@Suite("Min-heap")
struct MinHeapTests {
    @Test("pops in cost order, whatever the push order; a full heap refuses and keeps what it has")
    func order() {
        var rng = SeededGenerator(seed: 3)
        var heap = MinHeap<Double>(capacity: 500, filler: 0)
        var pushed: [(Double, Int32)] = []
        for k in 0..<500 {
            let c = (rng.unit() * 100).rounded()  // ties included
            let added = heap.push(c, Int32(k))
            #expect(added)
            pushed.append((c, Int32(k)))
        }
        let overflow = heap.push(-1, 999)
        #expect(!overflow && heap.count == 500, "full: refused")
        var popped: [(cost: Double, item: Int32)] = []
        while let e = heap.popMin() { popped.append(e) }
        #expect(popped.map(\.cost) == pushed.map(\.0).sorted())
        #expect(Set(popped.map(\.item)) == Set(pushed.map(\.1)), "every item comes back once")
        let none = heap.popMin()
        #expect(heap.isEmpty && none == nil)
        heap.push(2, 1)
        heap.push(1, 2)
        heap.removeAll()
        #expect(heap.isEmpty)
    }
}
