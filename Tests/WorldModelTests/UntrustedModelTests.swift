import Foundation
import NeuralEngine
import Testing
@testable import WorldModel

/// Mutants of a model file that once crashed the process: each is rejected with the file and a reason.
@Suite struct UntrustedModelTests {
    static let seedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/model/conv-linear.safetensors").path

    func mutant(_ key: String, _ change: (String) -> String) throws -> SafetensorsFile {
        var f = try SafetensorsFile.read(path: Self.seedPath)
        f.metadata[key] = change(try #require(f.metadata[key]))
        return f
    }

    @Test func theSeedIsAValidModel() throws {
        _ = try WorldModelFile.parse(try SafetensorsFile.read(path: Self.seedPath), path: "seed")
    }

    @Test(
        "shapes, sizes and layer numbers that would overflow or exhaust memory are refused",
        arguments: [
            ("frame_shape", "[4,4,1]", "[-4,4,1]", "frame_shape"),
            ("frame_shape", "[4,4,1]", "[4611686018427387904,4,1]", "frame_shape"),
            ("frame_shape", "[4,4,1]", "[100000,100000,1]", "frame_shape"),
            ("latent_size", "4", "4611686018427387904", "latent_size"),
            ("encoder", "\"out\":4", "\"out\":1099511627776", "outside"),
            ("encoder", "\"padding\":1", "\"padding\":4611686018427387904", "outside"),
            ("encoder", "\"stride\":2", "\"stride\":0", "outside"),
            ("encoder", "{\"op\":\"flatten\"}", "{\"op\":\"flatten\"},{\"op\":\"linear\",\"in\":0,\"out\":2}", "outside"),
            (
                "encoder", "{\"op\":\"flatten\"}",
                "{\"op\":\"conv2d\",\"in\":2,\"out\":2,\"kernel\":1000000,\"stride\":1,\"padding\":0},{\"op\":\"flatten\"}", "outside"
            ),
            ("encoder", "\"in\":1,", "\"in\":1048576,", "conv"),
        ])
    func refused(key: String, find: String, replace: String, reason: String) throws {
        let f = try mutant(key) { text in
            let compact = text.replacingOccurrences(of: ", ", with: ",").replacingOccurrences(of: ": ", with: ":")
            #expect(compact.contains(find), "\(compact)")
            return compact.replacingOccurrences(of: find, with: replace)
        }
        let e = #expect(throws: ModelError.self) { try WorldModelFile.parse(f, path: "mutant.safetensors") }
        #expect(
            e?.description.hasPrefix("mutant.safetensors: ") == true && e?.description.contains(reason) == true, "\(String(describing: e))")
    }

    @Test("a tensor shape whose byte count overflows is refused by the container")
    func overflowingTensorShape() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.seedPath)))
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        var header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let shape = "\"shape\":[2,3,3,1]"
        #expect(header.contains(shape))
        header = header.replacingOccurrences(of: shape, with: "\"shape\":[2305843009213693952,4,1,1]")
        let h = Array(header.utf8)
        bytes = [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0, 0, 0, 0, 0] + h + bytes[(8 + n)...]
        #expect(throws: SafetensorsError.self) { try SafetensorsFile.parse(Data(bytes), path: "overflow.safetensors") }
    }
}
