import Foundation

/// Déjà Dup's scheduling for `nimbus backup`: each job backs up a source to a target every
/// `every` (a full set when the chain's full is older than `fullEvery`), then deletes chains
/// older than `keep`. A job is due when it never succeeded or its last success is `every`
/// old; a failed run is retried after `retryAfter`, not at every check.
public struct BackupSchedule: Codable, Sendable {
    public struct Job: Codable, Sendable, Equatable {
        public var name: String
        public var source: String
        public var target: String
        /// Intervals in duplicity's syntax (`1D`, `1W`, `3M`, `12h`).
        public var every: String
        public var fullEvery: String?
        public var keep: String?
        public var encrypt: Bool
        public var include: [String]
        public var exclude: [String]
        public var volsizeMiB: Int64?

        public init(name: String, source: String, target: String, every: String, fullEvery: String? = nil, keep: String? = nil,
                    encrypt: Bool = true, include: [String] = [], exclude: [String] = [], volsizeMiB: Int64? = nil) {
            self.name = name
            self.source = source
            self.target = target
            self.every = every
            self.fullEvery = fullEvery
            self.keep = keep
            self.encrypt = encrypt
            self.include = include
            self.exclude = exclude
            self.volsizeMiB = volsizeMiB
        }
    }

    /// What the scheduler remembers of each job.
    public struct JobState: Codable, Sendable, Equatable {
        public var lastSuccess: Int64?
        public var lastAttempt: Int64?
        public var lastError: String?
        public init() {}
    }

    public var jobs: [Job] = []
    public var state: [String: JobState] = [:]
    /// Seconds before a failed job is tried again.
    public var retryAfter: Int64 = 3600

    public init() {}

    /// Seconds in a duplicity interval (`3D` → 259200).
    public static func seconds(_ interval: String) throws -> Int64 {
        let now: Int64 = 4_000_000_000
        let t = try DuplicityTime.parseSpec(interval, now: now)
        guard t < now else { throw BackupError("\(interval) is not an interval (say 1D, 1W, 3M or 12h)") }
        return now - t
    }

    /// When `job` is next due (now or earlier: due).
    public func nextRun(of job: Job) throws -> Int64 {
        let s = state[job.name] ?? JobState()
        guard let success = s.lastSuccess else {
            if let attempt = s.lastAttempt, s.lastError != nil { return attempt + retryAfter }
            return 0
        }
        var next = success + (try Self.seconds(job.every))
        if let attempt = s.lastAttempt, attempt > success, s.lastError != nil { next = max(next, attempt + retryAfter) }
        return next
    }

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

    /// `$XDG_CONFIG_HOME/nimbus/backup-schedule.json`.
    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CONFIG_HOME"] ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.config")
        return "\(base)/nimbus/backup-schedule.json"
    }

    /// Runs one job now: a backup (full when due), then the pruning of old chains.
    public static func run(_ job: Job, now: Int64, cacheRoot: String?, gpg: GPG?,
                           onWarning: (@Sendable (String) -> Void)? = nil) async throws -> BackupWriter.Stats {
        var o = BackupWriter.Options()
        if job.encrypt {
            guard let gpg else { throw BackupError("job \(job.name) is encrypted: set PASSPHRASE") }
            o.gpg = gpg
        }
        if let v = job.volsizeMiB { o.volumeSize = v * 1024 * 1024 }
        o.localdir = job.source
        o.cacheDirectory = Backends.cacheDirectory(url: job.target, archiveDir: cacheRoot, name: nil)
        let rules = job.include.map(Selection.Rule.include) + job.exclude.map(Selection.Rule.exclude)
        o.selection = rules.isEmpty ? nil : try Selection(rules, source: job.source)
        o.onWarning = onWarning
        let backend = try Backends.open(job.target)
        let writer = try BackupWriter(source: job.source, backend: backend, options: o, now: now)
        let fullLimit = try job.fullEvery.map { now - (try seconds($0)) }
        let stats = try await writer.automatic(fullIfOlderThan: fullLimit)
        if let keep = job.keep {
            _ = try await Maintenance.removeOlderThan(now - (try seconds(keep)), backend: backend, force: true)
        }
        return stats
    }
}
