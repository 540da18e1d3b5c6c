import ArgumentParser
import Cluster
import ControlPlane
import Dispatch
import Foundation
import NimbusCore
import Logging
import Proxy
import ServiceLifecycle
import StorageServer

/// `nimbus node --config FILE`: one storage node (account, container and object servers).
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Run one storage node from a JSON config.")

    @Option(help: "Node config (JSON: devicesRoot, devices, host, port, hashPath, ringDirectory).")
    var config: String

    @OptionGroup var log: LogOptions
    @OptionGroup var supervision: SupervisionOptions

    func run() async throws {
        supervision.apply()
        let logger = try log.bootstrap(label: "nimbus.node")
        let cfg = try ConfigFile.load(StorageNodeConfig.self, from: config)
        try await runUntilSignalled([try await StorageNode.start(config: cfg, logger: logger)], logger: logger)
    }
}

/// `nimbus proxy --config FILE`: the proxy server.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proxy", abstract: "Run the proxy server from a JSON config.")

    @Option(help: "Proxy config (JSON: host, port, ringDirectory, users; server.tlsCertificateFile/tlsKeyFile for HTTPS).")
    var config: String

    @Option(help: "PEM certificate (chain): serve HTTPS (over the config's server.tlsCertificateFile).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @OptionGroup var log: LogOptions
    @OptionGroup var supervision: SupervisionOptions

    func run() async throws {
        supervision.apply()
        let logger = try log.bootstrap(label: "nimbus.proxy")
        var cfg = try ConfigFile.load(ProxyConfig.self, from: config)
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("HTTPS needs both --tls-cert and --tls-key") }
        if let tlsCert, let tlsKey {
            cfg.server.tlsCertificateFile = tlsCert
            cfg.server.tlsKeyFile = tlsKey
        }
        var users: (any TempAuthUserSource)?
        if let cp = cfg.controlPlane {
            let store = try ControlPlaneSQLStore.open(database: cp.database, keyFile: cp.keyFile)
            try await store.migrate()
            users = ControlPlaneUsers(store: store)
        }
        try await runUntilSignalled([try await ProxyServer.start(config: cfg, users: users, logger: logger)], logger: logger)
    }
}

/// Runs daemons until SIGTERM or SIGINT, then shuts them down gracefully.
func runUntilSignalled(_ services: [any Service], logger: Logger) async throws {
    let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}

/// How a daemon started by `nimbus aio` behaves as its child.
struct SupervisionOptions: ParsableArguments {
    @Flag(help: .hidden)
    var exitWithParent = false

    /// Stops the daemon (SIGTERM to itself, a graceful shutdown) once the supervisor is gone,
    /// even if it died by SIGKILL, so no daemon is left holding the cluster's ports; and lifts
    /// the open-file limit to its hard maximum. (prctl's PR_SET_PDEATHSIG would fire when the
    /// *thread* that spawned us exits, which Swift's thread pools do at will.)
    func apply() {
        var limit = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
        }
        guard exitWithParent else { return }
        let parent = getppid()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler {
            if getppid() != parent { kill(getpid(), SIGTERM) }
        }
        timer.resume()
        Self.watchdog = timer
    }

    /// Kept for the life of the process (set once at start-up, before any concurrency).
    nonisolated(unsafe) private static var watchdog: (any DispatchSourceTimer)?
}

#if canImport(Glibc)
import Glibc
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif
