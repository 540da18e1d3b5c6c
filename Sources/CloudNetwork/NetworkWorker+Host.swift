import Foundation
import NimbusCore

/// What the network worker does to the host: the bridge, dnsmasq, iptables, addresses. All of it
/// blocking (child processes): on the worker's pool only.
extension NetworkWorker {
    static let ipTool = ChildProcess.executable(named: "ip") ?? "/sbin/ip"

    @discardableResult
    static func ip(_ args: [String]) throws -> String {
        let r = try ChildProcess.run(ipTool, args, timeout: 30)
        guard r.succeeded else { throw NetworkError("ip \(args.joined(separator: " ")): \(r.errorText)") }
        return String(decoding: r.stdout, as: UTF8.self)
    }

    /// The bridge up with the gateway address, and forwarding on (in this network namespace).
    func setUpBridge() throws {
        if (try? Self.ip(["link", "show", "dev", config.bridge])) == nil {
            try Self.ip(["link", "add", config.bridge, "type", "bridge"])
        }
        try Self.ip(["addr", "replace", "\(config.gateway)/\(config.network.prefix)", "dev", config.bridge])
        try Self.ip(["link", "set", config.bridge, "up"])
        if let f = FileHandle(forWritingAtPath: "/proc/sys/net/ipv4/ip_forward") {
            try? f.write(contentsOf: Data("1\n".utf8))
            try? f.close()
        }
    }

    /// dnsmasq running for the bridge (started if it is not), told to re-read its hosts file.
    /// It runs as a daemon of its own, known by its pid file: a long-lived child of ours would
    /// stall Foundation's Process, whose reaper waits on every child it launched.
    func ensureDnsmasq(reload: Bool) throws {
        if let pid = runningDnsmasq() {
            if reload { kill(pid, SIGHUP) }
            return
        }
        let first = config.network.hosts.first ?? config.gateway
        let status = try ChildProcess.runDaemon("/usr/sbin/dnsmasq", [
            "--strict-order", "--bind-interfaces", "--interface=\(config.bridge)", "--except-interface=lo",
            "--listen-address=\(config.gateway)", "--port=0", "--conf-file=",
            "--dhcp-range=\(first),static,\(config.network.netmask),\(config.leaseSeconds)s",
            "--dhcp-hostsfile=\(path("dhcp-hosts"))", "--dhcp-leasefile=\(path("leases"))", "--dhcp-no-override",
            "--dhcp-authoritative", "--dhcp-option=3,\(config.gateway)", "--pid-file=\(path("dnsmasq.pid"))",
            "--log-facility=\(path("dnsmasq.log"))", "--log-dhcp",
            // Our state directory is private (0700): dnsmasq keeps root to read its hosts file on SIGHUP.
            "--user=root", "--group=root",
        ])
        guard status == 0, let pid = runningDnsmasq() else {
            throw NetworkError("dnsmasq did not start (exit status \(status)); see \(path("dnsmasq.log"))")
        }
        logger.notice("dnsmasq started on \(config.bridge) (pid \(pid))")
    }

    /// The pid of our dnsmasq when it runs.
    func runningDnsmasq() -> pid_t? {
        guard let text = try? String(contentsOfFile: path("dnsmasq.pid"), encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, kill(pid, 0) == 0,
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains(path("dnsmasq.pid")) else { return nil }
        return pid
    }

    func stopDnsmasq() {
        guard let pid = runningDnsmasq() else { return }
        kill(pid, SIGTERM)
    }

    /// Our instance chains in the filter table now.
    func ourChains() throws -> [String] {
        let r = try ChildProcess.run("/usr/sbin/iptables", ["-w", "-t", "filter", "-S"], timeout: 30)
        guard r.succeeded else { throw NetworkError("iptables -S: \(r.errorText)") }
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count == 2 && f[0] == "-N" && f[1].hasPrefix("\(config.prefix)-i") ? String(f[1]) : nil
        }
    }

    /// Both tables in one `iptables-restore --noflush` each (atomic per table), under a host-wide
    /// lock so two writers (two workers, two instances at the same instant) never interleave;
    /// then our hooks into the built-in chains, each added once.
    func applyFirewall(_ plan: FirewallPlan, filter: String, nat: String) throws {
        try FileLock.withLock(FileLock.directory + "/nimbus-iptables.lock") {
            for table in [filter, nat] {
                let r = try ChildProcess.run("/usr/sbin/iptables-restore", ["-w", "--noflush"], input: Data(table.utf8), timeout: 60)
                guard r.succeeded else { throw NetworkError("iptables-restore: \(r.errorText)") }
            }
            for hook in plan.hooks {
                let table = Array(hook[0...1]), rest = Array(hook[2...])
                let check = try ChildProcess.run("/usr/sbin/iptables", ["-w"] + table + ["-C"] + rest, timeout: 30)
                if !check.succeeded {
                    let add = try ChildProcess.run("/usr/sbin/iptables", ["-w"] + table + ["-I", rest[0], "1"] + rest.dropFirst(), timeout: 30)
                    guard add.succeeded else { throw NetworkError("iptables -I \(rest[0]): \(add.errorText)") }
                }
            }
        }
    }
}

/// An exclusive `flock` on a file, held while a body runs (between processes of one host).
enum FileLock {
    static let directory = FileManager.default.fileExists(atPath: "/run/lock") ? "/run/lock" : NSTemporaryDirectory()

    static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NetworkError("cannot open the lock \(path)") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw NetworkError("cannot lock \(path)") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

/// The claim of one bridge by one network worker for as long as it runs: a second worker for the
/// same bridge is refused with a clear message instead of fighting over dnsmasq and the rules.
final class BridgeLock: Sendable {
    let fd: Int32

    init(bridge: String) throws {
        let path = FileLock.directory + "/nimbus-network-\(bridge).lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NetworkError("cannot open the lock \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw NetworkError("another network worker manages the bridge \(bridge) (it holds \(path))")
        }
    }

    func release() { releaseFlockAndClose(fd) }
}
