import Foundation

/// One pass of the scheduler over a schedule file: runs the jobs that are due (or one job),
/// records each result in the file, backs off after failures, tells the user through the
/// notifier, and answers which jobs are failing.
///
/// Each job runs under `BackupScheduleLock` (`<schedule>.lock`): a job found locked by another
/// runner is skipped, not marked failed. The clock, the environment, the notifier and the
/// backup itself are injectable, so the scheduling is testable without waiting or a target.
public struct BackupScheduleRunner: Sendable {
    /// Backs up one job at `now` with the given encryption (`BackupSchedule.run` by default).
    public typealias Perform = @Sendable (_ job: BackupSchedule.Job, _ now: Int64, _ gpg: GPG?) async throws -> BackupWriter.Stats

    /// What a pass runs.
    public enum Which: Sendable, Equatable {
        /// Every job that is due.
        case due
        /// This job, if it is due.
        case job(String)
        /// This job, due or not.
        case now(String)
    }

    /// What happened to one job in a pass.
    public enum Outcome: Sendable, Equatable {
        case succeeded(warning: String?)
        case failed(String)
        /// Another runner holds the lock (its holder, when known); the job's state is untouched.
        case busy(BackupScheduleLock.Holder?)
        /// Not due before this time.
        case notDue(Int64)
        /// Removed from the schedule while the pass ran.
        case removed
    }

    public struct JobOutcome: Sendable, Equatable {
        public var job: String
        public var outcome: Outcome
        public init(job: String, outcome: Outcome) {
            self.job = job
            self.outcome = outcome
        }
    }

    public struct Report: Sendable {
        public var outcomes: [JobOutcome] = []
        /// One line per job asked about whose last attempt failed:
        /// `nimbus: job laptop failing since …: <error>; next retry at …`.
        public var failing: [String] = []
    }

    public var schedulePath: String
    public var environment: [String: String]
    public var notifier: BackupScheduleNotifier
    /// Progress lines (`scheduler: …`), one per start, result and skip.
    public var output: @Sendable (String) -> Void
    public var clock: @Sendable () -> Int64
    public var perform: Perform
    public var pid: Int32 = getpid()

    /// A runner that backs up for real with `BackupSchedule.run` (`cacheRoot`: the default
    /// `--archive-dir` of jobs that have none).
    public init(schedulePath: String, cacheRoot: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                notifier: BackupScheduleNotifier? = nil,
                output: @escaping @Sendable (String) -> Void = { _ in },
                onWarning: (@Sendable (String) -> Void)? = nil,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.schedulePath = schedulePath
        self.environment = environment
        self.notifier = notifier ?? .desktop(environment: environment)
        self.output = output
        self.clock = clock
        self.perform = { job, now, gpg in
            try await BackupSchedule.run(job, now: now, cacheRoot: cacheRoot, gpg: gpg, onWarning: onWarning)
        }
    }

    /// Runs a pass. Throws when the schedule cannot be read or written, or `which` names no job.
    public func pass(_ which: Which = .due) async throws -> Report {
        let schedule = try BackupSchedule.load(schedulePath)
        var report = Report()
        var names: [String] = []
        var asked: [String] = schedule.jobs.map(\.name)
        switch which {
        case .due:
            names = try schedule.due(at: clock()).map(\.name)
        case .job(let name), .now(let name):
            guard let job = schedule.job(named: name) else { throw BackupError("no job named \(name) in \(schedulePath)") }
            asked = [name]
            let next = try schedule.nextRun(of: job)
            if which == .now(name) || next <= clock() {
                names = [name]
            } else {
                report.outcomes.append(JobOutcome(job: name, outcome: .notDue(next)))
            }
        }
        for name in names {
            let outcome = try await runLocked(name, force: which == .now(name))
            report.outcomes.append(JobOutcome(job: name, outcome: outcome))
        }
        try notifyOverdue()
        let final = try BackupSchedule.load(schedulePath)
        report.failing = try asked.compactMap { name in try final.job(named: name).flatMap { try failingLine($0, in: final) } }
        return report
    }

    /// `nimbus: job laptop failing since …: <error>; next retry at …`, or nil when the job's
    /// last attempt succeeded.
    public func failingLine(_ job: BackupSchedule.Job, in schedule: BackupSchedule) throws -> String? {
        guard let st = schedule.state[job.name], st.isFailing else { return nil }
        let since = st.failingSince ?? st.lastAttempt ?? 0
        return "nimbus: job \(job.name) failing since \(BackupSchedule.localTime(since)): \(st.lastError ?? "unknown error"); "
            + "next retry at \(BackupSchedule.localTime(try schedule.nextRun(of: job)))"
    }

