import Foundation
import Synchronization
import Testing
@testable import Backup

/// Déjà Dup-style scheduling: when jobs are due, how failures back off, what older schedule
/// files load as, and that a due job really backs up and prunes.
@Suite struct ScheduleTests {
    let job = BackupSchedule.Job(name: "home", source: "/src", target: "file:///t", every: "1D", fullEvery: "1W", keep: "2W")

    @Test func aJobThatNeverRanIsDueAndASuccessMakesItWaitItsPeriod() throws {
        var s = BackupSchedule()
        s.jobs = [job]
        #expect(try s.due(at: 1_000).map(\.name) == ["home"])
        var st = BackupSchedule.JobState()
        st.recordSuccess(at: 1_000)
        s.state["home"] = st
        #expect(try s.due(at: 1_000 + 86_399).isEmpty)
        #expect(try s.due(at: 1_000 + 86_400).map(\.name) == ["home"])
    }

    @Test func failedRunsAreRetriedWithExponentialBackoffCappedAtThePeriod() throws {
        var s = BackupSchedule()
        s.jobs = [job]
        #expect(s.firstRetry == 300)
        #expect((1...4).map { s.retryDelay(afterFailures: $0, period: 86_400) } == [300, 600, 1_200, 2_400])
        #expect(s.retryDelay(afterFailures: 10, period: 86_400) == 86_400)
        #expect(s.retryDelay(afterFailures: 500, period: 86_400) == 86_400)
        #expect(s.retryDelay(afterFailures: 5, period: 3_600) == 3_600)
        var st = BackupSchedule.JobState()
        st.recordSuccess(at: 0)
        st.recordFailure(at: 100_000, error: "target unreachable")
        st.recordFailure(at: 100_300, error: "target unreachable")
        s.state["home"] = st
        #expect(st.consecutiveFailures == 2 && st.failingSince == 100_000)
        #expect(try s.nextRun(of: job) == 100_300 + 600)
        #expect(try s.due(at: 100_300 + 599).isEmpty)
        #expect(try s.due(at: 100_300 + 600).map(\.name) == ["home"])
        st.recordSuccess(at: 101_000)
        s.state["home"] = st
        #expect(st.consecutiveFailures == 0 && st.failingSince == nil && st.lastError == nil)
        #expect(try s.nextRun(of: job) == 101_000 + 86_400)
    }

    @Test func intervalsAreDuplicityIntervals() throws {
        #expect(try BackupSchedule.seconds("1D") == 86_400)
        #expect(try BackupSchedule.seconds("12h") == 43_200)
        #expect(try BackupSchedule.seconds("5m") == 300)
        #expect(try BackupSchedule.seconds("2W") == 14 * 86_400)
        for notAnInterval in ["now", "1", "2026-11-25", "", "D"] {
            #expect(throws: BackupError.self) { try BackupSchedule.seconds(notAnInterval) }
        }
    }

    @Test func aScheduleFileOfTheOlderFormatStillLoads() throws {
        let legacy = """
            {
              "jobs" : [
                { "encrypt" : true, "every" : "1D", "exclude" : [ "/src/tmp" ], "include" : [ "/src/a" ], "keep" : "2W",
                  "name" : "home", "source" : "/src", "target" : "file:///t", "volsizeMiB" : 50 },
                { "encrypt" : false, "every" : "1W", "exclude" : [ ], "include" : [ ], "name" : "work", "source" : "/w", "target" : "file:///w" }
              ],
              "retryAfter" : 3600,
              "state" : {
                "home" : { "lastAttempt" : 2000, "lastError" : "target unreachable", "lastSuccess" : 1000 },
                "work" : { "lastAttempt" : 5000, "lastError" : "3 files could not be read", "lastSuccess" : 5000 }
              }
            }
            """
        let s = try JSONDecoder().decode(BackupSchedule.self, from: Data(legacy.utf8))
        #expect(s.firstRetry == 300 && s.notifyAfterDays == 7)
        let home = try #require(s.job(named: "home"))
        #expect(home.encryption == .passphraseEnv("PASSPHRASE"))
        #expect(home.volsizeMiB == 50 && home.keep == "2W" && !home.allowSourceMismatch && home.selection == nil)
        #expect(home.rules.count == 2 && home.archiveDir == nil && home.backupName == nil && home.added == nil)
        #expect(s.job(named: "work")?.encryption == .unencrypted)
        // A failed attempt after the last success: failing once. An error kept after a success: a warning.
        #expect(s.state["home"]?.consecutiveFailures == 1 && s.state["home"]?.failingSince == 2000)
        #expect(try s.nextRun(of: home) == 2000 + 300)
        #expect(s.state["work"]?.isFailing == false && s.state["work"]?.lastWarning == "3 files could not be read")
        #expect(s.state["work"]?.lastError == nil)
    }

