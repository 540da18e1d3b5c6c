import Foundation
import Digest
import HTTPClientKit
import NimbusClient
import NimbusCore

/// `swift://container[/prefix]` with duplicity's swift-backend environment (`SWIFT_AUTHURL`,
/// `SWIFT_USERNAME`, `SWIFT_PASSWORD`, `SWIFT_AUTHVERSION` and the Keystone variables, see
/// `ClientEnvironment.duplicity`), or `cf+http://container` with the Cloud Files one
/// (`CLOUDFILES_AUTHURL`, `CLOUDFILES_USERNAME`, `CLOUDFILES_APIKEY`). Volumes stream to and
/// from the object store and each upload's ETag is checked against the local MD5.
public final class SwiftBackend: BackupBackend {
    let client: SwiftClient
    let container: String
    let prefix: String

    /// - Parameters:
    ///   - tls: how an https:// auth or storage URL is checked (duplicity's `--ssl-cacert-file`,
    ///     `--ssl-no-check-certificate`).
    ///   - retries: retries of each request (duplicity's `--num-retries`).
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment, tls: ClientTLS = ClientTLS(),
                retries: Int = 5, onRetry: (@Sendable (String) -> Void)? = nil) throws {
        let rest: Substring
        var creds: SwiftClient.Credentials
        if url.hasPrefix("swift://") {
            rest = url.dropFirst("swift://".count)
            guard let found = ClientEnvironment.duplicity(environment, tls: tls), found.user != nil || found.token != nil else {
                throw BackupError("set SWIFT_AUTHURL, SWIFT_USERNAME and SWIFT_PASSWORD (and SWIFT_AUTHVERSION=3 with SWIFT_PROJECT_NAME "
                                  + "for Keystone) for \(url)")
            }
            creds = found
        } else if url.hasPrefix("cf+http://") {
            rest = url.dropFirst("cf+http://".count)
            creds = .init(authURL: environment["CLOUDFILES_AUTHURL"], user: environment["CLOUDFILES_USERNAME"], key: environment["CLOUDFILES_APIKEY"])
            creds.tls = tls
            guard creds.authURL != nil, creds.user != nil, creds.key != nil else {
                throw BackupError("set CLOUDFILES_AUTHURL, CLOUDFILES_USERNAME and CLOUDFILES_APIKEY for \(url)")
            }
        } else {
            throw BackupError("not an object store URL: \(url)")
        }
        let parts = rest.split(separator: "/", maxSplits: 1)
        guard let c = parts.first, !c.isEmpty else { throw BackupError("no container in \(url)") }
        container = String(c)
        prefix = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/" : ""
        client = SwiftClient(credentials: creds, retries: retries, onRetry: onRetry, connectHint: "is the proxy running? check SWIFT_AUTHURL")
    }

    deinit { client.shutdown() }

    public func list() async throws -> [String] {
        do {
            return try await client.list(container, prefix: prefix.isEmpty ? nil : prefix).compactMap { row in
                (row["name"] as? String).map { String($0.dropFirst(prefix.count)) }
            }
        } catch let e as ClientError where e.status == 404 {
            return []
        }
    }

    public func get(_ name: String, to path: String) async throws {
        _ = try await client.getObject(container, prefix + name, to: path)
    }

    public func put(_ path: String, as name: String) async throws {
        try await client.ensureContainer(container)
        _ = try await client.putObject(container, prefix + name, file: path)
    }

    public func delete(_ name: String) async throws {
        let r = try await client.request("DELETE", SwiftClient.path(container, prefix + name))
        guard (200..<300).contains(r.status) || r.status == 404 else { throw ClientError.http(r.status, "deleting \(name)") }
    }
}

/// The backend for a target URL.
public enum Backends {
    public static func open(_ url: String, tls: ClientTLS = ClientTLS(), retries: Int = 5,
                            onRetry: (@Sendable (String) -> Void)? = nil) throws -> any BackupBackend {
        if url.hasPrefix("file://") { return try FileBackend(url: url) }
        if url.hasPrefix("swift://") || url.hasPrefix("cf+http://") {
            return try SwiftBackend(url: url, tls: tls, retries: retries, onRetry: onRetry)
        }
        throw BackupError("unsupported target \(url) (file://, swift:// and cf+http:// are)")
    }

    /// The archive cache directory of a target: `<archive dir>/<name or md5 of the URL as typed>`.
    public static func cacheDirectory(url: String, archiveDir: String?, name: String?) -> String {
        // $HOME first, as the scheduler's config paths and duplicity (expanduser) read it.
        let env = ProcessInfo.processInfo.environment
        let base = archiveDir ?? (env["XDG_CACHE_HOME"] ?? "\(env["HOME"] ?? NSHomeDirectory())/.cache") + "/nimbus-backup"
        return "\(base)/\(name ?? Digests.md5Hex(url))"
    }
}
