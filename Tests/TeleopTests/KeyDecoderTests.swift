import Testing
@testable import Teleop

@Suite struct KeyDecoderTests {
    func decode(_ bytes: [UInt8]) -> ([Key], Int) {
        var d = KeyDecoder()
        let keys = bytes.compactMap { d.feed($0) }
        return (keys, d.garbageBytes)
    }

    @Test func arrowsLettersAndControls() {
        let (keys, garbage) = decode([0x1B, 0x5B, 0x41, 0x1B, 0x4F, 0x44, 0x61, 0x0D, 0x7F, 0x03])
        #expect(keys == [.up, .left, .character(0x61), .enter, .backspace, .interrupt])
        #expect(garbage == 0)
    }

    @Test func garbageIsDroppedNotMisread() {
        // An unknown CSI sequence (F5: ESC [ 1 5 ~), a lone ESC followed by x, a NUL and a non-ASCII byte.
        let (keys, garbage) = decode([0x1B, 0x5B, 0x31, 0x35, 0x7E, 0x1B, 0x78, 0x00, 0xC3, 0x62])
        #expect(keys == [.character(0x62)])
        #expect(garbage == 5 + 2 + 1 + 1)
    }
}
