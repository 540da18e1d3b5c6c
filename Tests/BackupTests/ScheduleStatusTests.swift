import Foundation
import Testing
@testable import Backup

/// `schedule status` for monitoring: OK, failing or overdue per job, and the exit code.
@Suite struct ScheduleStatusTests {
    let t0: Int64 = 1_800_000_000
    let day: Int64 = 86_400

    func succeeded(at t: Int64) -> BackupSchedule.JobState {
        var st = BackupSchedule.JobState()
        st.recordSuccess(at: t)
        return st
    }

    @Test func aJobIsOKWithinTwicePeriodOverdueAfterAndFailingAfterAFailedAttempt() throws {
        let f = try ScheduleFixture()
        try f.save([f.job()], state: ["laptop": succeeded(at: t0)])
        var e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + 2 * day)
        #expect(e.statuses.map(\.health) == [.ok] && e.exitCode == 0 && e.error == nil)
        e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + 2 * day + 1)
        #expect(e.statuses.map(\.health) == [.overdue] && e.exitCode == 1)

        var failing = succeeded(at: t0)
        failing.recordFailure(at: t0 + day, error: "target unreachable")
        try f.save([f.job(), f.job("other")], state: ["laptop": failing, "other": succeeded(at: t0 + day)])
        e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + day + 60)
        #expect(e.statuses.map(\.health) == [.failing, .ok] && e.exitCode == 1)
        #expect(e.statuses[0].lines(now: t0 + day + 60).contains("  last error: target unreachable"))
        // Asking about the healthy job alone: OK.
        e = BackupScheduleStatus.evaluate(schedulePath: f.path, job: "other", now: t0 + day + 60)
        #expect(e.statuses.map(\.job.name) == ["other"] && e.exitCode == 0)
    }

    @Test func maxAgeReplacesTwiceThePeriod() throws {
        let f = try ScheduleFixture()
        try f.save([f.job(every: "1W")], state: ["laptop": succeeded(at: t0)])
        #expect(BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + 3 * day).exitCode == 0)
        let e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + 3 * day, maxAgeDays: 2)
        #expect(e.statuses.map(\.health) == [.overdue] && e.exitCode == 1)
    }

    @Test func aJobThatNeverSucceededCountsFromWhenItWasAdded() throws {
        let f = try ScheduleFixture()
        try f.save([f.job(added: t0), f.job("legacy")])
        let e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0 + day)
        #expect(e.statuses.map(\.health) == [.ok, .overdue])
    }

    @Test func anUnreadableScheduleOrUnknownJobExitsTwo() throws {
        let f = try ScheduleFixture()
        try "{ not json".write(toFile: f.path, atomically: true, encoding: .utf8)
        var e = BackupScheduleStatus.evaluate(schedulePath: f.path, now: t0)
        #expect(e.exitCode == 2 && e.error?.contains("cannot read the schedule") == true)
        try f.save([f.job()])
        e = BackupScheduleStatus.evaluate(schedulePath: f.path, job: "nosuch", now: t0)
        #expect(e.exitCode == 2 && e.error?.contains("no job named nosuch") == true)
        #expect(BackupScheduleStatus.evaluate(schedulePath: "\(f.root)/absent.json", now: t0).exitCode == 0)  // no jobs: nothing wrong
    }
}
