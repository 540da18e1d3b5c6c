import ArgumentParser
import Foundation
import NIOPosix
import NimbusCore

/// `nimbus smoke`: the Nova developers' 10-step workflow (plus an object round trip and a backup
/// and restore) against any Nimbus cloud, with nothing but what `novarc` sets: a step table with
/// timings, the console of any instance that failed, exit 1 on any failure.
struct SmokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoke",
        abstract: "Run the 10-step compute workflow (key pair … ssh … terminate) against the cloud novarc points at.",
        discussion: """
            Needs awscli (aws on PATH or --aws), ssh and nc. With --guest DIR (scripts/build-test-guest DIR) the test guest \
            is bundled, uploaded and registered as --image-name when no such image is registered yet.
            """)

    @Option(help: "Image to launch (default: the available image named --image-name).") var image: String?
    @Option(help: "Name of the image to launch or register.") var imageName: String = "nimbus-smoke-guest"
    @Option(help: "Test guest directory (vmlinuz, initrd.gz, disk.img) to register when the image is missing.") var guest: String?
    @Option(help: "Instance type.") var instanceType: String = "m1.tiny"
    @Option(help: "Runs one after another.") var `repeat`: Int = 1
    @Option(help: "Workflows at once in each run.") var parallel: Int = 1
    @Option(help: "Seconds to wait for running and for ssh.") var bootTimeout: Double = 300
    @Option(help: "Text the console must show once booted.") var bootMarker: String = "NIMBUS-GUEST-READY"
    @Option(help: "Command prefix to probe from elsewhere (e.g. 'ip netns exec client'): adds floating address and security group checks.")
    var probePrefix: String?
    @Flag(help: "Skip the object round trip.") var noObjects = false
    @Flag(help: "Skip the backup and restore.") var noBackup = false
    @Option(help: "awscli executable (default: aws on PATH).") var aws: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        guard (1...100).contains(self.repeat), (1...20).contains(parallel) else { throw ValidationError("--repeat is 1-100 and --parallel 1-20") }
        guard let endpoint = env["EC2_URL"] ?? env["AWS_ENDPOINT_URL_EC2"], !endpoint.isEmpty else {
            throw ValidationError("EC2_URL is not set: source the novarc of your credentials (nimbus manage project zipfile)")
        }
        guard let aws = aws ?? SmokeTools.which("aws") else { throw ValidationError("awscli is needed (pip install awscli) or give --aws PATH") }
        let pool = NIOThreadPool(numberOfThreads: min(32, 4 + 3 * parallel))
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        let work = NSTemporaryDirectory() + "nimbus-smoke-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tools = SmokeTools(aws: aws, endpoint: endpoint, nimbus: try AIOCommand.ownExecutable(), pool: pool, environment: env)
        let imageID = try await findImage(tools, work: work)
        say("image \(imageID); \(self.repeat) run(s) of \(parallel)")
        var failures = 0, successes = 0
        var sshTimes: [Double] = [], cloudTimes: [Double] = [], guestTimes: [Double] = [], uptimes: [Double] = []
        for round in 1...self.repeat {
            let options = SmokeRun.Options(imageID: imageID, instanceType: instanceType, bootTimeout: bootTimeout, bootMarker: bootMarker,
                                           probePrefix: probePrefix.map { $0.split(separator: " ").map(String.init) },
                                           ownGroup: parallel > 1, objects: !noObjects, backup: !noBackup)
            let results = await withTaskGroup(of: (Int, [SmokeRun.Step], SmokeRun.Timing, String?).self) { group in
                for n in 0..<parallel {
                    let id = "\(getpid())-\(round)-\(n)-\(UInt16.random(in: 0...UInt16.max))"
                    group.addTask {
                        let r = await SmokeRun(id: id, tools: tools, options: options, work: work).run()
                        return (n, r.steps, r.timing, r.console)
                    }
                }
                var out: [(Int, [SmokeRun.Step], SmokeRun.Timing, String?)] = []
                for await r in group { out.append(r) }
                return out.sorted { $0.0 < $1.0 }
            }
            for (n, steps, timing, console) in results {
                say("\nrun \(round)\(parallel > 1 ? "." + String(n + 1) : "")")
                for s in steps {
                    say("  \(s.ok ? "ok  " : "FAIL") \(s.name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(String(format: "%6.1f s", s.seconds))  \(s.detail)")
                }
                if steps.allSatisfy(\.ok) { successes += 1 } else {
                    failures += 1
                    if let console { say("  console of the failed instance:\n" + console.split(whereSeparator: \.isNewline).suffix(40).map { "    | \($0)" }.joined(separator: "\n")) }
                }
                if let ssh = timing.sshSeconds {
                    sshTimes.append(ssh)
                    if let running = timing.runningSeconds {
                        cloudTimes.append(running)
                        guestTimes.append(ssh - running)
                    }
                }
                if let boot = timing.bootSeconds { uptimes.append(boot) }
            }
        }
        func pct(_ values: [Double], _ p: Double) -> String {
            let v = values.sorted()
            guard !v.isEmpty else { return "-" }
            return String(format: "%.1f s", v[min(v.count - 1, Int((p * Double(v.count - 1)).rounded()))])
        }
        func line(_ what: String, _ values: [Double]) -> String {
            "  \(what.padding(toLength: 52, withPad: " ", startingAt: 0)) p50 \(pct(values, 0.5)), p90 \(pct(values, 0.9)), max \(pct(values, 1))"
        }
        say("\n\(successes) passed, \(failures) failed")
        say(line("RunInstances to ssh:", sshTimes))
        say(line("RunInstances to running (the cloud's part):", cloudTimes))
        say(line("running to ssh (the guest booting):", guestTimes))
        say(line("guest uptime at its boot marker:", uptimes))
        if failures > 0 { throw ExitCode(1) }
    }

    /// The image to launch: given, found by name, or registered from --guest.
    func findImage(_ tools: SmokeTools, work: String) async throws -> String {
        if let image { return image }
        let r = try await tools.ec2(["describe-images", "--filters", "Name=name,Values=\(imageName)"])
        for item in (JSONPath.get(r, ["Images"]) as? [Any]) ?? [] where JSONPath.string(item, "State") == "available" {
            if let id = JSONPath.string(item, "ImageId") { return id }
        }
        guard let guest else {
            throw ValidationError("no available image named \(imageName): give --image ID or --guest DIR (scripts/build-test-guest DIR)")
        }
        say("registering the test guest from \(guest) as \(imageName)")
        let bucket = "smoke-images-\(getpid())"
        var ids: [String] = []
        for (file, flag, name) in [("vmlinuz", "--kernel", "\(imageName)-kernel"), ("initrd.gz", "--ramdisk", "\(imageName)-ramdisk"), ("disk.img", "", imageName)] {
            let out = (work as NSString).appendingPathComponent("bundle-\(file)")
            var bundle = ["image", "bundle", "-i", (guest as NSString).appendingPathComponent(file), "-d", out]
            if !flag.isEmpty { bundle += [flag, "true"] }
            for (what, args) in [("bundle", bundle), ("upload-bundle", ["image", "upload-bundle", "-b", bucket, "-m", "\(out)/\(file).manifest.xml"])] {
                let r = try await tools.run(tools.nimbus, args, timeout: 600)
                guard r.succeeded else { throw ValidationError("nimbus image \(what) \(file): \(r.errorText)") }
            }
            var register = ["image", "register", "\(bucket)/\(file).manifest.xml", "--name", name, "--wait"]
            if flag.isEmpty, ids.count == 2 { register += ["--kernel", ids[0], "--ramdisk", ids[1]] }
            let r = try await tools.run(tools.nimbus, register, timeout: 600)
            guard r.succeeded, let id = String(decoding: r.stdout, as: UTF8.self).split(whereSeparator: { $0 == "\t" || $0 == "\n" || $0 == " " })
                .dropFirst().first.map(String.init) else {
                throw ValidationError("nimbus image register \(file): \(r.errorText)")
            }
            ids.append(id)
        }
        return ids[2]
    }
}

/// A line on standard output at once (print buffers when it is a file: a long soak shows its
/// runs as they end).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
