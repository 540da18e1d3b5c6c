import Foundation
import Testing
@testable import Backup

/// The scheduler's passes: results recorded, failures retried with backoff and reported,
/// notifications, `run NAME` / `now NAME`, and the lock between two runners.
@Suite struct ScheduleRunnerTests {
    let t0: Int64 = 1_800_000_000

    struct Boom: Error, CustomStringConvertible {
        var description: String { "target unreachable" }
    }

    @Test func aFailedRunIsNotifiedRetriedWithBackoffAndReportedAsFailingEvenWhenNothingIsDue() async throws {
        let f = try ScheduleFixture()
        try f.save([f.job()])
        let failing = f.runner(now: t0) { _, _, _ in throw Boom() }
        let first = try await failing.pass()
        #expect(first.outcomes == [.init(job: "laptop", outcome: .failed("target unreachable"))])
        #expect(f.notes.all == ["Backup failed: laptop: target unreachable"])
        let expected = "nimbus: job laptop failing since \(BackupSchedule.localTime(t0)): target unreachable; "
            + "next retry at \(BackupSchedule.localTime(t0 + 300))"
        #expect(first.failing == [expected])
        #expect(f.lines.all.contains { $0.hasPrefix("scheduler: job laptop failed (attempt 1): target unreachable") })

        // Before the retry time nothing runs, and the job is still reported as failing.
        let quiet = try await f.runner(now: t0 + 299) { _, _, _ in Issue.record("ran before its retry time"); throw Boom() }.pass()
        #expect(quiet.outcomes.isEmpty && quiet.failing == [expected])

        // The second failure doubles the wait.
        _ = try await f.runner(now: t0 + 300) { _, _, _ in throw Boom() }.pass()
        let st = try #require(try f.schedule().state["laptop"])
        #expect(st.consecutiveFailures == 2 && st.failingSince == t0 && st.lastAttempt == t0 + 300)
        #expect(try f.schedule().nextRun(of: f.job()) == t0 + 300 + 600)
        #expect(f.notes.all.count == 2)

        // A success clears it.
        let ok = try await f.runner(now: t0 + 900).pass()
        #expect(ok.outcomes == [.init(job: "laptop", outcome: .succeeded(warning: nil))] && ok.failing.isEmpty)
        #expect(try f.schedule().state["laptop"]?.lastSuccess == t0 + 900)
    }

    @Test func runNameRunsOnlyWhenDueAndNowRunsRegardless() async throws {
        let f = try ScheduleFixture()
        var done = BackupSchedule.JobState()
        done.recordSuccess(at: t0)
        try f.save([f.job(), f.job("other")], state: ["laptop": done])
        let runner = f.runner(now: t0 + 60)
        let notDue = try await runner.pass(.job("laptop"))
        #expect(notDue.outcomes == [.init(job: "laptop", outcome: .notDue(t0 + 86_400))])
        let forced = try await runner.pass(.now("laptop"))
        #expect(forced.outcomes == [.init(job: "laptop", outcome: .succeeded(warning: nil))])
        #expect(try f.schedule().state["laptop"]?.lastSuccess == t0 + 60)
        #expect(try f.schedule().state["other"] == nil)  // only the named job ran
        await #expect(throws: BackupError.self) { try await runner.pass(.now("nosuch")) }
    }

    @Test func aMissingPassphraseFailsTheJobWithALineNamingTheVariable() async throws {
        let f = try ScheduleFixture()
        try f.save([f.job(encryption: .passphraseEnv("PASSPHRASE"))])
        let report = try await f.runner(now: t0, environment: [:]) { _, _, _ in
            Issue.record("ran without a passphrase")
            return ScheduleFixture.stats(0)
        }.pass()
        #expect(report.outcomes == [.init(job: "laptop", outcome: .failed("PASSPHRASE is not set in the environment of `schedule run`"))])
        #expect(f.notes.all == ["Backup failed: laptop: PASSPHRASE is not set in the environment of `schedule run`"])
        // With it set, the backup gets the passphrase.
        let seen = ScheduleRecorder()
        _ = try await f.runner(now: t0 + 300, environment: ["PASSPHRASE": "s3cret"]) { _, now, gpg in
            seen.append(gpg?.passphrase ?? "none")
            return ScheduleFixture.stats(now)
        }.pass()
        #expect(seen.all == ["s3cret"])
    }

