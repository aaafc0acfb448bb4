import Foundation
import Planning
import RobotCore
import Safety
import Simulation
import Testing
@testable import Configuration

/// The repository root (two levels above this file's folder).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Writes a board and a calibration into a fresh temporary folder; returns the board's path.
func writeBoard(_ board: String, calibration: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cerebellum-cfg-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("boards"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("calibration"), withIntermediateDirectories: true)
    let boardPath = dir.appendingPathComponent("boards/test.yaml").path
    try board.write(toFile: boardPath, atomically: true, encoding: .utf8)
    try calibration.write(toFile: dir.appendingPathComponent("calibration/test.yaml").path, atomically: true, encoding: .utf8)
    return boardPath
}

/// The shipped `boards/NAME.yaml` as a test board named test (its calibration beside it), with `replace` → `with`.
func shippedBoardCopy(_ name: String, _ replace: String = "", with: String = "") throws -> String {
    var board = try String(contentsOfFile: "\(repoRoot)/boards/\(name).yaml", encoding: .utf8)
        .replacingOccurrences(of: "name: \(name)", with: "name: test")
        .replacingOccurrences(of: "../calibration/\(name).yaml", with: "../calibration/test.yaml")
    if !replace.isEmpty {
        #expect(board.contains(replace), "boards/\(name).yaml has no \(replace)")
        board = board.replacingOccurrences(of: replace, with: with)
    }
    let calibration = try String(contentsOfFile: "\(repoRoot)/calibration/\(name).yaml", encoding: .utf8)
        .replacingOccurrences(of: "board: \(name)", with: "board: test")
    return try writeBoard(board, calibration: calibration)
}

/// Expects the shipped `boards/NAME.yaml`, with `replace` → `with`, to be refused naming `field` and a line, with `message`.
func expectRefused(_ name: String, _ replace: String, with: String, field: String, message: String) throws {
    let path = try shippedBoardCopy(name, replace, with: with)
    do {
        _ = try LoadedBoard.load(boardPath: path)
        Issue.record("accepted: \(with)")
    } catch let e as ConfigError {
        #expect(e.field == field, "\(e)")
        #expect(e.message.contains(message), "\(e)")
        #expect(e.line != nil, "\(e)")
    }
}

let goodBoard = """
    name: test
    loop:
      rate_hz: 50
    camera:
      driver: sim
      width: 64
      height: 64
      max_frame_age_ms: 80
    actuators:
      - {name: vx, channel: 0, kind: servo, slew_per_s: 10, max_effort: 0.5}
      - {name: vy, channel: 3, kind: esc, slew_per_s: 5}
    inputs:
      - {name: estop, role: estop, driver: sim, active_low: true}
    safety:
      max_window_change: 1.0
      max_consecutive_overruns: 4
      stall_timeout_ms: 150
      heartbeat_timeout_ms: 120
    simulation:
      world: two-rooms-random
      seed: 5
      actuator_truth:
        vx: {neutral_us: 1510, full_scale_us: 480}
        vy: {neutral_us: 1490, full_scale_us: 500, deadband_us: 12, reversed: true}
    calibration: ../calibration/test.yaml
    """

let goodCalibration = """
    board: test
    pwm: {frequency_hz: 60, oscillator_trim: 1.02}
    channels:
      vx: {min_us: 1000, neutral_us: 1510, max_us: 2000}
      vy: {min_us: 1100, neutral_us: 1490, max_us: 1900, reversed: true, deadband_us: 12}
    """

/// Loads the board and returns the error it raises (nil if it loads).
func loadError(_ board: String, _ calibration: String = goodCalibration) throws -> ConfigError? {
    let path = try writeBoard(board, calibration: calibration)
    do {
        _ = try LoadedBoard.load(boardPath: path)
        return nil
    } catch let e as ConfigError {
        return e
    }
}

