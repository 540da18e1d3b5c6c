import Dispatch
import Foundation

/// Runs a program to completion with its output captured and a time limit (gpg for backups,
/// and the tools compute drives). Blocking: call it from a thread that may wait, never from an
/// event loop or Swift's shared concurrency threads.
public enum ChildProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data
        /// True when the time limit ended it.
        public let timedOut: Bool

        public var succeeded: Bool { status == 0 && !timedOut }
        public var errorText: String { String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    public struct LaunchError: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - input: written to the program's standard input, which is then closed.
    ///   - timeout: seconds before SIGTERM (and SIGKILL 5 s later); nil for none.
    public static func run(_ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil,
                           discardOutput: Bool = false, timeout: Double? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        p.standardInput = stdin
        p.standardOutput = discardOutput ? FileHandle.nullDevice : stdout
        p.standardError = stderr
        do { try p.run() } catch {
            throw LaunchError(description: "cannot run \(executable): \(error)")
        }
        // Both pipes are drained at once: a program that fills one while we wait on the other
        // would otherwise block forever.
        // Threads of their own, not Dispatch's global queues: those are a thread per core, and
        // callers blocked in `run` may be holding all of them.
        let outBox = DataBox(), errBox = DataBox()
        let readers = DispatchGroup()
        func read(_ pipe: Pipe, into box: DataBox) {
            readers.enter()
            Thread {
                box.data = pipe.fileHandleForReading.readDataToEndOfFile()
                readers.leave()
            }.start()
        }
        if !discardOutput { read(stdout, into: outBox) }
        read(stderr, into: errBox)
        let timer = TimeoutFlag()
        if let timeout {
            let pid = p.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                guard p.isRunning else { return }
                timer.fired = true
                kill(pid, SIGTERM)
                DispatchQueue.global().asyncAfter(deadline: .now() + 5) { if p.isRunning { kill(pid, SIGKILL) } }
            }
        }
        if let input { try? stdin.fileHandleForWriting.write(contentsOf: input) }
        try? stdin.fileHandleForWriting.close()
        readers.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: outBox.data, stderr: errBox.data, timedOut: timer.fired)
    }
}

extension ChildProcess {
    /// `run` for async callers: on a thread of its own (`onOwnThread`), awaited.
    public static func runAwaiting(_ executable: String, _ arguments: [String], input: Data? = nil,
                                   environment: [String: String]? = nil, discardOutput: Bool = false,
                                   timeout: Double? = nil) async throws -> Result {
        try await onOwnThread {
            try run(executable, arguments, input: input, environment: environment, discardOutput: discardOutput, timeout: timeout)
        }
    }
}

// @unchecked Sendable: each box is written by one reader thread and read only after
// `readers.wait()` (or the process's exit), which orders the accesses.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

// @unchecked Sendable: set once by the timer; read after waitUntilExit, which happens after the
// kill that follows the write.
private final class TimeoutFlag: @unchecked Sendable {
    var fired = false
}

extension ChildProcess {
    /// Runs a program that daemonizes itself (dnsmasq) and waits for its first process to exit,
    /// answering its exit status. Spawned with every signal unblocked and at its default action:
    /// Foundation's Process passes on the spawning thread's mask, and the threads of a Swift
    /// server block most signals — a daemon started that way would never see SIGHUP or SIGTERM.
    public static func runDaemon(_ executable: String, _ arguments: [String]) throws -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw LaunchError(description: "cannot run \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED/WEXITSTATUS are macros Swift does not import.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }
}

extension ChildProcess {
    /// The path of a program: as given when absolute, else the first executable of that name in
    /// `PATH`, then in the system directories (`/usr/sbin`, `/sbin`, … — often missing from an
    /// ordinary user's `PATH`, where dnsmasq, ip and libvirtd live). Nil when there is none.
    public static func executable(named name: String) -> String? {
        if name.hasPrefix("/") { return name }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in path + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }
}
