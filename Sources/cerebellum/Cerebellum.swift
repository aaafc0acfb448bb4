import ArgumentParser

@main
struct Cerebellum: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cerebellum",
        abstract: "Onboard controller for camera-driven robots: fixed-rate loop, safety governor, simulated and real boards.",
        subcommands: [
            Run.self, Eval.self, EvalScaling.self, Goal.self, Calibrate.self, Record.self, Recover.self, Replay.self, DataCommand.self,
            Train.self, Memory.self,
            EvalModel.self,
            Bench.self,
            CheckBoard.self, Doctor.self, HILCheck.self, Supervise.self, ConsoleKey.self, ConsoleSign.self,
        ])
}