@Suite("Board profiles and calibration files")
struct BoardProfileTests {
    @Test("the shipped simulated board and its calibration load and make a valid governor")
    func shippedBoard() throws {
        let b = try LoadedBoard.load(boardPath: repoRoot + "/boards/sim-two-rooms.yaml")
        #expect(b.profile.name == "sim-two-rooms")
        #expect(b.profile.loop.rateHz == 30)
        #expect(b.profile.simulation?.world == .twoRooms)
        #expect(b.calibration.channels.count == 2)
        #expect(b.calibration.path.hasSuffix("calibration/sim-two-rooms.yaml"))
        #expect(b.safetyConfig.problems().isEmpty)
        _ = try SafetyGovernor(config: b.safetyConfig)
    }

    @Test("every field is read into the profile and the governor's limits")
    func fields() throws {
        let b = try LoadedBoard.load(boardPath: try writeBoard(goodBoard, calibration: goodCalibration))
        let p = b.profile
        #expect(p.loop.period == .milliseconds(20))
        #expect(p.loop.realtime == RealtimeSettings(priority: 0, lockMemory: false, cpu: nil))
        #expect(p.camera.maxFrameAge == .milliseconds(80))
        #expect(p.actuators.map(\.channel) == [0, 3] && p.actuators[1].kind == .esc)
        #expect(p.inputs == [InputLine(name: "estop", role: .estop, driver: .sim, activeLow: true)])
        #expect(
            p.simulation?.actuatorTruth[1] == ActuatorPhysics(neutralMicros: 1490, fullScaleMicros: 500, deadbandMicros: 12, reversed: true)
        )
        #expect(b.calibration.pwmFrequencyHz == 60 && b.calibration.oscillatorTrim == 1.02)
        let c = b.safetyConfig
        #expect(c.channels[0].maxEffort == 0.5 && c.channels[0].minEffort == -1)
        #expect(c.channels[1].calibration.reversed && c.channels[1].calibration.deadbandMicros == 12)
        #expect(c.window == .milliseconds(250) && c.heartbeatTimeout == .milliseconds(120))
        #expect(p.serialConsole == nil)
        let withConsole = goodBoard.replacingOccurrences(
            of: "safety:\n",
            with:
                "serial_console: {device: /dev/ttyAMA0, baud: 57600, deadman_ms: 250, key_horizontal: -vy, resume_autonomy: yes}\nsafety:\n"
        )
        let withPad = goodBoard.replacingOccurrences(
            of: "safety:\n",
            with:
                "gamepad: {device: /dev/input/event3, axes: {vx: -ABS_Y, vy: ABS_RX}, deadman: ABS_Z, estop: BTN_EAST, "
                + "arm: BTN_START}\nsafety:\n"
        )
        let g = try #require(try LoadedBoard.load(boardPath: try writeBoard(withPad, calibration: goodCalibration)).profile.gamepad)
        #expect(g.device == "/dev/input/event3" && g.axes.map(\.actuator) == ["vx", "vy"] && g.axes.map(\.reversed) == [true, false])
        #expect(g.axes[1].axis.code == 0x03 && g.deadman.isAxis && g.eStop.code == 0x131 && g.arm?.code == 0x13b && g.disarm == nil)
        #expect(g.deadzone == 0.08 && g.deadmanHold == .milliseconds(250))
        let s = try #require(
            try LoadedBoard.load(boardPath: try writeBoard(withConsole, calibration: goodCalibration)).profile.serialConsole)
        #expect(
            s
                == SerialConsoleSettings(
                    device: "/dev/ttyAMA0", baud: 57600, deadman: .milliseconds(250), keyHorizontal: "-vy", resumeAutonomy: true))
    }

    @Test(
        "errors name the file, the line and column, and the field",
        arguments: [
            // (replace, with, expected line, field, message fragment)
            ("  rate_hz: 50", "  rate_hz: 50\n  rate: 20", 4, "loop.rate", "unknown key 'rate'"),
            ("  rate_hz: 50", "  rate_hz: fast", 3, "loop.rate_hz", "expected a number"),
            ("  rate_hz: 50", "  rate_hz: 5000", 3, "loop.rate_hz", "outside 1.0...1000.0"),
            ("  width: 64\n", "", 5, "camera", "missing required key 'width'"),
            ("kind: esc", "kind: stepper", 11, "actuators[1].kind", "'stepper' is not one of: servo, esc, gpio_hbridge"),
            ("channel: 3", "channel: 0", 11, "actuators[1]", "channel 0 is used twice"),
            ("channel: 3", "channel: 16", 11, "actuators[1].channel", "outside 0...15"),
            ("driver: sim, active_low", "driver: v4l2, active_low", 13, "inputs[0].driver", "an input's driver is sim or gpiod"),
            ("driver: sim, active_low", "driver: usb, active_low", 13, "inputs[0].driver", "'usb' is not one of: sim, v4l2, gpiod"),
            ("active_low: true", "active_low: maybe", 13, "inputs[0].active_low", "expected true or false"),
            ("  world: two-rooms-random", "  world: three-rooms", 20, "simulation.world", "'three-rooms' is not one of"),
            ("  max_window_change: 1.0", "  max_window_change: [1]", 15, "safety.max_window_change", "expected a number, got a list"),
            ("name: test\n", "name: test\nname: again\n", 1, "", "key 'name' appears twice"),
            ("loop:\n  rate_hz: 50", "loop: [", 4, "", "not valid YAML"),
            ("safety:\n", "serial_console: {device: /dev/ttyS0, baud: 12345}\nsafety:\n", 14, "serial_console.baud", "12345 is not one of"),
            (
                "safety:\n", "serial_console: {device: /dev/ttyS0, key_vertical: -vz}\nsafety:\n", 14, "serial_console.key_vertical",
                "no actuator named \"vz\""
            ),
            ("safety:\n", "serial_console: {device: /dev/ttyS0, deadman_ms: 5}\nsafety:\n", 14, "serial_console.deadman_ms", "outside"),
            ("safety:\n", "planner: {method: ilqr}\nsafety:\n", 14, "planner.method", "'ilqr' is not one of: mppi, cem"),
            ("safety:\n", "planner: {horizon: 0}\nsafety:\n", 14, "planner.horizon", "outside 1...512"),
            (
                "safety:\n", "planner: {actuators: [vx, steering]}\nsafety:\n", 14, "planner.actuators[1]",
                "no actuator named \"steering\" (actuators: vx, vy)"
            ),
            ("safety:\n", "planner: {actuators: [vx, vx]}\nsafety:\n", 14, "planner", "distinct actuators"),
            ("safety:\n", "planner: {motion: car}\nsafety:\n", 14, "planner.motion", "'car' is not one of: generic, holonomic"),
            ("safety:\n", "planner: {predictor: fp16}\nsafety:\n", 14, "planner.predictor", "'fp16' is not one of: auto, fp32, int8"),
            ("safety:\n", "planner: {actuators: [vy], motion: holonomic}\nsafety:\n", 14, "planner", "needs two actuators"),
            ("safety:\n", "planner: {wall_follow_steps: -1}\nsafety:\n", 14, "planner.wall_follow_steps", "outside 0...10000"),
            ("safety:\n", "planner: {samples: 8, elites: 9}\nsafety:\n", 14, "planner", "elites: 9 is outside 1…samples (8)"),
            ("safety:\n", "planner: {horizont: 8}\nsafety:\n", 14, "planner.horizont", "unknown key 'horizont'"),
            ("safety:\n", "surprise: {action: panic}\nsafety:\n", 14, "surprise.action", "'panic' is not one of: stop, slow, report"),
            ("safety:\n", "planner: {max_stale_ticks: -2}\nsafety:\n", 14, "planner.max_stale_ticks", "outside 0...10000"),
            (
                "safety:\n", "planner: {starved_action: ignore}\nsafety:\n", 14, "planner.starved_action",
                "'ignore' is not one of: stop, slow, report"
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vz: ABS_X}, deadman: BTN_TL, estop: BTN_EAST}\nsafety:\n", 14,
                "gamepad.axes.vz", "no actuator named \"vz\""
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vx: BTN_TL}, deadman: BTN_TR, estop: BTN_EAST}\nsafety:\n", 14,
                "gamepad.axes.vx", "is not an axis"
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vx: ABS_X}, deadman: BTN_TL, estop: ABS_Z}\nsafety:\n", 14,
                "gamepad.estop", "not a known button"
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vx: ABS_X}, deadman: BTN_TL}\nsafety:\n", 14, "gamepad",
                "missing required key 'estop'"
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vx: ABS_X}, deadman: BTN_TL, estop: BTN_TL}\nsafety:\n", 14,
                "gamepad", "BTN_TL is given two jobs"
            ),
            (
                "safety:\n", "gamepad: {device: /dev/input/event0, axes: {vx: ABS_X}, deadman: ABS_X, estop: BTN_EAST}\nsafety:\n", 14,
                "gamepad", "also drives an actuator"
            ),
            (
                "safety:\n",
                "gamepad: {device: /dev/input/event0, axes: {vx: ABS_X}, deadman: BTN_TL, estop: BTN_EAST, deadman_ms: 5000}\nsafety:\n",
                14, "gamepad.deadman_ms", "outside"
            ),
        ])
    func boardErrors(replace: String, with: String, line: Int, field: String, message: String) throws {
        let text = goodBoard.replacingOccurrences(of: replace, with: with)
        #expect(text != goodBoard, "the fixture edit did not apply")
        let e = try #require(try loadError(text))
        #expect(e.file.hasSuffix("boards/test.yaml"))
        #expect(e.line == line, "\(e)")
        #expect(e.column != nil)
        #expect(e.field == field, "\(e)")
        #expect(e.message.contains(message), "\(e)")
        #expect(e.description.contains("test.yaml:\(line):"))
    }

    @Test("planner and surprise sections are read; absent, the defaults apply")
    func plannerSection() throws {
        let text = goodBoard.replacingOccurrences(
            of: "safety:\n",
            with: """
                planner:
                  actuators: [vy, vx]
                  motion: holonomic
                  predictor: int8
                  method: cem
                  horizon: 24
                  samples: 64
                  elites: 8
                  roadmap_every: 0
                  budget_ms: 3.5
                  wall_follow_steps: 40
                  max_stale_ticks: 9
                  starved_action: report
                surprise: {threshold_factor: 4, action: slow, slow_factor: 0.5}
                safety:

                """)
        let loaded = try LoadedBoard.load(boardPath: try writeBoard(text, calibration: goodCalibration))
        let c = try #require(loaded.profile.planner)
        #expect(
            c.method == .cem && c.horizon == 24 && c.samples == 64 && c.elites == 8 && c.roadmapEvery == 0 && c.budgetMilliseconds == 3.5)
        #expect(c.wallFollowSteps == 40 && PlannerConfig().wallFollowSteps == 0)
        #expect(c.predictor == .int8 && PlannerConfig().predictor == .auto)
        #expect(c.actuators == ["vy", "vx"] && c.motion == .holonomic && loaded.profile.plannedActuators == ["vy", "vx"])
        #expect(c.maxStaleTicks == 9 && c.starvedAction == .report && loaded.safetyConfig.starvationResponse == .report)
        #expect(loaded.profile.surprise.thresholdFactor == 4 && loaded.profile.surprise.action == .slow)
        #expect(loaded.safetyConfig.surpriseResponse == .slow && loaded.safetyConfig.slowFactor == 0.5)
        let plain = try LoadedBoard.load(boardPath: try writeBoard(goodBoard, calibration: goodCalibration))
        #expect(plain.profile.planner == nil && plain.profile.surprise == SurpriseSettings())
        #expect(plain.profile.plannedActuators == ["vx", "vy"] && PlannerConfig().motion == .generic)
        #expect(plain.safetyConfig.starvationResponse == .stop && PlannerConfig().maxStaleTicks == 5)
    }

    @Test(
        "calibration errors name the calibration file",
        arguments: [
            (
                "vx: {min_us: 1000, neutral_us: 1510", "vx: {min_us: 1600, neutral_us: 1510", "channels.vx",
                "need min_us < neutral_us < max_us"
            ),
            (
                "  vy: {min_us: 1100, neutral_us: 1490, max_us: 1900, reversed: true, deadband_us: 12}", "", "channels.vy",
                "no calibration for actuator 'vy'"
            ),
            ("board: test", "board: other", "board", "calibration is for board 'other'"),
            ("channels:\n", "channels:\n  wz: {min_us: 1000, neutral_us: 1500, max_us: 2000}\n", "channels.wz", "no actuator named 'wz'"),
            ("max_us: 2000}", "max_us: 2000, trim: 3}", "channels.vx.trim", "unknown key 'trim'"),
        ])
    func calibrationErrors(replace: String, with: String, field: String, message: String) throws {
        let text = goodCalibration.replacingOccurrences(of: replace, with: with)
        #expect(text != goodCalibration, "the fixture edit did not apply")
        let e = try #require(try loadError(goodBoard, text))
        #expect(e.file.hasSuffix("calibration/test.yaml"), "\(e)")
        #expect(e.field == field, "\(e)")
        #expect(e.message.contains(message), "\(e)")
    }

    @Test("limits the governor would refuse are caught at load, naming the field")
    func safetyProblems() throws {
        let e = try #require(try loadError(goodBoard.replacingOccurrences(of: "stall_timeout_ms: 150", with: "stall_timeout_ms: 10")))
        #expect(e.field == "safety" && e.message.contains("stall_timeout"))
    }

    @Test("a missing board or calibration file is named")
    func missingFiles() throws {
        #expect(throws: ConfigError.self) { try LoadedBoard.load(boardPath: "/nonexistent/board.yaml") }
        let e = try #require(
            try loadError(goodBoard.replacingOccurrences(of: "../calibration/test.yaml", with: "../calibration/none.yaml")))
        #expect(e.file.hasSuffix("calibration/none.yaml") && e.message.contains("cannot read"))
    }

    @Test("paths are normalized without touching the file system")
    func paths() {
        #expect(normalizedPath("boards/../calibration/x.yaml") == "calibration/x.yaml")
        #expect(normalizedPath("/a/./b/../c") == "/a/c")
        #expect(normalizedPath("../x") == "../x")
        #expect(normalizedPath("a/..") == ".")
    }
}

