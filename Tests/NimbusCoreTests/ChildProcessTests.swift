import Foundation
import NimbusCore
import Testing

@Suite struct ChildProcessTests {
    @Test func outputOnBothPipesIsCapturedWithoutDeadlock() throws {
        // 1 MiB on each pipe: more than a pipe buffer, so reading one while the other fills would hang.
        let r = try ChildProcess.run("/bin/sh", ["-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; exit 3"])
        #expect(r.status == 3 && !r.timedOut && !r.succeeded)
        #expect(r.stdout.count == 1 << 20 && r.stderr.count == 1 << 20)
    }

    @Test func inputIsFedAndTheTimeLimitEndsAHungProgram() throws {
        let echo = try ChildProcess.run("/bin/cat", [], input: Data("hello".utf8))
        #expect(echo.succeeded && String(decoding: echo.stdout, as: UTF8.self) == "hello")
        let hung = try ChildProcess.run("/bin/sleep", ["60"], timeout: 0.5)
        #expect(hung.timedOut && !hung.succeeded)
        #expect(throws: ChildProcess.LaunchError.self) { _ = try ChildProcess.run("/nonexistent/tool", []) }
    }

    @Test(.timeLimit(.minutes(1)))
    func manyAwaitedRunsWaitTogetherWhileAnotherTaskRuns() async throws {
        // Twice as many programs as there are cores, each waiting for a flag file that another
        // task creates while they all wait: every run, its pipes and the other task progress.
        let flag = NSTemporaryDirectory() + "flag-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: flag) }
        let runs = (0..<(2 * ProcessInfo.processInfo.activeProcessorCount)).map { _ in
            Task { try await ChildProcess.runAwaiting("/bin/sh", ["-c", "while [ ! -e '\(flag)' ]; do sleep 0.05; done"]) }
        }
        try await Task.sleep(for: .milliseconds(200))
        let other = Task { FileManager.default.createFile(atPath: flag, contents: nil) }
        #expect(await other.value)
        for run in runs { #expect(try await run.value.succeeded) }
        let echo = try await ChildProcess.runAwaiting("/bin/cat", [], input: Data("hi".utf8))
        #expect(String(decoding: echo.stdout, as: UTF8.self) == "hi")
    }

    struct Sample: Decodable {
        struct Inner: Decodable { let port: Int }
        let host: String
        let inner: Inner
    }

    @Test func configErrorsNameTheFileAndTheKey() throws {
        let path = NSTemporaryDirectory() + "cfg-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func reason(_ json: String) -> String {
            try? Data(json.utf8).write(to: URL(fileURLWithPath: path))
            do { _ = try ConfigFile.load(Sample.self, from: path) } catch { return "\(error)" }
            return "loaded"
        }
        #expect(reason(#"{"host": "h", "inner": {"port": 1}}"#) == "loaded")
        #expect(reason(#"{"host": "h", "inner": {}}"#) == "config \(path): 'inner.port' is missing")
        #expect(reason(#"{"host": 5, "inner": {"port": 1}}"#) == "config \(path): 'host' has the wrong type")
        #expect(reason("{").hasPrefix("config \(path): not valid JSON"))
        #expect("\(String(describing: try? ConfigFile.load(Sample.self, from: "/nonexistent")))" == "nil")
    }
}
