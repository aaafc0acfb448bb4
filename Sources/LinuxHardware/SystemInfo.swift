import CGPIOD
import Glibc

/// Versions of the C libraries this build is linked against (for `cerebellum doctor`).
public enum LinkedLibraries {
    public static var libgpiod: String { String(cString: gpiod_version_string()) }
}
