// libFuzzer harnesses for every parser of untrusted input (`make fuzz`). Built only with
// CEREBELLUM_FUZZ=1 and `-sanitize=fuzzer,address` (see the Makefile); libFuzzer provides `main`.
// The target is chosen by CEREBELLUM_FUZZ_TARGET. A harness passes when every input either parses
// or is rejected with an error: a trap, a sanitizer report or a timeout is a finding.
import Configuration
import Foundation
import LiveView
import NeuralEngine
import Recording
import Reports
import RobotCore
import Safety
import Teleop
import WorldModel

/// The parsers, by target name.
let targets: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
    // A model file: safetensors container, then the model's metadata, layer lists and tensor shapes.
    "model": { bytes in
        guard let file = try? SafetensorsFile.parse(Data(bytes), path: "fuzz.safetensors") else { return }
        _ = try? WorldModelFile.parse(file, path: "fuzz.safetensors")
    },
    // A goal image.
    "png": { bytes in _ = try? GrayImage.decodePNG([UInt8](bytes)) },
    // A recording: MCAP records, then the dataset's episodes (CDR images, JSON actions and truth); and
    // `recover` on it (a cut file is the input it is for), its output read back.
    "mcap": { bytes in
        let input = [UInt8](bytes)
        if let (fixed, _) = try? recoverRecording(input, path: "fuzz.mcap"), let f = try? MCAPFile(bytes: fixed, path: "recovered.mcap") {
            _ = try? DatasetReader.episodes(in: f)
        }
        guard let file = try? MCAPFile(bytes: input, path: "fuzz.mcap") else { return }
        _ = try? DatasetReader.episodes(in: file)
    },
    // A board profile and a calibration file (the same text tried as both).
    "yaml": { bytes in
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? BoardProfile.parse(text: text, path: "fuzz.yaml")
        _ = try? Calibration.parse(text: text, path: "fuzz.yaml")
    },
    // The teleop console: bytes from the serial line through the line editor, the command and
    // sentence parser and the session, on a plain link and on a signed one.
    "console": { bytes in
        for signer in [nil, consoleSigner] {
            let session = ConsoleSession(
                settings: ConsoleSettings(channels: ["vx", "vy"], signer: signer), link: TeleopLink(), limitsText: [],
                now: { Instant(nanoseconds: 1_000_000_000) })
            _ = session.receive([UInt8](bytes))
            _ = session.poll()
        }
    },
    // The live view's network input: a client's opening request, then its frames through the reader.
    "websocket": { bytes in
        let input = [UInt8](bytes)
        guard case .accepted(_, let consumed) = WebSocket.handshake(input, subprotocol: "foxglove.websocket.v1") else { return }
        var reader = WebSocketReader(maxMessageBytes: 4096)
        reader.append(input[consumed...])
        while case .some(.some) = try? reader.next() {}
    },
]

let consoleSigner = try! LinkSigner(key: Array(0..<32))

nonisolated(unsafe) var selected: ((UnsafeRawBufferPointer) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["CEREBELLUM_FUZZ_TARGET"] ?? ""
        guard let t = targets[name] else {
            FileHandle.standardError.write(Data("CEREBELLUM_FUZZ_TARGET must be one of \(targets.keys.sorted()), not \"\(name)\"\n".utf8))
            exit(2)
        }
        selected = t
    }
    selected!(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point under this name (`main` is defined as it): hand the
/// command line to libFuzzer's driver, as its own `main` would.
@_cdecl("CerebellumFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
