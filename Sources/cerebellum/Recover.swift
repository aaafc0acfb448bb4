import ArgumentParser
import Foundation
import Recording

struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Close a recording that was cut short (the process killed, the power lost) so readers and train accept it.",
        discussion: """
            Keeps every complete record up to the last point where each episode's frames and actions pair up, closes
            the episode open there, and ends the file properly. By default the file is rewritten in place and the cut
            original kept beside it as FILE.cut; a file that already ended properly is left alone.
            """)

    @Argument(help: "The cut MCAP recording.")
    var file: String

    @Option(help: "Write the recovered recording here instead of in place.")
    var out: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read the file") }
        let (bytes, report) = try recoverRecording([UInt8](data), path: file)
        if report.wasComplete {
            print(
                "\(file): complete already (\(report.messages) messages, \(report.episodes) episode(s), \(report.frames) frames); left as "
                    + "it is"
            )
            return
        }
        let target = out ?? file
        if out == nil {
            let backup = file + ".cut"
            try? FileManager.default.removeItem(atPath: backup)
            try FileManager.default.copyItem(atPath: file, toPath: backup)
        }
        guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else {
            throw ValidationError("\(target): cannot write the recovered file")
        }
        print(
            "\(target): recovered \(report.keptBytes) of \(report.originalBytes) bytes: \(report.messages) messages, "
                + "\(report.frames) frames, \(report.episodes) episode(s)"
                + (report.closedEpisode ? " (the last one closed at the cut)" : "")
                + (out == nil ? "; the cut original is \(file).cut" : ""))
    }
}
