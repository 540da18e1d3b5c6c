import Foundation

/// Déjà Dup's scheduling for `nimbus backup`: each job (a profile: source, target, selection,
/// encryption, volume size, cache) backs up every `every` (a full set when the chain's full is
/// older than `fullEvery`), then deletes chains older than `keep`.
///
/// A job is due when it never ran or its last success is `every` old. A failed run is retried
/// with exponential backoff: `firstRetry` after the first failure, then twice as long after
/// each further one, never longer than the job's period. `BackupScheduleRunner` runs the due
/// jobs, `BackupScheduleStatus` judges them for monitoring.
///
/// Files written by older versions (no backoff, notification or profile fields) still load:
/// every field added since is optional with a default. The old `retryAfter` key is ignored.
public struct BackupSchedule: Codable, Sendable {
    public var jobs: [Job] = []
    public var state: [String: JobState] = [:]
    /// Seconds before the first retry of a failed job; each further failure doubles it, up to
    /// the job's period.
    public var firstRetry: Int64 = 300
    /// Days without a success after which the desktop is told (a job's own setting wins).
    public var notifyAfterDays: Int = 7

    public init() {}

    enum CodingKeys: String, CodingKey {
        case jobs, state, firstRetry, notifyAfterDays
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jobs = try c.decodeIfPresent([Job].self, forKey: .jobs) ?? []
        state = try c.decodeIfPresent([String: JobState].self, forKey: .state) ?? [:]
        firstRetry = try c.decodeIfPresent(Int64.self, forKey: .firstRetry) ?? 300
        notifyAfterDays = try c.decodeIfPresent(Int.self, forKey: .notifyAfterDays) ?? 7
    }

    /// The job called `name`.
    public func job(named name: String) -> Job? {
        jobs.first { $0.name == name }
    }

    /// Seconds in a duplicity interval (`3D` → 259200; units s m h D W M Y).
    public static func seconds(_ interval: String) throws -> Int64 {
        let units = Set("smhDWMY")
        guard let last = interval.last, units.contains(last), interval.allSatisfy({ $0.isASCII && ($0.isNumber || units.contains($0)) }) else {
            throw BackupError("\(interval) is not an interval (say 1D, 1W, 3M or 12h)")
        }
        let now: Int64 = 4_000_000_000
        let t = try DuplicityTime.parseSpec(interval, now: now)
        guard t < now else { throw BackupError("\(interval) is not an interval (say 1D, 1W, 3M or 12h)") }
        return now - t
    }

    /// The wait before retrying a job that failed `failures` times in a row: `firstRetry`,
    /// doubled per further failure, capped at `period`.
    public func retryDelay(afterFailures failures: Int, period: Int64) -> Int64 {
        guard failures > 0 else { return 0 }
        var delay = max(1, firstRetry)
        var n = 1
        while n < failures && delay < period {
            delay *= 2
            n += 1
        }
        return min(delay, max(1, period))
    }

    /// When `job` is next due (now or earlier: due). A failing job is due at its retry time.
    public func nextRun(of job: Job) throws -> Int64 {
        let s = state[job.name] ?? JobState()
        let period = try Self.seconds(job.every)
        if s.isFailing, let attempt = s.lastAttempt {
            return attempt + retryDelay(afterFailures: s.consecutiveFailures, period: period)
        }
        guard let success = s.lastSuccess else { return 0 }
        return success + period
    }

    /// The jobs due at `now`, in the schedule's order.
    public func due(at now: Int64) throws -> [Job] {
        try jobs.filter { try nextRun(of: $0) <= now }
    }

    /// Loads the schedule (an empty one when the file does not exist).
    public static func load(_ path: String) throws -> BackupSchedule {
        guard FileManager.default.fileExists(atPath: path) else { return BackupSchedule() }
        do {
            return try JSONDecoder().decode(BackupSchedule.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw BackupError("cannot read the schedule \(path): \(error)")
        }
    }

    /// Saves atomically (a crash never leaves half a schedule).
    public func save(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// `$XDG_CONFIG_HOME/nimbus/backup-schedule.json` (`~/.config/…` without it).
    public static var defaultPath: String {
        "\(configHome())/nimbus/backup-schedule.json"
    }

    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    public static func configHome(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = env["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.config"
    }

    /// The runners' lock file: beside the schedule, `<schedule>.lock`.
    public static func lockPath(for schedulePath: String) -> String {
        schedulePath + ".lock"
    }

    /// Local time for messages: `2026-05-01 14:03:00`.
    public static func localTime(_ t: Int64) -> String {
        var tt = time_t(t)
        var tmv = tm()
        localtime_r(&tt, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A duration for messages: `45 s`, `10 min`, `2 h`, `3 days`.
    public static func duration(_ seconds: Int64) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 2 * 3600 { return "\(seconds / 60) min" }
        if seconds < 2 * 86_400 { return "\(seconds / 3600) h" }
        return "\(seconds / 86_400) days"
    }
}