/// A real board: V4L2 camera, PCA9685 on I2C, GPIO lines by chip label and name, watchdog.
let realBoard = """
    name: test
    loop:
      rate_hz: 30
    camera:
      driver: v4l2
      device: /dev/v4l/by-id/usb-cam-video-index0
      capture_width: 640
      capture_height: 480
      format: mjpeg
      crop: {x: 80, y: 0, width: 480, height: 480}
      width: 64
      height: 64
      max_frame_age_ms: 100
    pwm:
      driver: pca9685
      bus: 1
      address: 0x41
      output_enable: {chip: pinctrl-bcm2711, line: GPIO4}
    actuators:
      - {name: vx, channel: 0, kind: servo, slew_per_s: 10}
      - {name: vy, channel: 3, kind: esc, slew_per_s: 5}
    inputs:
      - {name: estop, role: estop, driver: gpiod, chip: pinctrl-bcm2711, line: GPIO17, active_low: true, bias: pull_up}
    outputs:
      - {name: enable, role: motor_enable, chip: pinctrl-bcm2711, line: GPIO27}
    watchdog:
      timeout_s: 10
    safety:
      max_window_change: 1.0
      max_consecutive_overruns: 4
      stall_timeout_ms: 150
      heartbeat_timeout_ms: 120
    calibration: ../calibration/test.yaml
    """

