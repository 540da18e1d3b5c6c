import Logging

/// The stages a pipeline can name, by entry point (`egg:swift#NAME`), and the rules Swift's
/// proxy applies to a pipeline before it runs.
enum MiddlewareRegistry {
    /// Section names that differ from their entry point, as in Swift's sample config.
    static let sectionEntries = [
        "proxy-logging": "proxy_logging", "cache": "memcache", "container-quotas": "container_quotas",
        "account-quotas": "account_quotas",
    ]

    static func entry(forSection name: String) -> String { sectionEntries[name] ?? name }

    /// Every built-in stage.
    static let builtIn: [String: MiddlewareFactory] = [
        "catch_errors": MiddlewareFactory { _, _ in CatchErrors() },
        "gatekeeper": MiddlewareFactory { options, _ in Gatekeeper(options: options) },
        "healthcheck": MiddlewareFactory { options, _ in Healthcheck(options: options) },
        "proxy_logging": MiddlewareFactory { options, _ in ProxyLogging(options: options) },
        "memcache": MiddlewareFactory { _, _ in Cache() },
        "tempurl": MiddlewareFactory { options, _ in try TempURL(options: options) },
        "formpost": MiddlewareFactory { _, _ in FormPost() },
        "tempauth": MiddlewareFactory { _, _ in TempAuth() },
        "s3api": MiddlewareFactory { options, _ in try S3API(options: options) },
        "bulk": MiddlewareFactory { _, _ in Bulk() },
        "staticweb": MiddlewareFactory { _, _ in StaticWeb() },
        "copy": MiddlewareFactory { _, _ in Copy() },
        "container_quotas": MiddlewareFactory { _, _ in ContainerQuotas() },
        "account_quotas": MiddlewareFactory { _, _ in AccountQuotas() },
        "slo": MiddlewareFactory { _, _ in StaticLargeObject() },
        "dlo": MiddlewareFactory { _, _ in DynamicLargeObject() },
        "versioned_writes": MiddlewareFactory { _, _ in VersionedWrites() },
        "symlink": MiddlewareFactory { options, _ in try Symlink(options: options) },
    ]

    /// Filters Swift's proxy puts into any pipeline that lacks them, each after the first of
    /// the listed entries present (at the front when none is), in Swift's order.
    static let required: [(entry: String, after: [String])] = [
        ("catch_errors", []),
        ("gatekeeper", ["catch_errors"]),
        ("copy", ["staticweb", "tempauth", "keystoneauth", "catch_errors", "gatekeeper", "proxy_logging"]),
        ("dlo", ["copy", "staticweb", "tempauth", "keystoneauth", "catch_errors", "gatekeeper", "proxy_logging"]),
        ("versioned_writes", ["slo", "dlo", "copy", "staticweb", "tempauth", "keystoneauth", "catch_errors", "gatekeeper", "proxy_logging"]),
    ]

    /// Stages that act with the identity the auth stage found: they must come after it.
    static let afterAuth: Set<String> = [
        "bulk", "staticweb", "copy", "container_quotas", "account_quotas", "slo", "dlo", "versioned_writes", "symlink",
    ]

    /// Stages that authenticate a request themselves and hand tempauth its identity: they must
    /// come before it (as Swift's s3api checks its pipeline).
    static let beforeAuth: Set<String> = ["s3api"]

    /// The entries of a configured pipeline (without the proxy server) with Swift's required
    /// filters added, checked against what exists; throws one line naming the first problem.
    static func resolve(_ config: PipelineConfig, known: [String: MiddlewareFactory], logger: Logger) throws -> [(name: String, entry: String)] {
        var stages: [(name: String, entry: String)] = config.names.dropLast().map { ($0, config.entries[$0] ?? $0) }
        for stage in stages where known[stage.entry] == nil {
            let what = stage.entry == stage.name ? "'\(stage.name)'" : "'\(stage.name)' (egg:swift#\(stage.entry))"
            throw PipelineConfig.ConfigError(description: "unknown filter \(what) in [pipeline:main]; known: "
                + known.keys.sorted().joined(separator: ", "))
        }
        // Swift adds the required filters in reverse order, so that catch_errors ends up first.
        for (entry, after) in required.reversed() where !stages.contains(where: { $0.entry == entry }) {
            var position = 0
            if entry == "gatekeeper" {
                position = stages.first?.entry == "catch_errors" ? 1 : 0
            } else {
                position = after.compactMap { a in stages.firstIndex { $0.entry == a }.map { $0 + 1 } }.max() ?? 0
            }
            stages.insert((entry, entry), at: position)
            logger.notice("Adding required filter \(entry) to pipeline at position \(position)")
        }
        if let auth = stages.firstIndex(where: { $0.entry == "tempauth" }),
           let early = stages[..<auth].first(where: { afterAuth.contains($0.entry) }) {
            throw PipelineConfig.ConfigError(description: "filter '\(early.name)' must come after tempauth in [pipeline:main]: "
                + "it acts with the identity tempauth finds")
        }
        if let gate = stages.firstIndex(where: { $0.entry == "gatekeeper" }),
           let early = stages[..<gate].first(where: { beforeAuth.contains($0.entry) }) {
            throw PipelineConfig.ConfigError(description: "filter '\(early.name)' must come after gatekeeper in [pipeline:main]: "
                + "gatekeeper keeps clients' system headers out of what it stores and reads")
        }
        if let auth = stages.firstIndex(where: { $0.entry == "tempauth" }),
           let late = stages[auth...].first(where: { beforeAuth.contains($0.entry) }) {
            throw PipelineConfig.ConfigError(description: "filter '\(late.name)' must come before tempauth in [pipeline:main]: "
                + "it authenticates its requests and hands tempauth the identity")
        }
        return stages
    }
}
