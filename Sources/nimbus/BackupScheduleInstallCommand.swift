import ArgumentParser
import Backup
import Foundation

extension BackupCommand.Schedule {
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a systemd user service and an hourly timer that run `schedule run`.",
            discussion: """
                Writes nimbus-backup.service (Type=oneshot: this nimbus executable with `backup schedule run \
                --schedule FILE`) and nimbus-backup.timer (OnCalendar=hourly, Persistent=true) to \
                $XDG_CONFIG_HOME/systemd/user (~/.config/systemd/user). The service does not see your shell's \
                environment: put PASSPHRASE and the target's credentials in ~/.config/nimbus/backup.env \
                (NAME=value lines, mode 600; the unit reads it when it exists). Nothing is enabled: the command to \
                run is printed.
                """)
        @OptionGroup var location: Location
        @Flag(name: .customLong("print"), help: "Print the units instead of writing them.") var printOnly = false

        func run() async throws {
            let units = BackupScheduleSystemd(executable: Self.executablePath(), schedulePath: location.path)
            if printOnly {
                print(units.printed, terminator: "")
                return
            }
            for path in try units.install() { print("wrote \(path)") }
            let envFile = "\(BackupSchedule.configHome())/nimbus/backup.env"
            print("put PASSPHRASE and the target's credentials in \(envFile) (NAME=value lines, chmod 600); the service reads it")
            print("then run:")
            print("  \(BackupScheduleSystemd.enableCommand)")
        }

        /// The absolute path of this executable.
        static func executablePath() -> String {
            if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
            let arg0 = CommandLine.arguments.first ?? "nimbus"
            if arg0.contains("/") { return BackupSchedule.absolutePath(arg0, cwd: FileManager.default.currentDirectoryPath) }
            for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            where FileManager.default.isExecutableFile(atPath: "\(dir)/\(arg0)") {
                return "\(dir)/\(arg0)"
            }
            return arg0
        }
    }
}
