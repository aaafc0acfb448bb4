import RobotCore
import Safety
import Simulation
import Yams

extension BoardProfile {
    /// `simulation.gymnasium:` — the environment a `gymnasium` board drives, and how its channels and camera map
    /// onto the environment's action and observation (docs/gym-bridge.md).
    static func gymnasiumSettings(_ v: YAMLValue, actuators: [ActuatorChannel], profilePath: String) throws -> GymnasiumSettings {
        let m = try v.mapping()
        let envValue = try m.required("env")
        let env = try envValue.string()
        guard !env.isEmpty else { throw envValue.error("env names a Gymnasium environment id, e.g. CarRacing-v3") }
        let names = actuators.map(\.name)
        func channel(_ v: YAMLValue) throws -> Int {
            let n = try v.string()
            guard let i = names.firstIndex(of: n) else {
                throw v.error("'\(n)' is not an actuator of this board (\(names.joined(separator: ", ")))")
            }
            return i
        }
        func range(_ v: YAMLValue) throws -> (Double, Double) {
            let r = try v.sequence()
            guard r.count == 2 else { throw v.error("a range is [low, high]") }
            return (try r[0].double(in: -1e9...1e9), try r[1].double(in: -1e9...1e9))
        }
        let map: GymActionMap
        switch (m.optional("action"), m.optional("discrete")) {
        case (let a?, nil):
            map = .box(
                try a.sequence().map { c in
                    let cm = try c.mapping()
                    if let value = cm.optional("value") {
                        let x = try value.double(in: -1e9...1e9)
                        try cm.finish()
                        return .constant(x)
                    }
                    let ch = try channel(cm.required("channel"))
                    let (lo, hi) = try range(cm.required("range"))
                    let part = try cm.optional("part")?.string() ?? "whole"
                    try cm.finish()
                    switch part {
                    case "whole": return .linear(channel: ch, low: lo, high: hi)
                    case "positive": return .positive(channel: ch, low: lo, high: hi)
                    case "negative": return .negative(channel: ch, low: lo, high: hi)
                    default: throw c.error("part is whole, positive or negative, not '\(part)'")
                    }
                })
        case (nil, let d?):
            let dm = try d.mapping()
            let rules = try dm.required("rules").sequence().map { r in
                let rm = try r.mapping()
                let rule = GymActionMap.DiscreteRule(
                    channel: try channel(rm.required("channel")), above: try rm.optional("above")?.double(in: -1...1),
                    below: try rm.optional("below")?.double(in: -1...1), action: try rm.required("action").int(in: -1_000_000...1_000_000))
                if rule.above == nil && rule.below == nil { throw r.error("a rule needs above or below (a drive threshold, −1…1)") }
                try rm.finish()
                return rule
            }
            let idle = try dm.required("idle")
            map = .discrete(rules: rules, idle: try idle.string() == "none" ? nil : idle.int(in: -1_000_000...1_000_000))
            try dm.finish()
        case (nil, nil): throw v.error("missing 'action' (a Box's components) or 'discrete' (rules for a Discrete space)")
        case (_?, _?): throw v.error("'action' (Box) and 'discrete' exclude each other")
        }
        let hostScript = normalizedPath(relativeTo(profile: profilePath, try m.optional("host")?.string() ?? "../scripts/gym_host.py"))
        var config: [(String, String)] = [("env", jsonString(env))]
        if let k = m.optional("kwargs") { config.append(("kwargs", try k.mapping().value.json())) }
        let paths = try (m.optional("python_path")?.sequence() ?? []).map { try relativeTo(profile: profilePath, $0.string()) }
        config.append(("python_path", "[" + paths.map(jsonString).joined(separator: ",") + "]"))
        config.append(("imports", try m.optional("imports")?.sequence().json() ?? "[]"))
        if let o = m.optional("observation") {
            let s = try o.string()
            guard s == "observation" || s == "render" else { throw o.error("observation is observation or render, not '\(s)'") }
            config.append(("observation", jsonString(s)))
        }
        if let k = m.optional("observation_key") { config.append(("observation_key", jsonString(try k.string()))) }
        let truth = try (m.optional("truth")?.sequence() ?? []).map { try $0.string() }
        if truth.count > 8 { throw v.error("at most 8 truth values") }
        config.append(("truth", "[" + truth.map(jsonString).joined(separator: ",") + "]"))
        if let g = m.optional("goal") { config.append(("goal", try g.mapping().value.json())) }
        if let w = m.optional("warmup") { config.append(("warmup", try w.mapping().value.json())) }
        var s = GymnasiumSettings(
            env: env, configJSON: "{" + config.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}",
            python: try m.optional("python")?.string() ?? "python3", hostScript: hostScript, actionMap: map)
        if let r = m.optional("action_repeat") { s.actionRepeat = try r.int(in: 1...100) }
        if let c = m.optional("crop") {
            let r = try c.sequence()
            guard r.count == 4 else { throw c.error("crop is [x, y, width, height] in observation pixels") }
            s.crop = GrayResampler.Rect(
                x: try r[0].int(in: 0...16384), y: try r[1].int(in: 0...16384), width: try r[2].int(in: 1...16384),
                height: try r[3].int(in: 1...16384))
        }
        if let x = m.optional("max_steps") { s.maxSteps = try x.int(in: 1...1_000_000) }
        if let x = m.optional("goal_distance") {
            guard truth.count >= 2 else { throw x.error("goal_distance needs truth: [x, y, …] to measure it") }
            s.goalDistance = try x.double(in: 0...1e9)
        }
        if let x = m.optional("goal_heading_deg") {
            guard truth.count >= 3 else { throw x.error("goal_heading_deg needs a third truth value (the heading, radians)") }
            s.goalHeadingDegrees = try x.double(in: 1...180)
        }
        if let x = m.optional("start_timeout_s") { s.startTimeout = .seconds(double: try x.double(in: 1...600)) }
        if let x = m.optional("step_timeout_ms") { s.stepTimeout = try milliseconds(x, in: 10...60_000) }
        try m.finish()
        return s
    }
}

extension YAMLValue {
    /// The value as JSON text: mappings become objects, lists arrays; a plain scalar that reads as null, a
    /// boolean or a number becomes one, anything else (and every quoted scalar) a string.
    func json() throws -> String {
        switch node {
        case .mapping:
            let m = try mapping()
            return "{" + (try m.all().map { "\(jsonString($0.0)):\(try $0.1.json())" }).joined(separator: ",") + "}"
        case .sequence: return try sequence().json()
        case .scalar(let s):
            guard s.style == .plain || s.style == .any else { return jsonString(s.string) }
            switch s.string {
            case "null", "~", "": return "null"
            case "true", "yes", "on": return "true"
            case "false", "no", "off": return "false"
            default:
                if let i = YAMLValue.wholeNumber(s.string) { return String(i) }
                if let d = Double(s.string), d.isFinite { return String(d) }
                return jsonString(s.string)
            }
        case .alias: throw error("aliases are not supported here")
        }
    }
}

extension [YAMLValue] {
    func json() throws -> String { "[" + (try map { try $0.json() }).joined(separator: ",") + "]" }
}

/// `s` as a JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