@Suite struct RealBoardProfileTests {
    @Test func aRealBoardParses() throws {
        let b = try LoadedBoard.load(boardPath: try writeBoard(realBoard, calibration: goodCalibration)).profile
        #expect(b.camera.v4l2?.device == "/dev/v4l/by-id/usb-cam-video-index0")
        #expect(b.camera.v4l2?.format == "mjpeg" && b.camera.v4l2?.crop == [80, 0, 480, 480])
        #expect(b.pwm?.address == 0x41 && b.pwm?.bus == "1" && b.pwm?.outputEnable == GPIOLineSpec(chip: "pinctrl-bcm2711", line: "GPIO4"))
        #expect(b.inputs[0].gpio == GPIOLineSpec(chip: "pinctrl-bcm2711", line: "GPIO17") && b.inputs[0].bias == "pull_up")
        #expect(b.outputs.map(\.role) == [.motorEnable] && b.outputs[0].safeLevel == false)
        #expect(b.watchdog == WatchdogSettings(device: "/dev/watchdog", timeoutSeconds: 10))
    }

    @Test func chipNumbersAreRefusedWithTheReason() throws {
        let e = try loadError(
            realBoard.replacingOccurrences(of: "chip: pinctrl-bcm2711, line: GPIO17", with: "chip: gpiochip0, line: GPIO17"))
        #expect(e?.message.contains("label") == true)
        #expect(e?.line == 23)
    }