    @Test func aJobWithoutSuccessForItsNotifyDaysIsNotifiedOncePerDay() async throws {
        let f = try ScheduleFixture()
        var st = BackupSchedule.JobState()
        st.recordSuccess(at: t0)
        st.recordFailure(at: t0 + 8 * 86_400 - 10, error: "disk full")  // retry pending: not due now
        try f.save([f.job()], state: ["laptop": st])
        let now = t0 + 8 * 86_400
        _ = try await f.runner(now: now).pass()
        #expect(f.notes.all == ["Backup overdue: laptop: no successful backup for 7 days (last success \(BackupSchedule.localTime(t0))): disk full"])
        _ = try await f.runner(now: now + 60).pass()
        #expect(f.notes.all.count == 1)
        #expect(try f.schedule().state["laptop"]?.overdueNotified == now)
    }

    @Test func aSecondRunnerSkipsAJobWhoseLockIsHeldWithoutMarkingItFailed() async throws {
        let f = try ScheduleFixture()
        try f.save([f.job()])
        let lockPath = BackupSchedule.lockPath(for: f.path)
        #expect(lockPath == f.path + ".lock")
        guard case .acquired(let held) = try BackupScheduleLock.acquire(path: lockPath, job: "laptop", pid: 4242) else {
            Issue.record("the lock was not free")
            return
        }
        let runner = f.runner(now: t0) { _, _, _ in
            Issue.record("ran while another runner held the lock")
            return ScheduleFixture.stats(0)
        }
        let skipped = try await runner.pass()
        #expect(skipped.outcomes == [.init(job: "laptop", outcome: .busy(.init(pid: 4242, job: "laptop")))])
        #expect(f.lines.all.contains("scheduler: skipping job laptop: another scheduler is running job laptop (pid 4242)"))
        #expect(skipped.failing.isEmpty && f.notes.all.isEmpty)
        #expect(try f.schedule().state["laptop"] == nil)
        held.release()
        let ran = try await f.runner(now: t0).pass()
        #expect(ran.outcomes == [.init(job: "laptop", outcome: .succeeded(warning: nil))])
    }

    @Test func twoRunnersAtOnceNeverBackUpTheSameJobTwice() async throws {
        let f = try ScheduleFixture()
        try f.save([f.job()])
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let (proceed, proceedSignal) = AsyncStream<Void>.makeStream()
        let first = f.runner(now: t0) { _, now, _ in
            enteredSignal.yield()
            for await _ in proceed { break }  // hold the job until the test says so
            return ScheduleFixture.stats(now)
        }
        let running = Task { try await first.pass() }
        for await _ in entered { break }  // the first runner is inside the backup, holding the lock

        var second = f.runner(now: t0) { _, _, _ in
            Issue.record("the second runner backed up the job too")
            return ScheduleFixture.stats(0)
        }
        second.pid = 999_999
        let skipped = try await second.pass()
        #expect(skipped.outcomes == [.init(job: "laptop", outcome: .busy(.init(pid: getpid(), job: "laptop")))])
        #expect(f.lines.all.contains("scheduler: skipping job laptop: another scheduler is running job laptop (pid \(getpid()))"))

        proceedSignal.yield()
        let done = try await running.value
        #expect(done.outcomes == [.init(job: "laptop", outcome: .succeeded(warning: nil))])
        // Once the first has finished, the job is no longer due for the second.
        #expect(try await second.pass().outcomes.isEmpty)
        #expect(try f.schedule().state["laptop"]?.lastSuccess == t0)
    }

    @Test func theDesktopNotifierNeedsNotifySendOnPathAndASessionBus() throws {
        let f = try ScheduleFixture()
        let bin = "\(f.root)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let out = "\(f.root)/notified"
        try "#!/bin/sh\nprintf '%s\\n' \"$@\" > '\(out)'\n".write(toFile: "\(bin)/notify-send", atomically: true, encoding: .utf8)
        chmod("\(bin)/notify-send", 0o755)
        let env = ["PATH": "/nonexistent:\(bin)", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"]
        #expect(BackupScheduleNotifier.notifySend(environment: env) == "\(bin)/notify-send")
        #expect(BackupScheduleNotifier.notifySend(environment: ["PATH": bin]) == nil)
        #expect(BackupScheduleNotifier.notifySend(environment: ["PATH": "/nonexistent", "DBUS_SESSION_BUS_ADDRESS": "x"]) == nil)
        BackupScheduleNotifier.desktop(environment: env).notify(title: "Backup failed", body: "laptop: target unreachable")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "-a\nNimbus\nBackup failed\nlaptop: target unreachable\n")
    }
}
