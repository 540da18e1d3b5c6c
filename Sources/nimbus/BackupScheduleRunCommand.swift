import ArgumentParser
import Backup
import Foundation

extension BackupCommand.Schedule {
    /// Options shared by `run` and `now`.
    struct RunnerOptions: ParsableArguments {
        @OptionGroup var location: Location
        @Option(help: "Archive cache directory of jobs that name none (default ~/.cache/nimbus-backup).") var archiveDir: String?

        /// A runner printing its progress on stdout (with the time when `timestamps`).
        func runner(timestamps: Bool = false) -> BackupScheduleRunner {
            BackupScheduleRunner(
                schedulePath: location.path, cacheRoot: archiveDir,
                output: { line in
                    let text = timestamps ? "\(BackupSchedule.localTime(Int64(Date().timeIntervalSince1970))) \(line)" : line
                    FileHandle.standardOutput.write(Data((text + "\n").utf8))
                },
                onWarning: { ProgressPrinter.warn($0) })
        }

        /// Prints the failing jobs on stderr; exit status 1 when there are any.
        func finish(_ report: BackupScheduleRunner.Report) throws {
            for line in report.failing { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            if !report.failing.isEmpty { throw ExitCode(1) }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the jobs that are due (or job NAME, if due); with --daemon keep checking.",
            discussion: """
                Prints a line per job run, failure and skip. A job another runner is backing up is skipped \
                ("another scheduler is running job X (pid N)"), not counted as failed. Without --daemon the exit \
                status is 1 when a job is failing (its last attempt failed, due now or not), with a line per such \
                job on stderr; 0 otherwise. PASSPHRASE and the target's credentials must be in this command's \
                environment (see `schedule --help`).
                """)
        @OptionGroup var options: RunnerOptions
        @Flag(help: "Keep running, checking every --interval seconds.") var daemon = false
        @Option(help: "Seconds between checks in --daemon mode.") var interval: Int = 60
        @Argument(help: "Run only this job (when it is due).") var job: String?

        func validate() throws {
            if daemon && job != nil { throw ValidationError("--daemon checks every job; give no job name") }
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() async throws {
            let path = options.location.path
            guard daemon else {
                let report = try await options.runner().pass(job.map { .job($0) } ?? .due)
                if let job, case .notDue(let next)? = report.outcomes.first?.outcome {
                    print("job \(job) is not due before \(BackupSchedule.localTime(next)) (`schedule now \(job)` runs it anyway)")
                }
                try options.finish(report)
                return
            }
            let runner = options.runner(timestamps: true)
            let count = try BackupSchedule.load(path).jobs.count
            runner.output("scheduler: checking \(count) job\(count == 1 ? "" : "s") every \(interval) s; schedule \(path)")
            while true {
                do {
                    _ = try await runner.pass(.due)
                } catch {
                    FileHandle.standardError.write(Data("nimbus: scheduler: \(error)\n".utf8))
                }
                try await Task.sleep(nanoseconds: UInt64(interval) * 1_000_000_000)
            }
        }
    }

    struct Now: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up one job now, due or not (Déjà Dup's \"Back Up Now\").",
            discussion: "Exit status 1 when the backup fails or another runner is backing the job up.")
        @OptionGroup var options: RunnerOptions
        @Argument(help: "The job's name.") var job: String

        func run() async throws {
            let report = try await options.runner().pass(.now(job))
            try options.finish(report)
            if case .busy? = report.outcomes.first?.outcome { throw ExitCode(1) }
        }
    }
}
