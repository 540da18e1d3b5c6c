import ArgumentParser
import STCommands

/// `nimbus st …`: the `st` command line, for installs with only the `nimbus` binary.
struct STCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "st", abstract: "The st upload/download client (see `st --help`).")

    @Argument(parsing: .captureForPassthrough, help: "st's options and command.") var arguments: [String] = []

    func run() async throws { await ST.main(arguments) }
}
