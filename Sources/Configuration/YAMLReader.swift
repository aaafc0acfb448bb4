import Foundation
import Yams

/// A configuration error that names the file, the line and column, and the field.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Dotted path of the field, e.g. `actuators[1].slew_per_s`.
    public var field: String
    public var message: String

    public init(file: String, line: Int?, column: Int?, field: String, message: String) {
        (self.file, self.line, self.column, self.field, self.message) = (file, line, column, field, message)
    }

    public var description: String {
        let place = [file, line.map(String.init), column.map(String.init)].compactMap { $0 }.joined(separator: ":")
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }
}

/// One YAML node with where it came from, for typed reads whose errors say where. Yams parses; this
/// layer exists because a board file is read by people fixing it: every error names the file, line,
/// column and dotted field, ranges and choices are checked as values are read, and unknown keys are
/// refused (a typo never silently falls back to a default), which a Codable decode of Yams' nodes cannot say.
struct YAMLValue {
    let node: Node
    let field: String
    let file: String

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark?.line, column: node.mark?.column, field: field, message: message)
    }

    static func parse(_ text: String, file: String) throws -> YAMLValue {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: 1, column: 1, field: "", message: "the file is empty")
            }
            return YAMLValue(node: node, field: "", file: file)
        } catch let e as YamlError {
            throw ConfigError(file: file, line: e.mark?.line, column: e.mark?.column, field: "", message: "not valid YAML: \(e.summary)")
        }
    }

    func mapping() throws -> YAMLMapping {
        guard case .mapping(let m) = node else { throw error("expected a mapping of key: value") }
        return YAMLMapping(value: self, mapping: m)
    }

    func sequence() throws -> [YAMLValue] {
        guard case .sequence(let s) = node else { throw error("expected a list") }
        return s.enumerated().map { YAMLValue(node: $1, field: "\(field)[\($0)]", file: file) }
    }

    func string() throws -> String {
        guard case .scalar(let s) = node else { throw error("expected a text value") }
        return s.string
    }

    func double(in range: ClosedRange<Double>) throws -> Double {
        guard case .scalar(let s) = node, let v = Double(s.string.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            throw error("expected a number, got \(describe())")
        }
        guard range.contains(v) else { throw error("\(v) is outside \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func int(in range: ClosedRange<Int>) throws -> Int {
        guard case .scalar(let s) = node, let v = YAMLValue.wholeNumber(s.string) else {
            throw error("expected a whole number, got \(describe())")
        }
        guard range.contains(v) else { throw error("\(v) is outside \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    /// Decimal, or hexadecimal with 0x (I2C addresses); underscores allowed.
    static func wholeNumber(_ text: String) -> Int? {
        let t = text.replacingOccurrences(of: "_", with: "")
        if t.lowercased().hasPrefix("0x") { return Int(t.dropFirst(2), radix: 16) }
        return Int(t)
    }

    /// A whole number that must be one of `allowed` (e.g. the baud rates a serial port supports).
    func int(oneOf allowed: [Int]) throws -> Int {
        let v = try int(in: Int.min...Int.max)
        guard allowed.contains(v) else { throw error("\(v) is not one of: \(allowed.map(String.init).joined(separator: ", "))") }
        return v
    }

    func bool() throws -> Bool {
        guard case .scalar(let s) = node else { throw error("expected true or false") }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got \(describe())")
        }
    }

    /// One of `choices`, by name.
    func choice<T: RawRepresentable & CaseIterable>(_: T.Type) throws -> T where T.RawValue == String {
        let s = try string()
        guard let v = T(rawValue: s) else {
            throw error("'\(s)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    private func describe() -> String {
        switch node {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// A YAML mapping whose keys are consumed as they are read; `finish()` rejects any left over.
final class YAMLMapping {
    let value: YAMLValue
    private var entries: [(key: String, node: Node, keyNode: Node)] = []
    private var used: Set<String> = []

    init(value: YAMLValue, mapping: Node.Mapping) {
        self.value = value
        for (k, v) in mapping { entries.append((k.string ?? "\(k)", v, k)) }
    }

    private func child(_ key: String, _ node: Node) -> YAMLValue {
        YAMLValue(node: node, field: value.field.isEmpty ? key : "\(value.field).\(key)", file: value.file)
    }

    func optional(_ key: String) -> YAMLValue? {
        used.insert(key)
        return entries.first { $0.key == key }.map { child(key, $0.node) }
    }

    func required(_ key: String) throws -> YAMLValue {
        guard let v = optional(key) else {
            let present = entries.map(\.key).joined(separator: ", ")
            throw value.error("missing required key '\(key)'" + (present.isEmpty ? "" : " (present here: \(present))"))
        }
        return v
    }

    /// Every key in file order, each marked as read.
    func all() -> [(String, YAMLValue)] {
        entries.map {
            used.insert($0.key); return ($0.key, child($0.key, $0.node))
        }
    }

    /// Rejects keys that were never read (typos must not silently fall back to defaults).
    func finish() throws {
        var seen: Set<String> = []
        for e in entries {
            if !seen.insert(e.key).inserted {
                throw YAMLValue(node: e.keyNode, field: child(e.key, e.node).field, file: value.file).error("key appears twice")
            }
            if !used.contains(e.key) {
                let known = used.sorted().joined(separator: ", ")
                throw YAMLValue(node: e.keyNode, field: child(e.key, e.node).field, file: value.file)
                    .error("unknown key '\(e.key)' (known here: \(known))")
            }
        }
    }
}

extension YamlError {
    /// Where libyaml or Yams saw the problem, if it said.
    var mark: Mark? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark
        case .duplicatedKeysInMapping(_, let context): return context.mark
        default: return nil
        }
    }
    var summary: String {
        switch self {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) appears twice in one mapping"
        default: return "\(self)"
        }
    }
}
