import Foundation
import NimbusCore

/// The libvirtd (and virtlogd) `nimbus aio --compute` runs for its compute worker when it owns
/// them (root, and no `--libvirt-uri` given): its own socket under the data directory, qemu run
/// as root through a qemu.conf bind-mounted in a mount namespace of its own (libvirt's default
/// user cannot open /dev/kvm on these machines, which makes it re-probe qemu on every call),
/// stopped by PID when the cloud stops. Running guests outlive it: the next start finds them.
public struct AIOLibvirt: Sendable {
    public let directory: String
    public let libvirtdPID: pid_t
    /// Nil when a virtlogd was running already (not ours to stop).
    public let virtlogdPID: pid_t?

    public var uri: String { "qemu:///system?socket=\(directory)/run/libvirt-sock" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts virtlogd (unless one runs) and libvirtd; waits until libvirtd answers.
    public static func start(dataDir: String) throws -> AIOLibvirt {
        let dir = "\(dataDir)/libvirt"
        try FileManager.default.createDirectory(atPath: "\(dir)/run", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Data("""
            unix_sock_dir = "\(dir)/run"
            unix_sock_rw_perms = "0700"
            auth_unix_rw = "none"
            auth_unix_ro = "none"

            """.utf8).write(to: URL(fileURLWithPath: "\(dir)/libvirtd.conf"))
        try Data("user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n".utf8)
            .write(to: URL(fileURLWithPath: "\(dir)/qemu.conf"))
        var virtlogd: pid_t?
        if !isRunning("virtlogd") {
            unlink("\(dir)/virtlogd.pid")
            guard try ChildProcess.runDaemon(tool("virtlogd"), ["-d", "-p", "\(dir)/virtlogd.pid"]) == 0 else {
                throw Failure(description: "virtlogd did not start (install libvirt-daemon-system)")
            }
            virtlogd = waitForPID("\(dir)/virtlogd.pid")
        }
        if let old = readPID("\(dir)/libvirtd.pid"), kill(old, 0) == 0 {
            return AIOLibvirt(directory: dir, libvirtdPID: old, virtlogdPID: virtlogd)  // ours from a run that was killed
        }
        let command = "mount --bind '\(dir)/qemu.conf' /etc/libvirt/qemu.conf && exec \(tool("libvirtd")) -d -f '\(dir)/libvirtd.conf' -p '\(dir)/libvirtd.pid'"
        guard try ChildProcess.runDaemon("/usr/bin/unshare", ["-m", "/bin/sh", "-c", command]) == 0, let pid = waitForPID("\(dir)/libvirtd.pid") else {
            throw Failure(description: "libvirtd did not start (is another libvirtd running? install libvirt-daemon-system)")
        }
        let started = AIOLibvirt(directory: dir, libvirtdPID: pid, virtlogdPID: virtlogd)
        for _ in 0..<150 where !FileManager.default.fileExists(atPath: "\(dir)/run/libvirt-sock") { usleep(100_000) }
        return started
    }

    /// Stops libvirtd and (if ours) virtlogd: SIGTERM, SIGKILL after 20 s.
    public func stop() {
        for pid in [libvirtdPID] + (virtlogdPID.map { [$0] } ?? []) {
            kill(pid, SIGTERM)
            for _ in 0..<200 where kill(pid, 0) == 0 { usleep(100_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
    }

    static func tool(_ name: String) -> String { ChildProcess.executable(named: name) ?? name }

    static func readPID(_ file: String) -> pid_t? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func waitForPID(_ file: String) -> pid_t? {
        for _ in 0..<100 {
            if let pid = readPID(file) { return pid }
            usleep(100_000)
        }
        return nil
    }

    static func isRunning(_ name: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { entry in
            guard Int32(entry) != nil, let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8) else { return false }
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }
}