    @Test func badRealBoardFieldsNameTheLine() throws {
        #expect(try loadError(realBoard.replacingOccurrences(of: "format: mjpeg", with: "format: h264"))?.line == 9)
        #expect(try loadError(realBoard.replacingOccurrences(of: "address: 0x41", with: "address: 0x80"))?.line == 17)
        #expect(try loadError(realBoard.replacingOccurrences(of: "bias: pull_up", with: "bias: up"))?.message.contains("pull_up") == true)
        #expect(
            try loadError(realBoard.replacingOccurrences(of: "driver: pca9685", with: "driver: pca9686"))?.field.contains("driver") == true)
        // Without a PWM board a real board has nothing to drive.
        let noPWM = realBoard.replacingOccurrences(
            of: "pwm:\n  driver: pca9685\n  bus: 1\n  address: 0x41\n  output_enable: {chip: pinctrl-bcm2711, line: GPIO4}\n", with: "")
        #expect(try loadError(noPWM)?.message.contains("pwm") == true)
    }

    @Test("a real board needs an e-stop input, an OE line and a watchdog unless it names what it goes without")
    func realBoardSafetyParts() throws {
        let noEStop = realBoard.replacingOccurrences(
            of:
                "inputs:\n  - {name: estop, role: estop, driver: gpiod, chip: pinctrl-bcm2711, line: GPIO17, "
                + "active_low: true, bias: pull_up}\n",
            with: "")
        #expect(noEStop != realBoard)
        #expect(try loadError(noEStop)?.message.contains("e-stop input") == true)
        #expect(try loadError(noEStop)?.message.contains("acknowledge: [no_estop_input]") == true)
        let noOE = realBoard.replacingOccurrences(of: "  output_enable: {chip: pinctrl-bcm2711, line: GPIO4}\n", with: "")
        #expect(try loadError(noOE)?.message.contains("output-enable") == true)
        let noWatchdog = realBoard.replacingOccurrences(of: "watchdog:\n  timeout_s: 10\n", with: "")
        #expect(try loadError(noWatchdog)?.message.contains("watchdog") == true)
        // Named on purpose, each loads, and the board says what it runs without.
        let bare = noEStop.replacingOccurrences(of: "  output_enable: {chip: pinctrl-bcm2711, line: GPIO4}\n", with: "")
            .replacingOccurrences(of: "watchdog:\n  timeout_s: 10\n", with: "")
            .replacingOccurrences(of: "safety:\n", with: "safety:\n  acknowledge: [no_estop_input, no_output_enable, no_watchdog]\n")
        let b = try LoadedBoard.load(boardPath: try writeBoard(bare, calibration: goodCalibration)).profile
        #expect(b.safety.acknowledged == [.noEStopInput, .noOutputEnable, .noWatchdog])
        #expect(b.safety.acknowledged.allSatisfy { $0.warning.hasPrefix("WARNING") })
        let typo = realBoard.replacingOccurrences(of: "safety:\n", with: "safety:\n  acknowledge: [no_brakes]\n")
        #expect(try loadError(typo)?.field == "safety.acknowledge[0]")
    }

    @Test(
        "a real board's limits and timeouts have sane ranges; pulses must fit the PWM period",
        arguments: [
            ("slew_per_s: 10}", "slew_per_s: 1000000}", "actuators[0].slew_per_s"),
            ("stall_timeout_ms: 150", "stall_timeout_ms: 60000", "safety.stall_timeout_ms"),
            ("heartbeat_timeout_ms: 120", "heartbeat_timeout_ms: 60000", "safety.heartbeat_timeout_ms"),
            ("max_frame_age_ms: 100", "max_frame_age_ms: 9000", "camera.max_frame_age_ms"),
        ])
    func realBoardRanges(replace: String, with: String, field: String) throws {
        let text = realBoard.replacingOccurrences(of: replace, with: with)
        #expect(text != realBoard)
        let e = try #require(try loadError(text))
        #expect(e.field == field, "\(e)")
    }

    @Test("the output supervisor's stall limit: three periods or 100 ms by default, at least two periods, at most 1 s")
    func supervisorStall() throws {
        let b = try LoadedBoard.load(boardPath: try writeBoard(realBoard, calibration: goodCalibration)).profile
        #expect(b.supervisorStall == .milliseconds(100))  // 3 periods at 30 Hz are 100 ms
        let slow = realBoard.replacingOccurrences(of: "rate_hz: 30", with: "rate_hz: 10")
        #expect(
            try LoadedBoard.load(boardPath: try writeBoard(slow, calibration: goodCalibration)).profile.supervisorStall
                == .milliseconds(300))
        let set = realBoard.replacingOccurrences(of: "safety:\n", with: "supervisor:\n  stall_ms: 150\nsafety:\n")
        #expect(
            try LoadedBoard.load(boardPath: try writeBoard(set, calibration: goodCalibration)).profile.supervisorStall == .milliseconds(150)
        )
        for bad in ["stall_ms: 50", "stall_ms: 5000", "stall_ms: fast", "stalls_ms: 150"] {
            let text = realBoard.replacingOccurrences(of: "safety:\n", with: "supervisor:\n  \(bad)\nsafety:\n")
            let e = try #require(try loadError(text), "\(bad)")
            #expect(e.field.hasPrefix("supervisor"), "\(bad): \(e)")
        }
    }

    @Test("serial_console: required by default; heartbeat_ms read and range-checked")
    func consoleRequiredAndHeartbeat() throws {
        let console = realBoard.replacingOccurrences(
            of: "safety:\n", with: "serial_console:\n  device: /dev/ttyAMA0\n  heartbeat_ms: 500\nsafety:\n")
        let s = try #require(try LoadedBoard.load(boardPath: try writeBoard(console, calibration: goodCalibration)).profile.serialConsole)
        #expect(s.required && s.heartbeat == .milliseconds(500))
        let optional = console.replacingOccurrences(of: "  heartbeat_ms: 500\n", with: "  required: false\n")
        let o = try #require(try LoadedBoard.load(boardPath: try writeBoard(optional, calibration: goodCalibration)).profile.serialConsole)
        #expect(!o.required && o.heartbeat == nil)
        let e = try #require(try loadError(console.replacingOccurrences(of: "heartbeat_ms: 500", with: "heartbeat_ms: 5")))
        #expect(e.field == "serial_console.heartbeat_ms", "\(e)")
        // A key file is found beside the board file, like the calibration.
        let signed = console.replacingOccurrences(of: "  heartbeat_ms: 500\n", with: "  key_file: ../keys/link.key\n")
        let path = try writeBoard(signed, calibration: goodCalibration)
        let k = try #require(try LoadedBoard.load(boardPath: path).profile.serialConsole?.keyFile)
        #expect(k.hasSuffix("/keys/link.key") && !k.contains("/boards/"), "\(k)")
    }

    @Test("a PWM frequency whose period is shorter than the pulses is refused, naming the calibration channel")
    func pulsesFitThePeriod() throws {
        let fast = goodCalibration.replacingOccurrences(of: "frequency_hz: 60,", with: "frequency_hz: 600,")
        #expect(fast != goodCalibration)
        let e = try #require(try loadError(goodBoard, fast))
        #expect(e.field.hasPrefix("channels.") && e.message.contains("PWM period"), "\(e)")
    }

    @Test func everyShippedBoardProfileLoads() throws {
        let dir = "\(repoRoot)/boards"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 6)
        for f in files {
            let b = try LoadedBoard.load(boardPath: "\(dir)/\(f)")
            #expect(b.profile.name + ".yaml" == f, "\(f) is named \(b.profile.name)")
            if b.profile.simulation == nil {
                #expect(b.profile.pwm != nil && b.profile.camera.driver == .v4l2, "\(f)")
                #expect(b.profile.inputs.contains { $0.role == .estop }, "\(f) has no e-stop")
            }
        }
    }
}

