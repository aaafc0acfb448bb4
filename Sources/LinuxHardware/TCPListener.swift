import Glibc
import RobotCore

/// A listening TCP socket (IPv4) for a server thread of its own: the live view. The listener and the
/// connections it accepts are non-blocking (a client that stops reading never blocks the server), and
/// accepted connections send without Nagle's delay.
public final class TCPListener {
    public let descriptor: FileDescriptor
    /// The address and port bound (the kernel's choice when asked for port 0).
    public let host: String
    public let port: UInt16
    /// The kernel send buffer of each accepted connection, bytes (nil: the kernel's autotuning): a bound on
    /// what the kernel holds for a client that stopped reading, so the server's own backlog accounting sees it.
    public let sendBufferBytes: Int32?

    /// Binds `host` (dotted IPv4, e.g. 127.0.0.1 or 0.0.0.0 for every interface) and `port`, and listens.
    /// Throws, naming the address, when it is not an address, is in use or not allowed.
    public init(host: String, port: UInt16, sendBufferBytes: Int32? = nil) throws {
        self.sendBufferBytes = sendBufferBytes
        let name = "tcp \(host):\(port)"
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw HardwareError(device: name, "not an IPv4 address (e.g. 127.0.0.1, or 0.0.0.0 for every interface)")
        }
        let fd: FileDescriptor
        switch valueOrErrno({
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }) {
        case .success(let raw): fd = FileDescriptor(rawValue: raw)
        case .failure(let e): throw HardwareError(device: name, "cannot make a socket", errno: e)
        }
        var one: Int32 = 1
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                valueOrErrno { bind(fd.rawValue, a, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if case .failure(let e) = bound {
            fd.close()
            throw HardwareError(device: name, "cannot bind", errno: e)
        }
        if case .failure(let e) = valueOrErrno({ listen(fd.rawValue, 8) }) {
            fd.close()
            throw HardwareError(device: name, "cannot listen", errno: e)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in valueOrErrno { getsockname(fd.rawValue, a, &length) } }
        }
        if case .failure(let e) = named {
            fd.close()
            throw HardwareError(device: name, "cannot read the bound port", errno: e)
        }
        descriptor = fd
        self.host = host
        self.port = UInt16(bigEndian: address.sin_port)
    }

    /// A waiting connection (non-blocking, TCP_NODELAY), nil when none waits; its peer as "a.b.c.d:port".
    public func accept() -> Result<(FileDescriptor, peer: String)?, Errno> {
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let r = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                valueOrErrno { Glibc.accept(descriptor.rawValue, a, &length) }
            }
        }
        switch r {
        case .failure(let e) where e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK: return .success(nil)
        case .failure(let e): return .failure(e)
        case .success(let raw):
            _ = fcntl(raw, F_SETFL, fcntl(raw, F_GETFL) | O_NONBLOCK)
            _ = fcntl(raw, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            _ = setsockopt(raw, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if var size = sendBufferBytes { _ = setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &peer.sin_addr, &text, socklen_t(text.count))
            let host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .success((FileDescriptor(rawValue: raw), "\(host):\(UInt16(bigEndian: peer.sin_port))"))
        }
    }

    public func close() { descriptor.close() }
}

extension FileDescriptor {
    /// poll(2) over several descriptors: waits up to `timeoutMilliseconds` for any of their `events`, and
    /// returns each one's `revents` (all 0 on a timeout or a signal). For server threads (it allocates).
    public static func poll(_ entries: [(FileDescriptor, events: Int32)], timeoutMilliseconds: Int32) -> Result<[Int16], Errno> {
        var fds = entries.map { pollfd(fd: $0.0.rawValue, events: Int16($0.events), revents: 0) }
        let n = fds.count
        return valueOrErrno(retryOnInterrupt: false) {
            fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t(n), timeoutMilliseconds) }
        }
        .map { _ in fds.map(\.revents) }
        .flatMapError { $0.rawValue == EINTR ? .success([Int16](repeating: 0, count: n)) : .failure($0) }
    }
}
