import CShims
import Glibc
import Testing

/// The C23 and BSD string functions a build against a glibc older than 2.38 provides (glibc-compat.c).
@Suite struct GlibcCompatTests {
    func strtol(_ s: String, base: Int32 = 0) -> (value: Int, rest: String, errno: Int32) {
        s.withCString { p in
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let v = cb_c23_strtol(p, &end, base)
            return (v, String(cString: end!), errno)
        }
    }

    @Test("strtol: C23's 0b prefix for base 0 and 2, everything else as C99's, with the end pointer and overflow")
    func strtolFamily() {
        #expect(strtol("0b101").value == 5)
        #expect(strtol("  -0B11 rest").value == -3)
        #expect(strtol("  -0B11 rest").rest == " rest")
        #expect(strtol("0b101", base: 2).value == 5)
        #expect(strtol("0b101", base: 16).value == 0xB101)  // b is a hex digit: no prefix in base 16
        #expect(strtol("0b2").value == 0 && strtol("0b2").rest == "b2")  // no binary digit after it: "0", as C99
        #expect(strtol("0x1f").value == 31 && strtol("017").value == 15 && strtol("42z").rest == "z")
        let ones = "0b" + String(repeating: "1", count: 63)
        #expect(strtol(ones).value == Int.max && strtol(ones).errno == 0)
        #expect(strtol(ones + "1").value == Int.max && strtol(ones + "1").errno == ERANGE)
        #expect(strtol("-0b1" + String(repeating: "0", count: 63)).value == Int.min)
        #expect(strtol("-0b1" + String(repeating: "0", count: 63) + "1").errno == ERANGE)
        "-0b10".withCString { p in
            #expect(cb_c23_strtoll(p, nil, 0) == -2)
            #expect(cb_c23_strtoul(p, nil, 0) == UInt(bitPattern: -2))
        }
    }

    @Test("strlcpy and strlcat: truncate to the buffer, always terminate, return the length they tried to make")
    func strlFamily() {
        var buffer = [CChar](repeating: 0x7F, count: 8)
        #expect(cb_strlcpy(&buffer, "controller", 8) == 10)
        #expect(String(cString: buffer) == "control")
        #expect(cb_strlcpy(&buffer, "ab", 8) == 2 && String(cString: buffer) == "ab")
        #expect(cb_strlcat(&buffer, "cdefgh", 8) == 8 && String(cString: buffer) == "abcdefg")
        #expect(cb_strlcat(&buffer, "xyz", 8) == 10 && String(cString: buffer) == "abcdefg")
        var small = [CChar](repeating: 0x7F, count: 4)
        #expect(cb_strlcpy(&small, "xyz", 0) == 3 && small[0] == 0x7F)  // size 0: nothing written
        #expect(cb_strlcat(&small, "q", 0) == 1)
    }
}
