import ArgumentParser
import Foundation
import RobotCore
import Glibc
import Teleop

/// `cerebellum console-key`: a new shared key for a signed console link.
struct ConsoleKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-key",
        abstract: "Write a new random 32-byte key for a signed console link (serial_console.key_file), readable by its owner only.")

    @Option(help: "The key file to write (it must not exist yet).")
    var out: String

    func run() throws {
        let fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ValidationError("\(out): \(Errno.current)") }
        defer { close(fd) }
        let text = LinkSigner.newKeyText()
        guard text.withCString({ write(fd, $0, strlen($0)) }) == text.utf8.count else { throw ValidationError("\(out): write failed") }
        print(
            "wrote \(out) (32 random bytes as hex, mode 0600); name it in the board's serial_console.key_file and give the operator's "
                + "program a copy"
        )
    }
}

/// `cerebellum console-sign`: one signed sentence, for scripts and for checking an operator program.
struct ConsoleSign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-sign",
        abstract: "Print the signed sentence $S,SEQ,TAG,BODY*CCCC for a sentence body under a session nonce (the console's $SESSION reply)."
    )

    @Option(help: "The link's key file.")
    var keyFile: String

    @Option(help: "The session nonce, 16 hex digits (the console prints it on connect and answers `session` / $SESSION*CCCC).")
    var session: String

    @Option(help: "The sequence number: above every one sent before under this session nonce.")
    var sequence: UInt64

    @Argument(help: "The sentence body, e.g. DRIVE,0.3,0.3 or ARM.")
    var body: String

    func run() throws {
        guard session.count == 16, let nonce = UInt64(session, radix: 16) else { throw ValidationError("--session must be 16 hex digits") }
        let signer: LinkSigner
        do { signer = try LinkSigner.load(keyFile: keyFile) } catch { throw ValidationError("\(error)") }
        print(signer.sign(body: body, nonce: nonce, sequence: sequence))
    }
}
