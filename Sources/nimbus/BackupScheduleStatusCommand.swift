import ArgumentParser
import Backup
import Foundation

extension BackupCommand.Schedule {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per job: last success, next due, last error, consecutive failures and the chains on its target.",
            discussion: """
                For monitoring, the exit status is: 0 every job OK; 1 some job failing (its last attempt failed) or \
                overdue (no success within twice its period, or within --max-age days); 2 the schedule cannot be \
                read (or has no job NAME). Listing a swift:// target needs its credentials in the environment; \
                --no-chains skips the listing.
                """)
        @OptionGroup var location: Location
        @Option(help: "Overdue when a job has no success within this many days (default: twice its period).") var maxAge: Int?
        @Flag(help: "Do not list the targets' chains.") var noChains = false
        @Argument(help: "Show only this job.") var job: String?

        func validate() throws {
            if let maxAge, maxAge <= 0 { throw ValidationError("--max-age must be a positive number of days") }
        }

        func run() async throws {
            let now = Int64(Date().timeIntervalSince1970)
            let evaluation = BackupScheduleStatus.evaluate(schedulePath: location.path, job: job, now: now, maxAgeDays: maxAge)
            if let error = evaluation.error {
                FileHandle.standardError.write(Data("nimbus: \(error)\n".utf8))
                throw ExitCode(evaluation.exitCode)
            }
            if evaluation.statuses.isEmpty { print("no jobs in \(location.path)") }
            for var status in evaluation.statuses {
                if !noChains {
                    do {
                        status.chains = try await BackupScheduleStatus.chainSummary(of: status.job.target)
                    } catch {
                        status.chainError = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
                    }
                }
                status.lines(now: now).forEach { print($0) }
            }
            if evaluation.exitCode != BackupScheduleStatus.exitOK { throw ExitCode(evaluation.exitCode) }
        }
    }
}
