import ArgumentParser
import Foundation
import Recording

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Look into recordings and cut them: info, trim, split.",
        subcommands: [DataInfo.self, DataTrim.self, DataSplit.self])
}

struct DataInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Episodes, durations, frames, who drove (autonomy / teleop ticks) and the marks of recordings.")

    @Argument(help: "Recordings (.mcap files, or directories of them).")
    var paths: [String]

    func run() throws {
        var frames = 0, episodes = 0, seconds = 0.0
        for path in try mcapFiles(paths) {
            let info = try recordingInfo(try MCAPFile(path: path))
            let m = info.metadata
            print(
                "\(path): \(m["kind"] ?? "exploration") recording, board \(m["board"] ?? "?")"
                    + (m["world"].map { ", world \($0)" } ?? "") + String(format: ", %.1f s, ", info.seconds)
                    + "\(info.episodes.count) episode(s), \(info.frames) frames"
                    + (info.hasTruth ? ", with simulator truth" : ", no ground truth") + (info.hasCommands ? ", every tick's command" : ""))
            for e in info.episodes {
                let drove = e.origins.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                let facts = ["success", "steps", "recovered", "trimmed"].compactMap { k in
                    e.info[k].map { "\(k) \(String(format: "%g", $0))" }
                }
                print(
                    String(format: "  episode %d: %d frames, %.1f s", e.index, e.frames, e.seconds)
                        + (drove.isEmpty ? "" : "; ticks: \(drove)") + (facts.isEmpty ? "" : "; " + facts.joined(separator: ", "))
                        + (e.ended ? "" : "; not closed (cut short: cerebellum recover)"))
                for mark in e.marks {
                    print(String(format: "    mark %@ at %.1f s", mark.label, mark.at) + (mark.note.isEmpty ? "" : ": \(mark.note)"))
                }
            }
            frames += info.frames
            episodes += info.episodes.count
            seconds += info.seconds
        }
        print(String(format: "total: %d episode(s), %d frames, %.1f s", episodes, frames, seconds))
    }
}

/// The recording's first and last message times, ns.
private func span(_ file: MCAPFile) -> (first: UInt64, last: UInt64) {
    (file.messages.map(\.logTime).min() ?? 0, file.messages.map(\.logTime).max() ?? 0)
}

struct DataTrim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trim",
        abstract: "Keep the part of a recording between --start and --end (s from its start), or drop its last seconds.",
        discussion: """
            e.g. `data trim drive.mcap --drop-end 3 --out drive-ok.mcap` throws away the last 3 s (the crash at the end
            of a drive). A frame is kept with its action and truth; an episode cut by the window is closed at its last
            kept frame. The source file is not changed.
            """)

    @Argument(help: "The recording.")
    var file: String

    @Option(help: "Keep from this many seconds after the recording's start.")
    var start = 0.0

    @Option(help: "Keep up to this many seconds after the start (default: the end).")
    var end: Double?

    @Option(help: "Drop this many seconds at the end instead of giving --end.")
    var dropEnd: Double?

    @Option(help: "Where to write the trimmed recording.")
    var out: String

    func run() throws {
        guard out != file else { throw ValidationError("--out must be another file than the source") }
        guard start >= 0, (end ?? 0) >= 0, (dropEnd ?? 0) >= 0 else {
            throw ValidationError("--start, --end and --drop-end are seconds ≥ 0")
        }
        guard end == nil || dropEnd == nil else { throw ValidationError("give --end or --drop-end, not both") }
        let f = try MCAPFile(path: file)
        let (first, last) = span(f)
        let from = first &+ UInt64(start * 1e9)
        let to =
            end.map { first &+ UInt64($0 * 1e9) } ?? dropEnd.map { UInt64(max(Int64(first), Int64(last) - Int64($0 * 1e9))) }
            ?? UInt64.max
        guard from < to else { throw ValidationError("nothing is left between --start and the end of the window") }
        let r = try writeWindow(of: f, window: from..<to, path: out)
        print("\(out): \(r.frames) frames in \(r.episodes) episode(s), \(r.messages) messages")
    }
}

struct DataSplit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a recording at the given times (s from its start) into FILE-0.mcap, FILE-1.mcap …")

    @Argument(help: "The recording.")
    var file: String

    @Option(help: "Where to cut, seconds from the start, comma-separated (e.g. 30,60).")
    var at: String

    @Option(help: "Directory for the pieces (default: beside the source).")
    var outDir: String?

    func run() throws {
        let cuts = try at.split(separator: ",").map { s -> Double in
            guard let v = Double(s.trimmingCharacters(in: .whitespaces)), v > 0 else {
                throw ValidationError("--at takes positive seconds: \(s)")
            }
            return v
        }
        guard !cuts.isEmpty, cuts == cuts.sorted() else { throw ValidationError("--at takes increasing seconds") }
        let f = try MCAPFile(path: file)
        let first = span(f).first
        let bounds = [first] + cuts.map { first &+ UInt64($0 * 1e9) } + [UInt64.max]
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = outDir ?? (file as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        for i in 0..<(bounds.count - 1) {
            let out = (dir.isEmpty ? "" : dir + "/") + "\(stem)-\(i).mcap"
            let r = try writeWindow(of: f, window: bounds[i]..<bounds[i + 1], path: out)
            print("\(out): \(r.frames) frames in \(r.episodes) episode(s)")
        }
    }
}
