import ArgumentParser
import NIOHTTP1
import Foundation
import NimbusClient
import NimbusCore

/// `st`: the Cloud Files-style command line (`st -A URL -U USER -K KEY upload CONTAINER FILES…`).
///
/// The global options (`-A/-U/-K`, `-q`, `-v`, `--os-storage-url`, `--os-auth-token`) may come
/// before or after the command, as with the classic `st` and python-swiftclient's `swift`; they
/// are taken out of the arguments first and handed to the commands as values under the names
/// of the environment variables users know (`ST_AUTH`, `ST_USER`, `ST_KEY`, `OS_STORAGE_URL`,
/// `OS_AUTH_TOKEN`), which they override.
public enum ST {
    static let globals: [String: String] = {
        var g = [
            "-A": "ST_AUTH", "--auth": "ST_AUTH", "-U": "ST_USER", "--user": "ST_USER", "-K": "ST_KEY", "--key": "ST_KEY",
            "--retries": "ST_RETRIES", "-V": "ST_AUTH_VERSION", "--auth-version": "ST_AUTH_VERSION",
            "--os-tenant-name": "OS_TENANT_NAME", "--os-tenant-id": "OS_TENANT_ID", "--os-endpoint-type": "OS_ENDPOINT_TYPE",
        ]
        // python-swiftclient's --os-* options, each named after its variable (--os-auth-url: OS_AUTH_URL).
        for name in ["auth-url", "username", "user-id", "password", "project-name", "project-id", "user-domain-name",
                     "user-domain-id", "project-domain-name", "project-domain-id", "region-name", "interface", "auth-type",
                     "application-credential-id", "application-credential-name", "application-credential-secret",
                     "storage-url", "auth-token", "cacert", "identity-api-version"] {
            g["--os-" + name] = "OS_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
        }
        return g
    }()
    static let globalFlags: [String: String] = [
        "-q": "ST_QUIET", "--quiet": "ST_QUIET", "-v": "ST_VERBOSE", "--verbose": "ST_VERBOSE",
        "--insecure": "SWIFTCLIENT_INSECURE",
    ]

    /// Runs `st` with `arguments` (the process arguments when nil).
    public static func main(_ arguments: [String]? = nil) async {
        var args = arguments ?? Array(CommandLine.arguments.dropFirst())
        var rest: [String] = []
        var given: [String: String] = [:]
        while !args.isEmpty {
            let a = args.removeFirst()
            if let key = globals[a], let value = args.first {
                args.removeFirst()
                given[key] = value
            } else if let eq = a.firstIndex(of: "="), let key = globals[String(a[..<eq])] {
                given[key] = String(a[a.index(after: eq)...])
            } else if let key = globalFlags[a] {
                given[key] = "1"
            } else {
                rest.append(a)
            }
        }
        Interruption.install()
        await Session.$options.withValue(given) {
            do {
                var command = try STRoot.parseAsRoot(rest)
                if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
            } catch {
                // A usage mistake exits 2 with the usage, as python-swiftclient's argparse does;
                // a failure at run time has printed its one line and exits 1.
                if STRoot.exitCode(for: error) == .validationFailure {
                    var text = STRoot.fullMessage(for: error)
                    if text.hasPrefix("Error: ") { text = "st: " + text.dropFirst(7) }
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                    exit(2)
                }
                STRoot.exit(withError: error)
            }
        }
    }
}

struct STRoot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "st",
        abstract: "Upload, download and manage objects in a Swift-API object store.",
        discussion: """
            Global options (before or after the command), as python-swiftclient takes them:
              tempauth v1.0: -A/--auth URL, -U/--user ACCOUNT:USER, -K/--key KEY (or ST_AUTH, ST_USER, ST_KEY).
              Keystone: -V/--auth-version 2.0|3, --os-auth-url, --os-username, --os-password, --os-project-name, \
            --os-user-domain-name, --os-project-domain-name (and the -id forms), --os-region-name, --os-interface, \
            --os-application-credential-id/-secret (or the OS_* variables of the same names).
              --os-storage-url and --os-auth-token (OS_STORAGE_URL, OS_AUTH_TOKEN) skip authentication.
              HTTPS: --os-cacert FILE (OS_CACERT) trusts that CA instead of the system's; --insecure skips the check.
              -q/--quiet, -v/--verbose (shows retries), --retries N (default 5: about 8 s of backoff before giving up).
            Exit status: 0 done, 1 something failed (one line per failure on stderr, prefixed st:), 2 bad usage.
            """,
        version: NimbusVersion.string,
        subcommands: [Stat.self, List.self, Upload.self, Download.self, Delete.self, Post.self, Copy.self, Capabilities.self, Auth.self])
}

/// The connection every command makes, from the environment the global options filled.
enum Session {
    /// The global options given on the command line (task-local: no process-wide `setenv`).
    @TaskLocal static var options: [String: String] = [:]
    /// The environment with the command line's global options over it.
    static var env: [String: String] { ProcessInfo.processInfo.environment.merging(options) { $1 } }
    static var quiet: Bool { env["ST_QUIET"] != nil }
    static var verbose: Bool { env["ST_VERBOSE"] != nil }

    static func client() -> SwiftClient {
        let e = env
        let onRetry: (@Sendable (String) -> Void)? = verbose ? { @Sendable line in FileHandle.standardError.write(Data("st: \(line)\n".utf8)) } : nil
        return SwiftClient(credentials: ClientEnvironment.swiftclient(e), retries: Int(e["ST_RETRIES"] ?? "") ?? 5,
                           onRetry: onRetry,
                           connectHint: "is the proxy running? check -A (ST_AUTH) or --os-auth-url")
    }

    /// One line on stderr, prefixed `st:`.
    static func say(_ line: String) {
        FileHandle.standardError.write(Data("st: \(line)\n".utf8))
    }

    static func progress() -> TransferProgress { TransferProgress(enabled: !quiet && TransferProgress.isTTY) }

    /// Runs `body` with a client; a failure prints as one `st: message` line and exits 1 (usage
    /// errors found before, by the argument parser, exit 2 as python-swiftclient's do).
    static func run(_ body: (SwiftClient) async throws -> Bool) async throws {
        let client = client()
        defer { client.shutdown() }
        do {
            if try await !body(client) { throw ExitCode.failure }
        } catch let e as ExitCode {
            throw e
        } catch {
            say(describe(error))
            throw ExitCode.failure
        }
    }

    /// An error in one line: ours as they are, the system's by their reason.
    static func describe(_ error: any Error) -> String {
        (error as? ValidationError)?.message ?? ErrorText.line(error)
    }

    static func fail(_ errors: [String]) -> Bool {
        for e in errors { say(e) }
        return errors.isEmpty
    }

    /// `Key: value` headers from `-H`/`--header` options.
    static func headers(_ raw: [String]) throws -> [(String, String)] {
        try raw.map { h in
            guard let colon = h.firstIndex(of: ":") else { throw ValidationError("header \(h) must be Name:Value") }
            return (h[..<colon].trimmingCharacters(in: .whitespaces), h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}
