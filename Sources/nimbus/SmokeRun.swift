import Foundation
import NimbusClient
import NimbusCore

/// One run of the Nova developers' workflow: key pair, image, run, wait for running, open port
/// 22, find the address, ssh in and run a command, console output, terminate, close port 22,
/// delete the key pair — plus an object round trip and a backup and restore. Each step timed;
/// the first failure ends the run (what was made is cleaned up), with the instance's console.
struct SmokeRun: Sendable {
    struct Step: Sendable {
        var name: String
        var seconds: Double
        var ok: Bool
        var detail: String
    }

    struct Options: Sendable {
        var imageID: String
        var instanceType: String
        var bootTimeout: Double
        var bootMarker: String
        /// A command prefix that runs a probe from elsewhere (another namespace or host):
        /// then a floating address is associated and port 22 checked from there, open after
        /// authorize and refused after revoke.
        var probePrefix: [String]?
        var ownGroup: Bool
        var objects: Bool
        var backup: Bool
    }

    let id: String
    let tools: SmokeTools
    let options: Options
    let work: String

    /// What one run measured, in seconds: RunInstances to a working ssh; RunInstances to
    /// `running` (the cloud's part: placement, images, disk, domain started); and the guest's
    /// uptime when it printed the boot marker (when it prints one).
    struct Timing: Sendable {
        var sshSeconds: Double?
        var runningSeconds: Double?
        var bootSeconds: Double?
    }

