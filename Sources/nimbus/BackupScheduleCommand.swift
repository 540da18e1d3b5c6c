import ArgumentParser
import Backup
import Foundation

extension BackupCommand {
    /// `nimbus backup schedule …`: Déjà Dup-style periodic backups.
    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Periodic backups: add/list/remove jobs; `run` backs up the jobs that are due (once, or --daemon).",
            discussion: """
                Jobs are run by `schedule run`: once (the systemd user timer written by `schedule install` starts it \
                hourly) or with --daemon. A failed job is retried after 5 min, then 10, 20 … up to its period.

                The runner needs the secrets in ITS environment, not in the shell that ran `add`: PASSPHRASE (or the \
                variable named with --passphrase-env; --passphrase-file reads a file instead) and the target's \
                credentials (SWIFT_AUTHURL, SWIFT_USERNAME, SWIFT_PASSWORD for swift://; CLOUDFILES_AUTHURL, \
                CLOUDFILES_USERNAME, CLOUDFILES_APIKEY for cf+http://). Under systemd put them in \
                ~/.config/nimbus/backup.env (NAME=value lines, mode 600). A job whose variable is missing fails with \
                a line naming it.

                Exit codes: `run` and `now`: 0 OK, 1 some job is failing (its last attempt failed). \
                `status`: 0 all OK, 1 some job failing or overdue, 2 the schedule cannot be read.
                """,
            subcommands: [Add.self, List.self, Remove.self, Run.self, Now.self, Status.self, Install.self, Config.self])

        struct Location: ParsableArguments {
            @Option(help: "The schedule file (default $XDG_CONFIG_HOME/nimbus/backup-schedule.json).") var schedule: String?
            var path: String {
                BackupSchedule.absolutePath(schedule ?? BackupSchedule.defaultPath, cwd: FileManager.default.currentDirectoryPath)
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add (or replace) a job: a profile of source, target, selection, encryption and period.",
                discussion: """
                    The source is stored as an absolute path; a chain started by hand with the same directory typed \
                    relative (`nimbus backup docs URL`) is continued. Encryption: PASSPHRASE from the environment of \
                    `schedule run` by default, or --passphrase-env VAR, --passphrase-file FILE (read at each run, one \
                    trailing newline stripped), or --no-encryption. gpg public keys (--encrypt-key) are not supported \
                    in schedules. The target's credentials (SWIFT_* or CLOUDFILES_*) must also be in the runner's \
                    environment (see `schedule --help`).
                    """)
            @OptionGroup var location: Location
            @Option(help: "How often: 1D, 12h, 1W …") var every: String = "1D"
            @Option(help: "Start a new chain (full backup) when the current one's full is this old.") var fullEvery: String?
            @Option(help: "Delete chains older than this after each backup.") var keep: String?
            @Flag(help: "Store unencrypted.") var noEncryption = false
            @Option(help: "Read the passphrase from this file at each run (one trailing newline stripped).") var passphraseFile: String?
            @Option(help: "Read the passphrase from this variable of the runner's environment (default PASSPHRASE).") var passphraseEnv: String?
            @Option(help: "Include paths matching this glob (repeatable; order matters).") var include: [String] = []
            @Option(help: "Exclude paths matching this glob (repeatable; order matters).") var exclude: [String] = []
            @Option(help: "Volume size in MiB.") var volsize: Int64?
            @Option(help: "Archive cache directory (default: the runner's --archive-dir, else ~/.cache/nimbus-backup).") var archiveDir: String?
            @Option(name: .customLong("name"), help: "Cache name, duplicity's --name (default: md5 of the target URL).") var backupName: String?
            @Flag(help: "Extend a chain made on another host or from another source directory.") var allowSourceMismatch = false
            @Option(help: "Notify when the job has not succeeded for this many days (default: the schedule's, 7).") var notifyAfterDays: Int?
            @Argument(help: "The job's name.") var job: String
            @Argument(help: "The directory to back up.") var source: String
            @Argument(help: "The target: file://, swift:// or cf+http://.") var url: String

            func validate() throws {
                for interval in [every] + [fullEvery, keep].compactMap({ $0 }) { _ = try BackupSchedule.seconds(interval) }
                let sources = [noEncryption, passphraseFile != nil, passphraseEnv != nil].filter { $0 }.count
                guard sources <= 1 else { throw ValidationError("give one of --no-encryption, --passphrase-file, --passphrase-env") }
                guard ["file://", "swift://", "cf+http://"].contains(where: url.hasPrefix) else {
                    throw ValidationError("unsupported target \(url) (file://, swift:// and cf+http:// are)")
                }
                if let v = volsize, v <= 0 { throw ValidationError("--volsize must be positive") }
                if let d = notifyAfterDays, d < 0 { throw ValidationError("--notify-after-days must be 0 (never) or more") }
            }

            func run() async throws {
                let cwd = FileManager.default.currentDirectoryPath
                let absolute = BackupSchedule.absolutePath(source, cwd: cwd)
                var isDir: ObjCBool = false
                if !FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir) || !isDir.boolValue {
                    FileHandle.standardError.write(Data("warning: \(absolute) is not a directory now; runs will fail until it is\n".utf8))
                }
                let encryption: BackupSchedule.Job.Encryption =
                    noEncryption ? .unencrypted
                    : passphraseFile.map { .passphraseFile(BackupSchedule.absolutePath($0, cwd: cwd)) } ?? .passphraseEnv(passphraseEnv ?? "PASSPHRASE")
                let newJob = BackupSchedule.Job(
                    name: job, source: absolute, target: url, every: every, fullEvery: fullEvery, keep: keep,
                    include: include, exclude: exclude, volsizeMiB: volsize, encryption: encryption, workingDirectory: cwd,
                    selection: Self.orderedSelection(CommandLine.arguments), archiveDir: archiveDir.map { BackupSchedule.absolutePath($0, cwd: cwd) },
                    backupName: backupName, allowSourceMismatch: allowSourceMismatch, notifyAfterDays: notifyAfterDays,
                    added: Int64(Date().timeIntervalSince1970))
                var s = try BackupSchedule.load(location.path)
                if let index = s.jobs.firstIndex(where: { $0.name == job }) { s.jobs[index] = newJob } else { s.jobs.append(newJob) }
                try s.save(location.path)
                print("job \(job): \(newJob.summary)")
                var needs = BackupSchedule.requiredVariables(for: url)
                if case .passphraseEnv(let v) = encryption { needs.insert(v, at: 0) }
                if !needs.isEmpty {
                    print("note: `schedule run` needs \(needs.joined(separator: ", ")) in its environment "
                          + "(under systemd: \(BackupSchedule.configHome())/nimbus/backup.env)")
                }
                if case .passphraseFile(let f) = encryption, access(f, R_OK) != 0 {
                    FileHandle.standardError.write(Data("warning: the passphrase file \(f) is not readable now\n".utf8))
                }
            }

            /// The --include/--exclude rules in the order typed, as `+ glob` / `- glob` lines.
            static func orderedSelection(_ arguments: [String]) -> [String]? {
                var lines: [String] = []
                var i = 0
                while i < arguments.count {
                    let arg = arguments[i]
                    for (flag, mark) in [("--include", "+"), ("--exclude", "-")] {
                        if arg == flag, i + 1 < arguments.count {
                            lines.append("\(mark) \(arguments[i + 1])")
                            i += 1
                        } else if arg.hasPrefix(flag + "=") {
                            lines.append("\(mark) \(arg.dropFirst(flag.count + 1))")
                        }
                    }
                    i += 1
                }
                return lines.isEmpty ? nil : lines
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
                    print("\(job.name): \(job.summary)")
                    print("  last success: \(st.lastSuccess.map(BackupSchedule.localTime) ?? "never")"
                          + (st.lastError.map { "; last error: \($0)" } ?? ""))
                    print("  next run: \(next <= now ? "due now" : BackupSchedule.localTime(next))")
                }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a job (its backups stay).")
            @OptionGroup var location: Location
            @Argument(help: "The job's name.") var job: String
            func run() async throws {
                var s = try BackupSchedule.load(location.path)
                guard s.jobs.contains(where: { $0.name == job }) else { throw ValidationError("no job named \(job)") }
                s.jobs.removeAll { $0.name == job }
                s.state[job] = nil
                try s.save(location.path)
                print("removed job \(job)")
            }
        }

        struct Config: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show or change the schedule's settings.")
            @OptionGroup var location: Location
            @Option(help: "Notify when a job has not succeeded for this many days (0: never; a job's own setting wins).") var notifyAfterDays: Int?
            @Option(help: "Wait before the first retry of a failed job (doubled per further failure, up to its period): 5m, 1h …") var firstRetry: String?
            func run() async throws {
                var s = try BackupSchedule.load(location.path)
                if let d = notifyAfterDays {
                    guard d >= 0 else { throw ValidationError("--notify-after-days must be 0 (never) or more") }
                    s.notifyAfterDays = d
                }
                if let r = firstRetry { s.firstRetry = try BackupSchedule.seconds(r) }
                if notifyAfterDays != nil || firstRetry != nil { try s.save(location.path) }
                print("schedule \(location.path): notify after \(s.notifyAfterDays) days, first retry after \(BackupSchedule.duration(s.firstRetry))")
            }
        }
    }
}
