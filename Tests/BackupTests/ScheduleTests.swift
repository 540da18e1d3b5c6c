import Foundation
import Testing
@testable import Backup

/// Déjà Dup-style scheduling: when jobs are due, and a due job really backs up and prunes.
@Suite struct ScheduleTests {
    let job = BackupSchedule.Job(name: "home", source: "/src", target: "file:///t", every: "1D", fullEvery: "1W", keep: "2W")

    @Test func aJobThatNeverRanIsDueAndASuccessMakesItWaitItsPeriod() throws {
        var s = BackupSchedule()
        s.jobs = [job]
        #expect(try s.due(at: 1_000).map(\.name) == ["home"])
        var st = BackupSchedule.JobState()
        st.lastSuccess = 1_000
        st.lastAttempt = 1_000
        s.state["home"] = st
        #expect(try s.due(at: 1_000 + 86_399).isEmpty)
        #expect(try s.due(at: 1_000 + 86_400).map(\.name) == ["home"])
    }

    @Test func aFailedRunIsRetriedAfterTheRetryDelayNotAtEveryCheck() throws {
        var s = BackupSchedule()
        s.jobs = [job]
        var st = BackupSchedule.JobState()
        st.lastSuccess = 0
        st.lastAttempt = 100_000
        st.lastError = "target unreachable"
        s.state["home"] = st
        #expect(try s.nextRun(of: job) == 100_000 + s.retryAfter)
        #expect(try s.due(at: 100_000 + 60).isEmpty)
    }

    @Test func intervalsAreDuplicityIntervals() throws {
        #expect(try BackupSchedule.seconds("1D") == 86_400)
        #expect(try BackupSchedule.seconds("12h") == 43_200)
        #expect(try BackupSchedule.seconds("2W") == 14 * 86_400)
        #expect(throws: BackupError.self) { try BackupSchedule.seconds("now") }
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
    }
}
