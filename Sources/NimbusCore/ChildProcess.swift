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
        let outBox = DataBox(), errBox = DataBox()
        let readers = DispatchGroup()
        if !discardOutput {
            DispatchQueue.global().async(group: readers) { outBox.data = stdout.fileHandleForReading.readDataToEndOfFile() }
        }
        DispatchQueue.global().async(group: readers) { errBox.data = stderr.fileHandleForReading.readDataToEndOfFile() }
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
