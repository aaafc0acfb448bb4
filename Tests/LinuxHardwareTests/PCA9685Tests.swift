import RobotCore
import Simulation
import Testing
@testable import LinuxHardware
@testable import Safety

/// A GPIO output stand-in that remembers its level.
final class RecordingOutput: DigitalOutput {
    let name = "oe"
    let safeLevel = false
    var level: Bool?
    func set(_ asserted: Bool) -> DeviceFailure? {
        level = asserted
        return nil
    }
}

func command(_ pulses: [Double]) -> SafeCommand {
    var p = ChannelVector(count: pulses.count)
    for (i, v) in pulses.enumerated() { p[i] = v }
    return SafeCommand(efforts: ChannelVector(count: pulses.count), pulseMicros: p)
}

@Suite struct PCA9685Tests {
    let clock = ManualClock()

    @Test func prescaleFollowsTheDatasheetFormula() {
        #expect(PCA9685.prescale(frequencyHz: 50, oscillatorHz: 25e6) == 121)  // round(122.07) − 1
        #expect(PCA9685.prescale(frequencyHz: 200, oscillatorHz: 25e6) == 30)  // the power-on value 0x1E
        #expect(PCA9685.prescale(frequencyHz: 1526, oscillatorHz: 25e6) == 3)
        #expect(PCA9685.prescale(frequencyHz: 24, oscillatorHz: 25e6) == 253)
        #expect(PCA9685.prescale(frequencyHz: 5000, oscillatorHz: 25e6) == 3)  // clamped
        #expect(PCA9685.prescale(frequencyHz: 50, oscillatorHz: 26e6) == 126)
    }

    @Test func initializeWakesTheChipWithTheRightPrescaleAndNoEarlyRestart() throws {
        let chip = PCA9685Model(clock: clock)
        let oe = RecordingOutput()
        let driver = PCA9685(device: chip, pwmChannels: [0, 3], frequencyHz: 50, clock: clock, outputEnable: oe)
        #expect(chip.isAsleep)
        #expect(driver.initialize() == nil)
        #expect(!chip.isAsleep)
        #expect(chip.registers[0xFE] == 121)
        #expect(chip.registers[0] & 0x20 != 0, "auto-increment")
        #expect(chip.registers[1] == 0x04, "totem-pole outputs")
        #expect(chip.ignoredPrescaleWrites == 0)
        #expect(chip.restartTooEarly == 0)
        #expect(oe.level == true, "outputs enabled only after init")
        #expect(abs(driver.actualFrequencyHz - 50.0) < 0.5)
    }

    @Test func pulsesReachTheChannelsWithinOneCount() throws {
        let chip = PCA9685Model(clock: clock)
        let driver = PCA9685(device: chip, pwmChannels: [0, 3], frequencyHz: 50, clock: clock)
        #expect(driver.initialize() == nil)
        let countMicros = 1e6 / driver.actualFrequencyHz / 4096
        for (a, b) in [(1000.0, 2000.0), (1500, 1500), (1234, 1876)] {
            #expect(driver.write(command([a, b])) == nil)
            #expect(abs(chip.pulseMicros(channel: 0) - a) <= countMicros)
            #expect(abs(chip.pulseMicros(channel: 3) - b) <= countMicros)
            #expect(chip.pulseMicros(channel: 1) == 0, "untouched channels stay full-OFF")
        }
    }

    @Test func oscillatorTrimCorrectsACloneBoard() {
        // A clone whose oscillator runs 4 % fast: untrimmed pulses come out 4 % short (and 52 Hz); trimmed they are right.
        let chip = PCA9685Model(oscillatorHz: 26e6, clock: clock)
        let untrimmed = PCA9685(device: chip, pwmChannels: [0], frequencyHz: 50, clock: clock)
        #expect(untrimmed.initialize() == nil)
        _ = untrimmed.write(command([1500]))
        #expect(abs(chip.pulseMicros(channel: 0) - 1500 * 25 / 26) < 6)
        let trimmed = PCA9685(device: chip, pwmChannels: [0], frequencyHz: 50, oscillatorTrim: 26.0 / 25, clock: clock)
        #expect(trimmed.initialize() == nil)
        _ = trimmed.write(command([1500]))
        #expect(abs(chip.pulseMicros(channel: 0) - 1500) < 6)
        #expect(abs(1 / chip.periodSeconds - 50) < 0.5)
    }

