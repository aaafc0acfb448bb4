import LinuxHardware
import RobotCore
import Simulation

/// The Gymnasium host process behind a `gymnasium` board: `python scripts/gym_host.py` on a socket, each
/// message framed by `GymProtocol` (a u32 length, then the payload).
final class GymHostProcess: GymHostLink {
    private let channel: ChildProcessChannel
    private let clock = SystemClock()

    init(settings: GymnasiumSettings) throws { channel = try ChildProcessChannel.start([settings.python, settings.hostScript]) }

    /// A host that stops reading has this long to take a message.
    private let sendTimeout = Duration.seconds(1)

    func send(_ message: [UInt8]) -> GymLinkFailure? {
        channel.send(message, timeout: sendTimeout).map { GymHostProcess.failure($0, sendTimeout) }
    }

    func receive(timeout: Duration) -> Result<[UInt8], GymLinkFailure> {
        let deadline = clock.now() + timeout
        var header = [UInt8](repeating: 0, count: 4)
        if let f = channel.read(into: &header, deadline: deadline) { return .failure(GymHostProcess.failure(f, timeout)) }
        let n: Int
        do { n = try GymProtocol.payloadLength(header: header) } catch { return .failure(.malformed(error.message)) }
        var payload = [UInt8](repeating: 0, count: n)
        if let f = channel.read(into: &payload, deadline: deadline) { return .failure(GymHostProcess.failure(f, timeout)) }
        return .success(payload)
    }

    func close() {
        _ = channel.send(GymProtocol.close(), timeout: .milliseconds(100))
        channel.close()
    }

    private static func failure(_ f: ChildChannelFailure, _ timeout: Duration) -> GymLinkFailure {
        switch f {
        case .closed(let how): .closed(how)
        case .timedOut: .timedOut(timeout)
        }
    }
}
