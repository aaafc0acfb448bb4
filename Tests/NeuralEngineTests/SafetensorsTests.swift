import Foundation
import Testing
@testable import NeuralEngine

/// Paths in the repository, found from this file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/NeuralEngineTests/Fixtures/layers.safetensors").path

    static func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cerebellum-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }
}

/// A file with a hand-written header followed by `data`.
private func file(header: String, data: [UInt8]) -> Data {
    var out = Data()
    var n = UInt64(header.utf8.count).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    out.append(contentsOf: data)
    return out
}

private func rejection(_ data: Data) -> String {
    do {
        _ = try SafetensorsFile.parse(data, path: "bad.safetensors")
        return "accepted"
    } catch let e as SafetensorsError {
        #expect(e.description.hasPrefix("bad.safetensors: "))
        return e.reason
    } catch {
        return "unexpected \(error)"
    }
}

@Suite("safetensors")
struct SafetensorsTests {
    static func sample() -> SafetensorsFile {
        SafetensorsFile(
            tensors: [
                "weights.f32": .f32(Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) * 0.5 - 1 })),
                "weights.i8": .i8(Tensor(shape: [5], scalars: [-127, -64, 0, 63, 127])),
                "weights.i32": .i32(Tensor(shape: [2, 2], scalars: [-100_000, 0, 7, Int32.max])),
                "empty": .f32(Tensor(shape: [0, 4])),
            ],
            metadata: ["architecture": "[{\"op\":\"flatten\"}]", "quantization": "int8 per-channel"])
    }

    @Test func roundTripsInSwift() throws {
        let path = Repo.temporaryPath("swift.safetensors")
        try Self.sample().write(path: path)
        let back = try SafetensorsFile.read(path: path)
        #expect(back.metadata == Self.sample().metadata)
        #expect(try back.tensor("weights.f32", Float.self).scalars == [-1, -0.5, 0, 0.5, 1, 1.5])
        #expect(try back.tensor("weights.i8", Int8.self).scalars == [-127, -64, 0, 63, 127])
        #expect(try back.tensor("weights.i32", Int32.self, shape: [2, 2]).scalars == [-100_000, 0, 7, Int32.max])
        #expect(try back.tensor("empty", Float.self).shape == [0, 4])
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = (0..<8).reduce(0) { $0 | Int(raw[$1]) << (8 * $1) }
        #expect(headerLength % 8 == 0, "header padded to 8 bytes so the data is aligned")
        #expect(raw[8] == UInt8(ascii: "{"))
    }

    /// Swift writes, Python's safetensors + numpy check and rewrite, Swift reads what Python wrote.
    @Test func roundTripsThroughPython() throws {
        let a = Repo.temporaryPath("to-python.safetensors"), b = Repo.temporaryPath("from-python.safetensors")
        try Self.sample().write(path: a)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.root.appendingPathComponent("scripts/safetensors-roundtrip.py").path, a, b]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        p.waitUntilExit()
        let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "python side: \(said) (make test installs safetensors and numpy)")
        #expect(said.contains("ok"))
        let back = try SafetensorsFile.read(path: b)
        #expect(try back.tensor("weights.f32", Float.self).scalars == [-2, -1, 0, 1, 2, 3])
        #expect(try back.tensor("weights.i8", Int8.self).scalars == [127, 64, 0, -63, -127])
        #expect(try back.tensor("weights.i32", Int32.self).scalars == [-99_999, 1, 8, Int32.max])
        #expect(back.metadata["written_by"] == "python")
        #expect(back.metadata["quantization"] == "int8 per-channel")
    }

    @Test func readsTheFixturesPythonWrote() throws {
        let f = try SafetensorsFile.read(path: Repo.fixtures)
        #expect(f.tensors.count > 40)
        #expect(f.metadata["network"] != nil)
    }

    @Test func rejectsBadFiles() {
        let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(rejection(file(header: ok, data: Array(repeating: 0, count: 8))) == "accepted")
        #expect(rejection(Data([1, 2, 3])).hasPrefix("truncated"))
        #expect(rejection(file(header: ok, data: []).prefix(20)).hasPrefix("truncated: header says"))
        #expect(rejection(file(header: ok, data: [0, 0, 0])).contains("out of range"))
        #expect(rejection(file(header: "[1,2]", data: [])).hasPrefix("header is not JSON"))
        #expect(rejection(file(header: "{\"a\": ", data: [])).hasPrefix("header is not JSON"))
        #expect(
            rejection(file(header: #"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)))
                == "tensor \"a\": unknown dtype \"Q7\"")
        #expect(
            rejection(file(header: #"{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)))
                .contains("F16 is not supported"))
        #expect(
            rejection(file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)))
                .contains("is 12 bytes but data_offsets span 8"))
        #expect(
            rejection(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: Array(repeating: 0, count: 8)))
                .contains("out of range"))
        #expect(
            rejection(
                file(
                    header: #"{"a":{"dtype":"I8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[4],"data_offsets":[2,6]}}"#,
                    data: Array(repeating: 0, count: 6))
            ).contains("overlap"))
        #expect(
            rejection(file(header: #"{"a":{"dtype":"I8","shape":[2],"data_offsets":[2,4]}}"#, data: [0, 0, 0, 0]))
                .hasPrefix("gap in data"))
        #expect(rejection(file(header: ok, data: Array(repeating: 0, count: 9))).contains("trailing"))
        #expect(rejection(file(header: #"{"a":{"dtype":"I8","shape":[-1],"data_offsets":[0,0]}}"#, data: [])).contains("shape"))
        #expect(rejection(file(header: #"{"a":{"dtype":"I8","shape":[1],"data_offsets":[1,0]}}"#, data: [0])).contains("data_offsets"))
        #expect(rejection(file(header: #"{"__metadata__":{"k":3}}"#, data: [])) == "__metadata__.k is not a string")
        #expect(rejection(file(header: #"{"a":{"shape":[1],"data_offsets":[0,1]}}"#, data: [0])) == "tensor \"a\": missing dtype")
    }

    @Test func reportsWrongTensorTypeAndShape() throws {
        let f = Self.sample()
        #expect(throws: SafetensorsError.self) { try f.tensor("weights.i8", Float.self) }
        #expect(throws: SafetensorsError.self) { try f.tensor("weights.f32", Float.self, shape: [3, 2]) }
        #expect(throws: SafetensorsError.self) { try f.tensor("nope", Float.self) }
    }
}
