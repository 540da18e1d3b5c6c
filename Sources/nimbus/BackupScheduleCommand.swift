import ArgumentParser
import Backup
import Foundation

extension BackupCommand {
    /// `nimbus backup schedule …`: Déjà Dup-style periodic backups.
    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Periodic backups: add/list/remove jobs; `run` backs up the jobs that are due (once, or --daemon).",
            subcommands: [Add.self, List.self, Remove.self, Run.self])

        struct Location: ParsableArguments {
            @Option(help: "The schedule file (default $XDG_CONFIG_HOME/nimbus/backup-schedule.json).") var schedule: String?
            var path: String { schedule ?? BackupSchedule.defaultPath }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add (or replace) a job.")
            @OptionGroup var location: Location
            @Option(help: "How often: 1D, 12h, 1W …") var every: String = "1D"
            @Option(help: "Start a new chain (full backup) when the current one's full is this old.") var fullEvery: String?
            @Option(help: "Delete chains older than this after each backup.") var keep: String?
            @Flag(help: "Store unencrypted (otherwise PASSPHRASE must be set when the job runs).") var noEncryption = false
            @Option var include: [String] = []
            @Option var exclude: [String] = []
            @Option(help: "Volume size in MiB.") var volsize: Int64?
            @Argument var name: String
            @Argument var source: String
            @Argument var url: String
            func run() async throws {
                for interval in [every] + [fullEvery, keep].compactMap({ $0 }) { _ = try BackupSchedule.seconds(interval) }
                var s = try BackupSchedule.load(location.path)
                let absolute = source.hasPrefix("/") ? source : FileManager.default.currentDirectoryPath + "/" + source
                s.jobs.removeAll { $0.name == name }
                s.jobs.append(.init(name: name, source: absolute, target: url, every: every, fullEvery: fullEvery, keep: keep,
                                    encrypt: !noEncryption, include: include, exclude: exclude, volsizeMiB: volsize))
                try s.save(location.path)
                print("job \(name): \(absolute) → \(url) every \(every)")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show the jobs, their last run and when they are due.")
            @OptionGroup var location: Location
            func run() async throws {
                let s = try BackupSchedule.load(location.path)
                if s.jobs.isEmpty { print("no jobs in \(location.path)") }
                let now = Int64(Date().timeIntervalSince1970)
                for job in s.jobs {
                    let st = s.state[job.name] ?? .init()
                    let next = try s.nextRun(of: job)
                    print("\(job.name): \(job.source) → \(job.target) every \(job.every)"
                          + (job.fullEvery.map { ", full every \($0)" } ?? "") + (job.keep.map { ", keep \($0)" } ?? ""))
                    print("  last success: \(st.lastSuccess.map(BackupCommand.ctime) ?? "never")"
                          + (st.lastError.map { "; last error: \($0)" } ?? ""))
                    print("  next run: \(next <= now ? "due now" : BackupCommand.ctime(next))")
                }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a job (its backups stay).")
            @OptionGroup var location: Location
            @Argument var name: String
            func run() async throws {
                var s = try BackupSchedule.load(location.path)
                guard s.jobs.contains(where: { $0.name == name }) else { throw ValidationError("no job named \(name)") }
                s.jobs.removeAll { $0.name == name }
                s.state[name] = nil
                try s.save(location.path)
                print("removed job \(name)")
            }
        }

        struct Run: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Run the jobs that are due; with --daemon keep checking.")
            @OptionGroup var location: Location
            @Option(help: "Archive cache directory (default ~/.cache/nimbus-backup).") var archiveDir: String?
            @Flag(help: "Keep running, checking every --interval seconds.") var daemon = false
            @Option(help: "Seconds between checks in --daemon mode.") var interval: Int = 60
            func run() async throws {
                repeat {
                    let failed = try await runDue()
                    if !daemon && failed > 0 { throw ExitCode(1) }
                    if daemon { try await Task.sleep(nanoseconds: UInt64(interval) * 1_000_000_000) }
                } while daemon
            }

            /// Runs what is due; answers how many jobs failed.
            private func runDue() async throws -> Int {
                let now = Int64(Date().timeIntervalSince1970)
                var failed = 0
                for job in try BackupSchedule.load(location.path).due(at: now) {
                    print("\(job.name): backing up \(job.source) to \(job.target)")
                    var error: String?
                    var succeeded = false
                    do {
                        let stats = try await BackupSchedule.run(job, now: now, cacheRoot: archiveDir, gpg: GPG.fromEnvironment(),
                                                                 onWarning: { ProgressPrinter.warn($0) })
                        print(stats.text)
                        succeeded = true
                        // The set was stored; the warning stays visible in `list`.
                        if stats.errors > 0 { error = "\(stats.errors) files could not be read" }
                    } catch let e {
                        error = "\(e)"
                        FileHandle.standardError.write(Data("\(job.name): \(e)\n".utf8))
                    }
                    if !succeeded { failed += 1 }
                    // Reload before saving: `add`/`remove` may have run meanwhile.
                    var s = try BackupSchedule.load(location.path)
                    var st = s.state[job.name] ?? .init()
                    st.lastAttempt = now
                    st.lastError = error
                    if succeeded { st.lastSuccess = now }
                    s.state[job.name] = st
                    try s.save(location.path)
                }
                return failed
            }
        }
    }
}