    /// Runs `name` under the lock, if it is still due once the lock is held (or `force`).
    private func runLocked(_ name: String, force: Bool) async throws -> Outcome {
        let lockPath = BackupSchedule.lockPath(for: schedulePath)
        let lock: BackupScheduleLock
        switch try BackupScheduleLock.acquire(path: lockPath, job: name, pid: pid) {
        case .busy(let holder):
            output("scheduler: skipping job \(name): another scheduler is running "
                   + (holder.map { $0.job == "-" ? "(pid \($0.pid))" : "job \($0.job) (pid \($0.pid))" } ?? "(it holds \(lockPath))"))
            return .busy(holder)
        case .acquired(let l):
            lock = l
        }
        defer { lock.release() }
        // Another runner may have run the job while this one waited: look again under the lock.
        var schedule = try BackupSchedule.load(schedulePath)
        guard let job = schedule.job(named: name) else { return .removed }
        let now = clock()
        let next = try schedule.nextRun(of: job)
        if !force && next > now { return .notDue(next) }
        output("scheduler: job \(name): backing up \(job.source) to \(job.target)")
        var outcome: Outcome
        do {
            try BackupSchedule.checkCredentials(of: job, environment: environment)
            let gpg = try BackupSchedule.gpg(for: job, environment: environment)
            let stats = try await perform(job, now, gpg)
            let warning = stats.errors > 0 ? "\(stats.errors) files could not be read" : nil
            outcome = .succeeded(warning: warning)
            output("scheduler: job \(name): stored set \(DuplicityTime.format(stats.time)): \(stats.newFiles) new, "
                   + "\(stats.changedFiles) changed, \(stats.deletedFiles) deleted files, "
                   + "\(BackupWriter.Stats.bytes(stats.totalDestinationSizeChange)) stored" + (warning.map { "; warning: \($0)" } ?? ""))
        } catch {
            outcome = .failed(Self.message(error, job: name))
        }
        // Reload before saving: `add`/`remove` may have run meanwhile.
        schedule = try BackupSchedule.load(schedulePath)
        guard schedule.job(named: name) != nil else { return outcome }
        var st = schedule.state[name] ?? .init()
        switch outcome {
        case .succeeded(let warning): st.recordSuccess(at: now, warning: warning)
        case .failed(let error): st.recordFailure(at: now, error: error)
        default: break
        }
        schedule.state[name] = st
        try schedule.save(schedulePath)
        if case .failed(let error) = outcome {
            let retry = try schedule.nextRun(of: job)
            output("scheduler: job \(name) failed (attempt \(st.consecutiveFailures)): \(error); "
                   + "next retry at \(BackupSchedule.localTime(retry))")
            notifier.notify(title: "Backup failed", body: "\(name): \(error)")
        }
        return outcome
    }

    /// Tells the user of jobs without a success for their `notifyAfterDays` (once a day each).
    private func notifyOverdue() throws {
        func overdue(_ schedule: BackupSchedule, now: Int64) -> [(BackupSchedule.Job, Int)] {
            schedule.jobs.compactMap { job in
                let st = schedule.state[job.name] ?? .init()
                let days = job.notifyAfterDays ?? schedule.notifyAfterDays
                guard days > 0, let since = st.lastSuccess ?? job.added, now - since >= Int64(days) * 86_400 else { return nil }
                if let told = st.overdueNotified, now - told < 86_400 { return nil }
                return (job, days)
            }
        }
        // Look first without the lock: it is rarely needed, and a runner never waits for it.
        guard !overdue(try BackupSchedule.load(schedulePath), now: clock()).isEmpty,
              case .acquired(let lock) = try BackupScheduleLock.acquire(path: BackupSchedule.lockPath(for: schedulePath), job: "-", pid: pid)
        else { return }
        defer { lock.release() }
        let now = clock()
        var schedule = try BackupSchedule.load(schedulePath)
        let jobs = overdue(schedule, now: now)
        for (job, days) in jobs {
            var st = schedule.state[job.name] ?? .init()
            let last = st.lastSuccess.map { "last success \(BackupSchedule.localTime($0))" } ?? "never backed up"
            notifier.notify(title: "Backup overdue",
                            body: "\(job.name): no successful backup for \(days) days (\(last))" + (st.lastError.map { ": \($0)" } ?? ""))
            st.overdueNotified = now
            schedule.state[job.name] = st
        }
        if !jobs.isEmpty { try schedule.save(schedulePath) }
    }

    /// An error as one line, without a leading `job NAME: ` (the callers name the job).
    static func message(_ error: any Error, job: String) -> String {
        var text = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        if text.hasPrefix("job \(job): ") { text.removeFirst("job \(job): ".count) }
        return text
    }
}
