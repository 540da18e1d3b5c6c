import ArgumentParser
import NimbusCore

/// `nimbus`: one executable for every role of the cluster.
@main
struct Nimbus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nimbus",
        abstract: "Nimbus: an OpenStack-Swift-compatible object store and the cloud around it.",
        version: NimbusVersion.string,
        subcommands: [AIOCommand.self, NodeCommand.self, ProxyCommand.self, RingCommand.self, StatusCommand.self, STCommand.self, BackupCommand.self, ManageCommand.self, ComputeCommand.self, ImageCommand.self, SmokeCommand.self])
}
