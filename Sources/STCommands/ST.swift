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
    static let globals: [String: String] = [
        "-A": "ST_AUTH", "--auth": "ST_AUTH", "-U": "ST_USER", "--user": "ST_USER", "-K": "ST_KEY", "--key": "ST_KEY",
        "--os-storage-url": "OS_STORAGE_URL", "--os-auth-token": "OS_AUTH_TOKEN", "--retries": "ST_RETRIES", "-V": "ST_AUTH_VERSION",
        "--auth-version": "ST_AUTH_VERSION",
    ]
    static let globalFlags: [String: String] = ["-q": "ST_QUIET", "--quiet": "ST_QUIET", "-v": "ST_VERBOSE", "--verbose": "ST_VERBOSE"]

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
        await Session.$options.withValue(given) { await STRoot.main(rest) }
    }
}

struct STRoot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "st",
        abstract: "Upload, download and manage objects in a Swift-API object store.",
        discussion: """
            Global options (before or after the command): -A/--auth URL, -U/--user ACCOUNT:USER, -K/--key KEY \
            (or ST_AUTH, ST_USER, ST_KEY), --os-storage-url and --os-auth-token (or OS_STORAGE_URL, OS_AUTH_TOKEN) to skip \
            authentication, -q/--quiet, -v/--verbose, --retries N.
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
        let creds = SwiftClient.Credentials(authURL: e["ST_AUTH"], user: e["ST_USER"], key: e["ST_KEY"],
                                            storageURL: e["OS_STORAGE_URL"], token: e["OS_AUTH_TOKEN"])
        return SwiftClient(credentials: creds, retries: Int(e["ST_RETRIES"] ?? "") ?? 5)
    }

    static func progress() -> TransferProgress { TransferProgress(enabled: !quiet && TransferProgress.isTTY) }

    /// Runs `body` with a client; errors print as `st: message` and exit non-zero.
    static func run(_ body: (SwiftClient) async throws -> Bool) async throws {
        let client = client()
        defer { client.shutdown() }
        do {
            if try await !body(client) { throw ExitCode.failure }
        } catch let e as ClientError {
            FileHandle.standardError.write(Data("st: \(e)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func fail(_ errors: [String]) -> Bool {
        for e in errors { FileHandle.standardError.write(Data("st: \(e)\n".utf8)) }
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
