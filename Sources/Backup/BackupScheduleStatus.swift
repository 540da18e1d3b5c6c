import Foundation

/// How one scheduled job stands, for `schedule status` and for monitoring: OK, failing (its
/// last attempt failed) or overdue (no success within twice its period, or within a given
/// maximum age), with an optional summary of the chains on its target.
public struct BackupScheduleStatus: Sendable {
    public enum Health: String, Sendable {
        case ok = "OK"
        case failing = "FAILING"
        case overdue = "OVERDUE"
    }

    /// Exit codes of `schedule status`: every job OK.
    public static let exitOK: Int32 = 0
    /// Some job is failing or overdue.
    public static let exitProblem: Int32 = 1
    /// The schedule cannot be read (or names no such job).
    public static let exitUnreadable: Int32 = 2

    /// The backup sets on a job's target.
    public struct ChainSummary: Sendable, Equatable, CustomStringConvertible {
        public var chains = 0
        public var sets = 0
        public var newestSet: Int64?
        public var orphans = 0

        public init(_ collection: BackupCollection) {
            chains = collection.chains.count
            sets = collection.chains.reduce(0) { $0 + $1.sets.count }
            newestSet = collection.chains.map(\.end).max()
            orphans = collection.orphans.count
        }

        public var description: String {
            guard let newestSet else { return "no backup chains" + (orphans > 0 ? ", \(orphans) incomplete sets" : "") }
            return "\(chains) chain\(chains == 1 ? "" : "s"), \(sets) set\(sets == 1 ? "" : "s"), newest set \(BackupSchedule.localTime(newestSet))"
                + (orphans > 0 ? ", \(orphans) incomplete sets" : "")
        }
    }

    public var job: BackupSchedule.Job
    public var state: BackupSchedule.JobState
    public var health: Health
    public var nextRun: Int64
    /// Seconds without a success after which the job is overdue.
    public var maxAge: Int64
    /// The chains on the target, when listed (`chainError` says why not).
    public var chains: ChainSummary?
    public var chainError: String?

    /// Judges `job` at `now`; `maxAgeDays` replaces the default limit of twice its period. A
    /// job that never succeeded counts from when it was added (overdue at once when that is
    /// unknown, as in files of older versions).
    public init(job: BackupSchedule.Job, in schedule: BackupSchedule, now: Int64, maxAgeDays: Int? = nil) throws {
        self.job = job
        state = schedule.state[job.name] ?? .init()
        nextRun = try schedule.nextRun(of: job)
        maxAge = try maxAgeDays.map { Int64($0) * 86_400 } ?? 2 * BackupSchedule.seconds(job.every)
        if state.isFailing {
            health = .failing
        } else if let since = state.lastSuccess ?? job.added, now - since <= maxAge {
            health = .ok
        } else {
            health = .overdue
        }
    }

    /// 0 when every job is OK, 1 when some job is failing or overdue.
    public static func exitCode(_ statuses: [BackupScheduleStatus]) -> Int32 {
        statuses.allSatisfy { $0.health == .ok } ? exitOK : exitProblem
    }

    /// The statuses of a schedule file's jobs (or of job `name`) and the exit code for them;
    /// `error` says why the file cannot be judged (then the code is `exitUnreadable`).
    public struct Evaluation: Sendable {
        public var statuses: [BackupScheduleStatus] = []
        public var exitCode: Int32 = exitOK
        public var error: String?
    }

    /// Judges the jobs of the schedule at `schedulePath` (all, or the one called `name`).
    public static func evaluate(schedulePath: String, job name: String? = nil, now: Int64, maxAgeDays: Int? = nil) -> Evaluation {
        var result = Evaluation()
        do {
            let schedule = try BackupSchedule.load(schedulePath)
            var jobs = schedule.jobs
            if let name {
                guard let job = schedule.job(named: name) else { throw BackupError("no job named \(name) in \(schedulePath)") }
                jobs = [job]
            }
            result.statuses = try jobs.map { try BackupScheduleStatus(job: $0, in: schedule, now: now, maxAgeDays: maxAgeDays) }
            result.exitCode = exitCode(result.statuses)
        } catch {
            result = Evaluation(statuses: [], exitCode: exitUnreadable, error: "\(error)")
        }
        return result
    }

    /// Lists the target's chains (as `collection-status` does).
    public static func chainSummary(of target: String) async throws -> ChainSummary {
        ChainSummary(BackupCollection(names: try await Backends.open(target).list()))
    }

    /// The report of `schedule status`, a few lines.
    public func lines(now: Int64) -> [String] {
        var out = ["\(job.name): \(health.rawValue) — \(job.summary)"]
        out.append("  last success: \(state.lastSuccess.map(BackupSchedule.localTime) ?? "never")"
                   + (health == .overdue ? " (overdue: none within \(BackupSchedule.duration(maxAge)))" : "")
                   + (state.lastWarning.map { "; warning: \($0)" } ?? ""))
        if state.isFailing {
            out.append("  last error: \(state.lastError ?? "unknown")")
            out.append("  consecutive failures: \(state.consecutiveFailures) since \(BackupSchedule.localTime(state.failingSince ?? state.lastAttempt ?? 0)); "
                       + "next retry: \(nextRun <= now ? "due now" : BackupSchedule.localTime(nextRun))")
        } else {
            out.append("  next due: \(nextRun <= now ? "now" : BackupSchedule.localTime(nextRun))")
        }
        if let chains { out.append("  target: \(chains)") }
        if let chainError { out.append("  target: cannot list: \(chainError)") }
        return out
    }
}
