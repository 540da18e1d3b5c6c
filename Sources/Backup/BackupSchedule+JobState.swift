import Foundation

extension BackupSchedule {
    /// What the scheduler remembers of each job.
    public struct JobState: Codable, Sendable, Equatable {
        public var lastSuccess: Int64?
        public var lastAttempt: Int64?
        /// Why the last attempt failed (nil once one succeeds).
        public var lastError: String?
        /// What went wrong in a run that still stored its set (files that could not be read).
        public var lastWarning: String?
        /// Failed attempts since the last success; retries back off with it.
        public var consecutiveFailures = 0
        /// The first failure of the current run of failures.
        public var failingSince: Int64?
        /// When the desktop was last told the job has not succeeded for too long.
        public var overdueNotified: Int64?

        public init() {}

        /// The last attempt failed.
        public var isFailing: Bool { consecutiveFailures > 0 }

        public mutating func recordSuccess(at now: Int64, warning: String? = nil) {
            lastAttempt = now
            lastSuccess = now
            lastError = nil
            lastWarning = warning
            consecutiveFailures = 0
            failingSince = nil
            overdueNotified = nil
        }

        public mutating func recordFailure(at now: Int64, error: String) {
            lastAttempt = now
            lastError = error
            if consecutiveFailures == 0 { failingSince = now }
            consecutiveFailures += 1
        }

        enum CodingKeys: String, CodingKey {
            case lastSuccess, lastAttempt, lastError, lastWarning, consecutiveFailures, failingSince, overdueNotified
        }

        /// Older files knew only the last success, attempt and error (an error was also kept
        /// after a successful run that skipped unreadable files: that is a warning now).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lastSuccess = try c.decodeIfPresent(Int64.self, forKey: .lastSuccess)
            lastAttempt = try c.decodeIfPresent(Int64.self, forKey: .lastAttempt)
            lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
            lastWarning = try c.decodeIfPresent(String.self, forKey: .lastWarning)
            failingSince = try c.decodeIfPresent(Int64.self, forKey: .failingSince)
            overdueNotified = try c.decodeIfPresent(Int64.self, forKey: .overdueNotified)
            if let n = try c.decodeIfPresent(Int.self, forKey: .consecutiveFailures) {
                consecutiveFailures = n
            } else if lastError != nil, let attempt = lastAttempt, attempt != lastSuccess {
                consecutiveFailures = 1
                failingSince = attempt
            } else if lastError != nil {
                lastWarning = lastError
                lastError = nil
            }
        }
    }
}
