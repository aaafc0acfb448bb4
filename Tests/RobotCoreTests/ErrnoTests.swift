import Glibc
import RobotCore
import Testing

@Suite struct ErrnoTests {
    @Test("a call interrupted by a signal is made again; another failure comes back as its typed errno")
    func valueOrErrnoRetriesInterruptedCalls() {
        var calls = 0
        let done = valueOrErrno { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 7
        }
        #expect(done == .success(7) && calls == 3)
        calls = 0
        let once = valueOrErrno(retryOnInterrupt: false) { () -> Int32 in
            calls += 1
            errno = EINTR
            return -1
        }
        #expect(once == .failure(.interrupted) && calls == 1)
        let failed = valueOrErrno { () -> Int in
            errno = ENODEV
            return -1
        }
        #expect(failed == .failure(.noDevice))
    }

    @Test("an errno reads as the C library's message and its number; a device failure carries it")
    func descriptions() {
        #expect(Errno.noDevice.description == "No such device (errno 19)")
        #expect(DeviceFailure.io(errno: .ioError).description == "I/O error: Input/output error (errno 5)")
        #expect(DeviceFailure.io(errno: .remoteIO).isTransientBusError && !DeviceFailure.io(errno: .noDevice).isTransientBusError)
    }
}
