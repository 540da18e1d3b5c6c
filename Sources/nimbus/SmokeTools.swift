import Foundation
import NIOPosix
import NimbusCore

/// What `nimbus smoke` runs: awscli for EC2 calls (the client users have), ssh, nc, and this
/// binary for images and backups — each a child process on a thread pool of its own, so runs
/// in parallel never wait on each other's programs.
struct SmokeTools: Sendable {
    let aws: String
    let endpoint: String
    let nimbus: String
    let pool: NIOThreadPool
    /// The environment novarc made, plus what the tools need.
    let environment: [String: String]

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func run(_ executable: String, _ arguments: [String], timeout: Double = 120, environment extra: [String: String] = [:]) async throws -> ChildProcess.Result {
        let env = environment.merging(extra) { _, new in new }
        return try await pool.runIfActive { try ChildProcess.run(executable, arguments, environment: env, timeout: timeout) }
    }

    /// An EC2 call through awscli: its JSON answer, or a Failure with awscli's one-line error.
    @discardableResult
    func ec2(_ arguments: [String]) async throws -> Any {
        let r = try await run(aws, ["ec2"] + arguments + ["--endpoint-url", endpoint, "--output", "json"])
        guard r.succeeded else {
            let line = r.errorText.split(separator: "\n").last.map(String.init) ?? "exit \(r.status)"
            throw Failure("aws ec2 \(arguments.first ?? ""): \(line)")
        }
        if r.stdout.isEmpty { return [String: Any]() }
        return try JSONSerialization.jsonObject(with: r.stdout)
    }

    /// Whether TCP `port` of `host` accepts a connection (`prefix` runs the probe elsewhere,
    /// e.g. `ip netns exec NS`).
    func portOpen(_ host: String, _ port: Int, prefix: [String] = []) async throws -> Bool {
        let command = prefix + ["nc", "-z", "-w", "3", host, String(port)]
        let r = try await run(Self.which(command[0]) ?? command[0], Array(command.dropFirst()), timeout: 20)
        return r.succeeded
    }

    static func which(_ name: String) -> String? { ChildProcess.executable(named: name) }
}

/// Reads JSON answers without force casts (a reply of an unexpected shape is a failed step, not a trap).
enum JSONPath {
    static func get(_ value: Any, _ path: [Any]) -> Any? {
        var current: Any? = value
        for key in path {
            if let k = key as? String { current = (current as? [String: Any])?[k] }
            else if let i = key as? Int, let a = current as? [Any], a.indices.contains(i) { current = a[i] } else { return nil }
        }
        return current
    }

    static func string(_ value: Any, _ path: Any...) -> String? { get(value, path) as? String }
}