@Suite struct CalibrationFileTests {
    @Test func savedFileLoadsBackEqualWithABackup() throws {
        let boardPath = try writeBoard(goodBoard, calibration: goodCalibration)
        let loaded = try LoadedBoard.load(boardPath: boardPath)
        var new = loaded.calibration
        new.channels["vx"]!.neutralMicros = 1520
        new.channels["vx"]!.reversed.toggle()
        new.oscillatorTrim = 1.0375
        new.cameraCrop = [80, 0, 480, 480]
        #expect(new.changes(from: loaded.calibration).count == 4)
        let backup = try new.save(to: loaded.calibration.path, profile: loaded.profile)
        #expect(backup == loaded.calibration.path + ".bak")
        #expect(try String(contentsOfFile: backup!, encoding: .utf8) == goodCalibration)
        let again = try LoadedBoard.load(boardPath: boardPath).calibration
        #expect(again.channels == new.channels && again.oscillatorTrim == 1.0375 && again.cameraCrop == [80, 0, 480, 480])
        #expect(again.changes(from: new).isEmpty)
    }

    @Test func anInvalidCalibrationIsNotSavedAndTheOldFileStays() throws {
        let boardPath = try writeBoard(goodBoard, calibration: goodCalibration)
        let loaded = try LoadedBoard.load(boardPath: boardPath)
        var bad = loaded.calibration
        bad.channels["vx"]!.minMicros = 1600  // above neutral
        #expect(throws: ConfigError.self) { try bad.save(to: loaded.calibration.path, profile: loaded.profile) }
        #expect(try String(contentsOfFile: loaded.calibration.path, encoding: .utf8) == goodCalibration)
        #expect(!FileManager.default.fileExists(atPath: loaded.calibration.path + ".new"))
        #expect(!FileManager.default.fileExists(atPath: loaded.calibration.path + ".bak"))
    }
}