    /// The steps as run, the timings, and the console of an instance that failed.
    func run() async -> (steps: [Step], timing: Timing, console: String?) {
        var steps: [Step] = []
        var instance: String?
        var keyMade = false, ruleOpen = false, groupMade = false
        var address: String?
        var sshSeconds: Double?, runningSeconds: Double?
        var bootSeconds: Double?
        let keyName = "smoke-\(id)", keyFile = (work as NSString).appendingPathComponent("\(id).pem")
        let group = options.ownGroup ? "smoke-\(id)" : "default"
        func step(_ name: String, _ body: () async throws -> String) async -> Bool {
            let started = Date()
            do {
                let detail = try await body()
                steps.append(Step(name: name, seconds: Date().timeIntervalSince(started), ok: true, detail: detail))
                return true
            } catch {
                steps.append(Step(name: name, seconds: Date().timeIntervalSince(started), ok: false, detail: "\(error)"))
                return false
            }
        }
        let rule = ["--group-name", group, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"]
        var launched = Date()
        var ok = await step("1 create key pair") {
            let r = try await tools.ec2(["create-key-pair", "--key-name", keyName])
            guard let material = JSONPath.string(r, "KeyMaterial") else { throw SmokeTools.Failure("no KeyMaterial in the answer") }
            keyMade = true
            guard FileManager.default.createFile(atPath: keyFile, contents: Data(material.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw SmokeTools.Failure("cannot write \(keyFile)")
            }
            return keyName
        }
        if ok && options.ownGroup {
            ok = await step("  create security group") {
                try await tools.ec2(["create-security-group", "--group-name", group, "--description", "nimbus smoke \(id)"])
                groupMade = true
                return group
            }
        }
        if ok {
            ok = await step("2 find the image") {
                let r = try await tools.ec2(["describe-images", "--image-ids", options.imageID])
                guard JSONPath.string(r, "Images", 0, "State") == "available" else { throw SmokeTools.Failure("\(options.imageID) is not available") }
                return options.imageID
            }
        }
        if ok {
            ok = await step("3 run an instance") {
                launched = Date()
                let r = try await tools.ec2(["run-instances", "--image-id", options.imageID, "--key-name", keyName, "--instance-type",
                                             options.instanceType, "--security-groups", group])
                guard let i = JSONPath.string(r, "Instances", 0, "InstanceId") else { throw SmokeTools.Failure("no InstanceId in the answer") }
                instance = i
                return i
            }
        }
        if ok, let i = instance {
            ok = await step("4 wait for running") {
                let deadline = Date().addingTimeInterval(options.bootTimeout)
                while Date() < deadline {
                    let r = try await tools.ec2(["describe-instances", "--instance-ids", i])
                    let state = JSONPath.string(r, "Reservations", 0, "Instances", 0, "State", "Name") ?? "?"
                    if state == "running" {
                        runningSeconds = Date().timeIntervalSince(launched)
                        return state
                    }
                    if state != "pending" {
                        throw SmokeTools.Failure("\(i) is \(state): \(JSONPath.string(r, "Reservations", 0, "Instances", 0, "StateReason", "Message") ?? "")")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                throw SmokeTools.Failure("\(i) not running after \(Int(options.bootTimeout)) s")
            }
        }
        if ok {
            ok = await step("5 open port 22 (\(group))") {
                do { try await tools.ec2(["authorize-security-group-ingress"] + rule) } catch let e as SmokeTools.Failure
                    where e.description.contains("InvalidPermission.Duplicate") {
                    return "already open"
                }
                ruleOpen = true
                return "tcp 22 from 0.0.0.0/0"
            }
        }
        if ok, let i = instance {
            ok = await step("6 find its address") {
                let r = try await tools.ec2(["describe-instances", "--instance-ids", i])
                guard let ip = JSONPath.string(r, "Reservations", 0, "Instances", 0, "PrivateIpAddress") else {
                    throw SmokeTools.Failure("\(i) has no private address")
                }
                address = ip
                return ip
            }
        }
        if ok, let ip = address {
            ok = await step("7 ssh in, run uname") {
                let deadline = Date().addingTimeInterval(options.bootTimeout)
                var last = ""
                while Date() < deadline {
                    let r = try await tools.run("/usr/bin/ssh", ["-i", keyFile, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                                                  "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=2", "-o", "LogLevel=ERROR",
                                                                  "root@\(ip)", "uname -s -r"], timeout: 30)
                    let out = String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if r.succeeded && out.hasPrefix("Linux") {
                        sshSeconds = Date().timeIntervalSince(launched)
                        return out
                    }
                    last = r.errorText.isEmpty ? out : r.errorText
                    try await Task.sleep(for: .milliseconds(250))
                }
                throw SmokeTools.Failure("no ssh to root@\(ip) within \(Int(options.bootTimeout)) s: \(last)")
            }
        }
        if ok, let i = instance {
            ok = await step("  console output") {
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    let r = try await tools.ec2(["get-console-output", "--instance-id", i])
                    if let output = JSONPath.string(r, "Output"), output.contains(options.bootMarker) {
                        bootSeconds = Self.uptime(after: options.bootMarker, in: output)
                        return "has \(options.bootMarker)" + (bootSeconds.map { String(format: " (guest booted in %.1f s)", $0) } ?? "")
                    }
                    try await Task.sleep(for: .seconds(2))
                }
                throw SmokeTools.Failure("the console of \(i) never showed \(options.bootMarker)")
            }
        }
        if ok, let i = instance, let prefix = options.probePrefix {
            ok = await floatingChecks(i, prefix: prefix, rule: rule, ruleOpen: &ruleOpen, step: step)
        }
        var console: String?
        if !ok, let i = instance {
            console = (try? await tools.ec2(["get-console-output", "--instance-id", i])).flatMap { JSONPath.string($0, "Output") }
        }
        // Clean-up steps run whatever happened before (their failures count too).
        if let i = instance {
            let terminated = await step("8 terminate") {
                try await tools.ec2(["terminate-instances", "--instance-ids", i])
                let deadline = Date().addingTimeInterval(120)
                while Date() < deadline {
                    let r = try await tools.ec2(["describe-instances", "--instance-ids", i])
                    if JSONPath.string(r, "Reservations", 0, "Instances", 0, "State", "Name") == "terminated" { return "terminated" }
                    try await Task.sleep(for: .seconds(1))
                }
                throw SmokeTools.Failure("\(i) not terminated after 120 s")
            }
            ok = ok && terminated
        }
        if ruleOpen {
            let closed = await step("9 close port 22") {
                try await tools.ec2(["revoke-security-group-ingress"] + rule)
                return "revoked"
            }
            ok = ok && closed
        }
        if groupMade {
            let deleted = await step("  delete security group") {
                try await tools.ec2(["delete-security-group", "--group-name", group])
                return group
            }
            ok = ok && deleted
        }
        if keyMade {
            let deleted = await step("10 delete key pair") {
                try await tools.ec2(["delete-key-pair", "--key-name", keyName])
                unlink(keyFile)
                return keyName
            }
            ok = ok && deleted
        }
        if ok && options.objects { _ = await step("  object round trip") { try await objectRoundTrip() } }
        if ok && options.backup { _ = await step("  backup and restore") { try await backupRoundTrip() } }
        return (steps, Timing(sshSeconds: sshSeconds, runningSeconds: runningSeconds, bootSeconds: bootSeconds), console)
    }

    /// The seconds of `MARKER uptime 12.34` in a console (the test guest prints its uptime).
    static func uptime(after marker: String, in console: String) -> Double? {
        // Console lines end in "\r\n", one Character in Swift: split on any newline.
        guard let line = console.split(whereSeparator: \.isNewline).last(where: { $0.contains(marker) }) else { return nil }
        let words = line.split(separator: " ")
        guard let i = words.firstIndex(of: "uptime"), words.index(after: i) < words.endIndex else { return nil }
        return Double(words[words.index(after: i)].trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A floating address associated, reachable from here and from the probe's side while port
    /// 22 is open, refused from there once it is revoked; then released.
    func floatingChecks(_ instance: String, prefix: [String], rule: [String], ruleOpen: inout Bool,
                        step: (String, () async throws -> String) async -> Bool) async -> Bool {
        var ip: String?
        var ok = await step("  floating address") {
            let r = try await tools.ec2(["allocate-address"])
            guard let a = JSONPath.string(r, "PublicIp") else { throw SmokeTools.Failure("no PublicIp in the answer") }
            ip = a
            try await tools.ec2(["associate-address", "--instance-id", instance, "--public-ip", a])
            return a
        }
        if ok, let a = ip {
            ok = await step("  port 22 open via \(a)") {
                let deadline = Date().addingTimeInterval(30)
                var here = false, there = false
                while Date() < deadline {
                    here = try await tools.portOpen(a, 22)
                    there = try await tools.portOpen(a, 22, prefix: prefix)
                    if here && there { return "from this host and from \(prefix.joined(separator: " "))" }
                    try await Task.sleep(for: .seconds(1))
                }
                throw SmokeTools.Failure("port 22 of \(a): from this host \(here ? "open" : "closed"), from the probe \(there ? "open" : "closed")")
            }
        }
        if ok, let a = ip {
            ok = await step("9 close port 22 (refused via probe)") {
                try await tools.ec2(["revoke-security-group-ingress"] + rule)
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    if !(try await tools.portOpen(a, 22, prefix: prefix)) { return "closed from \(prefix.joined(separator: " "))" }
                    try await Task.sleep(for: .seconds(1))
                }
                throw SmokeTools.Failure("port 22 of \(a) still open from the probe 30 s after revoke")
            }
            if ok { ruleOpen = false }
        }
        if let a = ip {
            let released = await step("  release address") {
                try await tools.ec2(["disassociate-address", "--public-ip", a])
                try await tools.ec2(["release-address", "--public-ip", a])
                return a
            }
            ok = ok && released
        }
        return ok
    }

    func swiftCredentials() throws -> SwiftClient.Credentials {
        let env = tools.environment
        guard let auth = env["ST_AUTH"], let user = env["ST_USER"], let key = env["ST_KEY"] else {
            throw SmokeTools.Failure("ST_AUTH, ST_USER and ST_KEY are not set (source novarc)")
        }
        return .init(authURL: auth, user: user, key: key)
    }

    func objectRoundTrip() async throws -> String {
        let client = SwiftClient(credentials: try swiftCredentials(), retries: 2)
        defer { client.shutdown() }
        let container = "smoke-\(id)"
        let body = (0..<(256 * 1024)).map { _ in UInt8.random(in: 0...255) }
        let file = (work as NSString).appendingPathComponent("\(id).obj")
        let back = file + ".back"
        defer { unlink(file); unlink(back) }
        guard FileManager.default.createFile(atPath: file, contents: Data(body)) else { throw SmokeTools.Failure("cannot write \(file)") }
        try await client.ensureContainer(container)
        _ = try await client.putObject(container, "object", file: file)
        _ = try await client.getObject(container, "object", to: back)
        guard FileManager.default.contents(atPath: back) == Data(body) else { throw SmokeTools.Failure("the object came back different") }
        _ = try await client.request("DELETE", SwiftClient.path(container, "object"))
        _ = try await client.request("DELETE", SwiftClient.path(container, nil))
        return "256 KiB in \(container), identical"
    }

    func backupRoundTrip() async throws -> String {
        let creds = try swiftCredentials()
        let source = (work as NSString).appendingPathComponent("\(id)-src"), restored = (work as NSString).appendingPathComponent("\(id)-restored")
        try FileManager.default.createDirectory(atPath: source + "/dir", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: restored) }
        for n in 0..<5 {
            let bytes = Data((0..<(20_000 * (n + 1))).map { _ in UInt8.random(in: 0...255) })
            guard FileManager.default.createFile(atPath: "\(source)/dir/file\(n)", contents: bytes) else { throw SmokeTools.Failure("cannot write the backup source") }
        }
        let env = ["SWIFT_AUTHURL": creds.authURL ?? "", "SWIFT_USERNAME": creds.user ?? "", "SWIFT_PASSWORD": creds.key ?? "",
                   "HOME": work, "XDG_CACHE_HOME": (work as NSString).appendingPathComponent("cache")]
        let target = "swift://smoke-\(id)-backup"
        let full = try await tools.run(tools.nimbus, ["backup", "full", "--no-encryption", source, target], timeout: 300, environment: env)
        guard full.succeeded else { throw SmokeTools.Failure("nimbus backup full: \(full.errorText)") }
        let restore = try await tools.run(tools.nimbus, ["backup", "restore", "--no-encryption", target, restored], timeout: 300, environment: env)
        guard restore.succeeded else { throw SmokeTools.Failure("nimbus backup restore: \(restore.errorText)") }
        for n in 0..<5 where FileManager.default.contents(atPath: "\(source)/dir/file\(n)") != FileManager.default.contents(atPath: "\(restored)/dir/file\(n)") {
            throw SmokeTools.Failure("file\(n) restored different")
        }
        let client = SwiftClient(credentials: creds, retries: 2)
        defer { client.shutdown() }
        for entry in (try? await client.list("smoke-\(id)-backup")) ?? [] {
            if let name = entry["name"] as? String { _ = try? await client.request("DELETE", SwiftClient.path("smoke-\(id)-backup", name)) }
        }
        _ = try? await client.request("DELETE", SwiftClient.path("smoke-\(id)-backup", nil))
        return "5 files backed up to \(target) and restored identical"
    }
}
