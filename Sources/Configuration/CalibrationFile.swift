import Foundation
import Safety

extension Calibration {
    /// The file's text: what `cerebellum calibrate` writes. Channels in the board's actuator order.
    public func yamlText(channelOrder: [String]) -> String {
        func us(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v) }
        var s = "# Calibration of board \(board), written by `cerebellum calibrate`"
        s += measured.map { " (\($0))" } ?? ""
        s += ".\n# Pulse widths in µs; efforts map to pulses through neutral, skipping the deadband.\n"
        s += "board: \(board)\n"
        if let measured { s += "measured: \"\(measured)\"\n" }
        s += "pwm:\n  frequency_hz: \(us(pwmFrequencyHz))\n  oscillator_trim: \(String(format: "%.4f", oscillatorTrim))\n"
        if let crop = cameraCrop { s += "camera:\n  crop: {x: \(crop[0]), y: \(crop[1]), width: \(crop[2]), height: \(crop[3])}\n" }
        s += "channels:\n"
        let names = channelOrder.filter { channels[$0] != nil } + channels.keys.sorted().filter { !channelOrder.contains($0) }
        for name in names {
            let c = channels[name]!
            s +=
                "  \(name): {min_us: \(us(c.minMicros)), neutral_us: \(us(c.neutralMicros)), max_us: \(us(c.maxMicros)), "
                + "reversed: \(c.reversed), deadband_us: \(us(c.deadbandMicros))}\n"
        }
        return s
    }

    /// What changed from `old` to `self`, one line per value: "channels.vx.neutral_us: 1500 → 1520".
    public func changes(from old: Calibration) -> [String] {
        var out: [String] = []
        func note(_ key: String, _ a: String, _ b: String) { if a != b { out.append("\(key): \(a) → \(b)") } }
        note("pwm.frequency_hz", "\(old.pwmFrequencyHz)", "\(pwmFrequencyHz)")
        note("pwm.oscillator_trim", String(format: "%.4f", old.oscillatorTrim), String(format: "%.4f", oscillatorTrim))
        note("camera.crop", old.cameraCrop.map { "\($0)" } ?? "none", cameraCrop.map { "\($0)" } ?? "none")
        for name in Set(old.channels.keys).union(channels.keys).sorted() {
            guard let n = channels[name] else { out.append("channels.\(name): removed"); continue }
            guard let o = old.channels[name] else { out.append("channels.\(name): added"); continue }
            note("channels.\(name).min_us", "\(o.minMicros)", "\(n.minMicros)")
            note("channels.\(name).neutral_us", "\(o.neutralMicros)", "\(n.neutralMicros)")
            note("channels.\(name).max_us", "\(o.maxMicros)", "\(n.maxMicros)")
            note("channels.\(name).reversed", "\(o.reversed)", "\(n.reversed)")
            note("channels.\(name).deadband_us", "\(o.deadbandMicros)", "\(n.deadbandMicros)")
        }
        return out
    }

    /// Saves over `path`: the previous file is kept as `path.bak`, the new text is written to a
    /// temporary file, loaded back and checked against the board (it must load and make a valid
    /// governor), and only then renamed into place. Returns the backup's path (nil if there was no
    /// previous file). Nothing changes on disk if the check fails.
    @discardableResult
    public func save(to path: String, profile: BoardProfile) throws -> String? {
        let text = yamlText(channelOrder: profile.actuators.map(\.name))
        let temp = path + ".new"
        try text.write(toFile: temp, atomically: false, encoding: .utf8)
        do {
            var reloaded = try Calibration.load(path: temp)
            reloaded.path = path
            _ = try LoadedBoard(profile: profile, calibration: reloaded)
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
        var backup: String?
        if FileManager.default.fileExists(atPath: path) {
            let b = path + ".bak"
            try? FileManager.default.removeItem(atPath: b)
            try FileManager.default.copyItem(atPath: path, toPath: b)
            backup = b
        }
        guard rename(temp, path) == 0 else {
            throw ConfigError(file: path, line: nil, column: nil, field: "", message: "cannot replace the file")
        }
        return backup
    }
}