    @Test func theModelIgnoresPrescaleWhileAwakeAndHonoursAutoIncrement() {
        let chip = PCA9685Model()
        _ = chip.writeByte(register: 0x00, value: 0x20)  // awake, AI
        _ = chip.writeByte(register: 0xFE, value: 121)
        #expect(chip.registers[0xFE] == 0x1E)
        #expect(chip.ignoredPrescaleWrites == 1)
        var bytes: [UInt8] = [1, 2, 3, 4]
        _ = chip.writeBlock(register: 0x06, bytes: &bytes, count: 4)
        #expect(Array(chip.registers[6...9]) == [1, 2, 3, 4])
        _ = chip.writeByte(register: 0x00, value: 0x00)  // AI off: a block lands in one register
        var more: [UInt8] = [9, 8, 7, 6]
        _ = chip.writeBlock(register: 0x0A, bytes: &more, count: 4)
        #expect(chip.registers[0x0A] == 6 && chip.registers[0x0B] == 0)
    }

    @Test func sleepingWithActiveOutputsSetsRestart() {
        let chip = PCA9685Model(clock: clock)
        let driver = PCA9685(device: chip, pwmChannels: [0], frequencyHz: 50, clock: clock)
        #expect(driver.initialize() == nil)
        _ = driver.write(command([1500]))
        _ = chip.writeByte(register: 0x00, value: 0x30)  // SLEEP with channel 0 active
        #expect(chip.registers[0] & 0x80 != 0)
        // A fresh initialize brings it back: full-OFF first, wake, wait, restart.
        #expect(driver.initialize() == nil)
        #expect(!chip.isAsleep && chip.restartTooEarly == 0)
    }

    @Test func aChipThatLostPowerIsInitializedAgain() {
        let chip = PCA9685Model(clock: clock)
        let driver = PCA9685(device: chip, pwmChannels: [0], frequencyHz: 50, clock: clock, healthCheckEvery: 5)
        #expect(driver.initialize() == nil)
        _ = driver.write(command([1600]))
        chip.powerOnReset()  // brown-out: asleep, 200 Hz, all full-OFF
        #expect(chip.pulseMicros(channel: 0) == 0)
        for _ in 0..<5 { #expect(driver.write(command([1600])) == nil) }
        #expect(driver.reinitializations == 1)
        #expect(chip.registers[0xFE] == 121)
        #expect(abs(chip.pulseMicros(channel: 0) - 1600) < 5)
    }

    @Test func busGlitchesAreRetriedThenReported() {
        let chip = PCA9685Model(clock: clock)
        let driver = PCA9685(device: chip, pwmChannels: [0], frequencyHz: 50, clock: clock, attempts: 3)
        #expect(driver.initialize() == nil)
        chip.failingTransfers = 2
        chip.failureErrno = .remoteIO  // a NAK
        #expect(driver.write(command([1500])) == nil)
        #expect(driver.retriedTransfers == 1)
        chip.failingTransfers = 3
        chip.failureErrno = .ioError
        #expect(driver.write(command([1500])) == .io(errno: .ioError))
        chip.detached = true
        #expect(driver.write(command([1500])) == .io(errno: .noSuchDeviceOrAddress))
        chip.detached = false
        #expect(driver.write(command([1500])) == nil)
    }

    @Test func stopIsFullOffWithoutSleep() {
        let chip = PCA9685Model(clock: clock)
        let oe = RecordingOutput()
        let driver = PCA9685(device: chip, pwmChannels: [0, 1], frequencyHz: 50, clock: clock, outputEnable: oe)
        #expect(driver.initialize() == nil)
        _ = driver.write(command([1500, 1700]))
        #expect(driver.stop() == nil)
        #expect(chip.pulseMicros(channel: 0) == 0 && chip.pulseMicros(channel: 1) == 0)
        #expect(!chip.isAsleep, "stop never uses SLEEP")
        #expect(oe.level == false)
        // The next write needs no restart.
        #expect(driver.write(command([1500, 1500])) == nil)
        #expect(abs(chip.pulseMicros(channel: 1) - 1500) < 5)
    }
}
