import Foundation
import Logging

/// The proxy's stages as an operator writes them in OpenStack Swift's `proxy-server.conf`:
///
///     [pipeline:main]
///     pipeline = catch_errors gatekeeper healthcheck proxy-logging cache tempauth … proxy-server
///
///     [filter:tempurl]
///     use = egg:swift#tempurl
///     methods = GET HEAD
///
/// Each name is a `[filter:NAME]` section whose `use = egg:swift#ENTRY` says which stage it is,
/// or, without a section, a stage's own name. Options of a section go to its stage. The last
/// name is the proxy server itself.
public struct PipelineConfig: Sendable, Equatable {
    /// The stages' names in order, the proxy server last.
    public var names: [String]
    /// The entry point (stage kind) of each name: `proxy-logging` → `proxy_logging`.
    public var entries: [String: String]
    /// Options of each `[filter:NAME]` section (without `use`).
    public var options: [String: [String: String]]

    /// OpenStack Swift's default order, of the stages Nimbus has. `bulk` acts with the identity
    /// the auth stage found, so it follows `tempauth` (Swift's re-enters the pipeline per item).
    public static let defaultPipeline = "catch_errors gatekeeper healthcheck proxy-logging cache tempurl formpost s3api tempauth bulk "
        + "staticweb copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server"

    public static let `default`: PipelineConfig = {
        let names = defaultPipeline.split(separator: " ").map(String.init)
        return PipelineConfig(names: names, entries: Dictionary(names.dropLast().map { ($0, MiddlewareRegistry.entry(forSection: $0)) }, uniquingKeysWith: { first, _ in first }),
                              options: [:])
    }()

    init(names: [String], entries: [String: String], options: [String: [String: String]]) {
        self.names = names
        self.entries = entries
        self.options = options
    }

    /// A config error, in one line that names the file and the section at fault.
    public struct ConfigError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Parses a paste-deploy style ini text. `source` names it in errors.
    public init(parsing text: String, source: String) throws {
        var sections: [String: [String: String]] = [:]
        var section: String?
        var lastKey: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else { throw ConfigError(description: "\(source): bad section line '\(trimmed)'") }
                let name = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                section = name
                sections[name, default: [:]] = sections[name] ?? [:]
                lastKey = nil
                continue
            }
            guard let section else { throw ConfigError(description: "\(source): '\(trimmed)' comes before any [section]") }
            if line.first == " " || line.first == "\t", let key = lastKey {
                // A continuation line (paste-deploy lets a long pipeline wrap).
                sections[section]?[key, default: ""] += " " + trimmed
                continue
            }
            guard let sep = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ConfigError(description: "\(source): [\(section)] line '\(trimmed)' is not 'name = value'")
            }
            let key = trimmed[..<sep].trimmingCharacters(in: .whitespaces)
            sections[section]?[key] = trimmed[trimmed.index(after: sep)...].trimmingCharacters(in: .whitespaces)
            lastKey = key
        }
        guard let line = sections["pipeline:main"]?["pipeline"] else {
            throw ConfigError(description: "\(source): no [pipeline:main] section with a 'pipeline = …' line")
        }
        names = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard names.last == "proxy-server" else {
            throw ConfigError(description: "\(source): [pipeline:main] must end with proxy-server, not '\(names.last ?? "")'")
        }
        entries = [:]
        options = [:]
        for name in names.dropLast() {
            var opts = sections["filter:\(name)"] ?? [:]
            var entry = MiddlewareRegistry.entry(forSection: name)
            if let use = opts.removeValue(forKey: "use") {
                guard use.hasPrefix("egg:swift#") else {
                    throw ConfigError(description: "\(source): [filter:\(name)] use = \(use): only egg:swift#NAME entry points exist here")
                }
                entry = String(use.dropFirst("egg:swift#".count))
            }
            entries[name] = entry
            options[name] = opts
        }
    }

    /// Checks that every stage named exists and sits where it can work, as start-up will.
    public func check() throws {
        var quiet = Logger(label: "pipeline-check")
        quiet.logLevel = .critical
        _ = try MiddlewareRegistry.resolve(self, known: MiddlewareRegistry.builtIn, logger: quiet)
    }

    /// Loads `proxy-server.conf`-style file.
    public static func load(path: String) throws -> PipelineConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(description: "pipeline config \(path): cannot be read")
        }
        return try PipelineConfig(parsing: String(decoding: data, as: UTF8.self), source: path)
    }
}
