import ArgumentParser
import Foundation
import NimbusClient
import NimbusCore

/// `nimbus`: one executable for every role of the cluster.
@main
struct Nimbus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nimbus",
        abstract: "Nimbus: an OpenStack-Swift-compatible object store and the cloud around it.",
        discussion: "Exit status: 0 done, 1 failed (one line on stderr, prefixed nimbus:), 2 bad usage; some verbs say more in their help.",
        version: NimbusVersion.string,
        subcommands: [AIOCommand.self, NodeCommand.self, ProxyCommand.self, RingCommand.self, StatusCommand.self, STCommand.self, BackupCommand.self, ManageCommand.self, ComputeCommand.self, ImageCommand.self, SmokeCommand.self])

    /// Parses and runs; a mistake on the command line prints the usage and exits 2 (as
    /// duplicity's and swiftclient's option parsers do), a failure while running prints one
    /// `nimbus:` line and exits 1 — never the usage, never 64.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .validationFailure {
                var text = fullMessage(for: error)
                if text.hasPrefix("Error: ") { text = "nimbus: " + text.dropFirst(7) }
                FileHandle.standardError.write(Data((text + "\n").utf8))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
        do {
            var c = command
            if var async = c as? any AsyncParsableCommand { try await async.run() } else { try c.run() }
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch {
            // --help and --version arrive as errors of the parser's own kind, to be shown as it shows them.
            if error is CleanExit || exitCode(for: error) == .success || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                exit(withError: error)
            }
            let text = (error as? ValidationError)?.message ?? ErrorText.line(error)
            FileHandle.standardError.write(Data("nimbus: \(text)\n".utf8))
            Glibc.exit(error is ValidationError ? 2 : 1)
        }
    }
}
