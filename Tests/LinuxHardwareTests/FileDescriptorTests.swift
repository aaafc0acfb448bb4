import CAllocationCounter
import Glibc
import LinuxHardware
import RobotCore
import Testing

@Suite struct FileDescriptorTests {
    @Test("calls return the typed errno; poll reports a timeout as no events; none of them allocates")
    func pipeRoundTrip() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        for e in ends { _ = fcntl(e, F_SETFL, fcntl(e, F_GETFL) | O_NONBLOCK) }
        let reader = FileDescriptor(rawValue: ends[0]), writer = FileDescriptor(rawValue: ends[1])
        defer {
            reader.close()
            writer.close()
        }
        var byte: UInt8 = 0x5A, got: UInt8 = 0
        // The first calls initialize the runtime's type metadata (once per process): warm up, then count.
        _ = reader.read(into: &got, count: 1)
        _ = reader.poll(POLLIN, timeoutMilliseconds: 0)
        _ = writer.write(&byte, count: 1)
        _ = reader.poll(POLLIN, timeoutMilliseconds: 100)
        _ = reader.read(into: &got, count: 1)
        got = 0
        allocation_counter_start()
        let empty = reader.read(into: &got, count: 1)
        let idle = reader.poll(POLLIN, timeoutMilliseconds: 0)
        let wrote = writer.write(&byte, count: 1)
        let ready = reader.poll(POLLIN, timeoutMilliseconds: 100)
        let read = reader.read(into: &got, count: 1)
        let allocations = allocation_counter_stop()
        #expect(empty == .failure(.tryAgain))
        #expect(idle == .success(0))
        #expect(wrote == .success(1) && ready == .success(Int16(POLLIN)) && read == .success(1) && got == 0x5A)
        #expect(allocations == 0)
        #expect(FileDescriptor(rawValue: -1).read(into: &got, count: 1) == .failure(Errno(EBADF)))
    }

    @Test("opening a path that is not there names it and says why")
    func openFailure() {
        let e = #expect(throws: HardwareError.self) { try FileDescriptor.open("/nonexistent/device", O_RDONLY) }
        #expect(
            e?.description.hasPrefix("/nonexistent/device: cannot open") == true && e?.errno == Errno(ENOENT), "\(String(describing: e))")
    }
}
