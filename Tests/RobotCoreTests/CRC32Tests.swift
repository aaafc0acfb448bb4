import RobotCore
import Testing

@Suite struct CRC32Tests {
    @Test("the standard check value; updates in pieces and from any collection give the same CRC")
    func checkValue() {
        let text = Array("123456789".utf8)
        #expect(CRC32.checksum(text) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        var pieces = CRC32()
        pieces.update(text[0..<4])
        pieces.update([UInt8]())
        pieces.update(text[4...])
        #expect(pieces.value == 0xCBF4_3926)
        var lazy = CRC32()
        lazy.update(text.lazy.map { $0 })  // no contiguous storage
        #expect(lazy.value == 0xCBF4_3926)
    }
}
