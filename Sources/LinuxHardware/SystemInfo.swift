import CGPIOD
import CShims
import Glibc
import RobotCore

/// Versions of the C libraries this build is linked against (for `cerebellum doctor`).
public enum LinkedLibraries {
    public static var libgpiod: String { String(cString: gpiod_version_string()) }
    /// The C library the process runs on, e.g. "glibc 2.41".
    public static var cLibrary: String { "glibc " + String(cString: cb_libc_version()) }
    /// The kernel and machine, e.g. "Linux 6.12.47 aarch64".
    public static var kernel: String {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: inout T) -> String {
            withUnsafeBytes(of: &value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(&u.sysname)) \(field(&u.release)) \(field(&u.machine))"
    }
}

/// Why a device could not be found, opened or set up (outside the tick; inside it a `DeviceFailure`
/// carries the errno alone): what was tried on which device, and the OS's reason when there is one.
public struct HardwareError: Error, CustomStringConvertible {
    public let message: String
    /// The OS's reason, when a system call failed.
    public let errno: Errno?

    public init(message: String, errno: Errno? = nil) {
        self.message = message
        self.errno = errno
    }

    /// `device`: `problem` (a serial port, a chip: the name first).
    public init(device: String, _ problem: String, errno: Errno? = nil) {
        self.init(message: "\(device): \(problem)", errno: errno)
    }

    public var description: String { message + (errno.map { ": \($0)" } ?? "") }
}

/// The text of a NUL-terminated character array of fixed size inside a C struct (imported as a tuple).
func cString<T>(fixed tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

/// The text of a NUL-terminated C buffer (up to its first NUL, or all of it).
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBytes { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}