    @Test func savedSchedulesRoundTripAndKeepTheFieldsOlderVersionsRequire() throws {
        var s = BackupSchedule()
        s.jobs = [BackupSchedule.Job(name: "laptop", source: "/home/u", target: "file:///b", every: "12h",
                                     encryption: .passphraseFile("/home/u/.pw"), workingDirectory: "/home/u",
                                     selection: ["- **/cache", "+ /home/u/docs"], archiveDir: "/c", backupName: "lap",
                                     allowSourceMismatch: true, notifyAfterDays: 3, added: 42)]
        var st = BackupSchedule.JobState()
        st.recordFailure(at: 7, error: "boom")
        s.state["laptop"] = st
        s.notifyAfterDays = 2
        let data = try JSONEncoder().encode(s)
        let back = try JSONDecoder().decode(BackupSchedule.self, from: data)
        #expect(back.jobs == s.jobs && back.state == s.state && back.notifyAfterDays == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let job = try #require((object["jobs"] as? [[String: Any]])?.first)
        #expect(job["encrypt"] as? Bool == true && job["include"] is [Any] && job["exclude"] is [Any])
    }

    @Test func runningDueJobsMakesAFullThenIncrementalsThenANewChainAndPrunes() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sched-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try "v1".write(toFile: "\(root)/src/f", atomically: true, encoding: .utf8)
        var j = job
        j.source = "\(root)/src"
        j.target = "file://\(root)/t"
        j.encrypt = false
        let day: Int64 = 86_400, t0: Int64 = 1_800_000_000
        for n in 0..<24 {  // one run a day for 24 days
            try "v\(n)".write(toFile: "\(root)/src/f", atomically: true, encoding: .utf8)
            _ = try await BackupSchedule.run(j, now: t0 + Int64(n) * day, cacheRoot: "\(root)/cache", gpg: nil)
        }
        let chains = BackupCollection(names: try FileManager.default.contentsOfDirectory(atPath: "\(root)/t")).chains
        // A new full every week; chains that ended more than two weeks ago are gone.
        #expect(chains.allSatisfy { $0.sets.count <= 8 })
        #expect(chains.count >= 2 && chains.count <= 3)
        #expect(chains.first!.end >= t0 + 23 * day - 14 * day)
        let summary = try await BackupScheduleStatus.chainSummary(of: j.target)
        #expect(summary.chains == chains.count && summary.sets == chains.reduce(0) { $0 + $1.sets.count })
        #expect(summary.newestSet == t0 + 23 * day)
    }
}

/// Lines or notifications collected from `@Sendable` callbacks.
final class ScheduleRecorder: Sendable {
    private let items = Mutex<[String]>([])
    func append(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}

/// A schedule file in a temporary directory and runners over it with a fixed clock, recorded
/// output and recorded notifications.
final class ScheduleFixture: Sendable {
    let root: String
    let lines = ScheduleRecorder()
    let notes = ScheduleRecorder()
    var path: String { "\(root)/nimbus/backup-schedule.json" }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("sched-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(root)/nimbus", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// A job backing up nothing real (the runner's `perform` is replaced in tests).
    func job(_ name: String = "laptop", every: String = "1D", encryption: BackupSchedule.Job.Encryption = .unencrypted,
             added: Int64? = nil) -> BackupSchedule.Job {
        BackupSchedule.Job(name: name, source: "\(root)/src", target: "file://\(root)/t", every: every, encryption: encryption, added: added)
    }

    func save(_ jobs: [BackupSchedule.Job], state: [String: BackupSchedule.JobState] = [:]) throws {
        var s = BackupSchedule()
        s.jobs = jobs
        s.state = state
        try s.save(path)
    }

    func schedule() throws -> BackupSchedule { try BackupSchedule.load(path) }

    func runner(now: Int64, environment: [String: String] = [:],
                perform: @escaping BackupScheduleRunner.Perform = { _, now, _ in ScheduleFixture.stats(now) }) -> BackupScheduleRunner {
        var r = BackupScheduleRunner(schedulePath: path, environment: environment,
                                     notifier: BackupScheduleNotifier { [notes] title, body in notes.append("\(title): \(body)") },
                                     output: { [lines] in lines.append($0) }, clock: { now })
        r.perform = perform
        return r
    }

    static func stats(_ time: Int64) -> BackupWriter.Stats {
        var s = BackupWriter.Stats()
        s.time = time
        return s
    }
}
