import Foundation

/// The systemd user units that run the scheduler: `nimbus-backup.service` (oneshot:
/// `nimbus backup schedule run --schedule FILE`) started hourly by `nimbus-backup.timer`
/// (`Persistent=true`: a run missed while the machine was off happens at the next boot).
///
/// A user service does not see the login shell's environment: PASSPHRASE and the target's
/// credentials go in `EnvironmentFile` (`$XDG_CONFIG_HOME/nimbus/backup.env`, optional).
public struct BackupScheduleSystemd: Sendable {
    /// The absolute path of the `nimbus` executable.
    public var executable: String
    /// The absolute path of the schedule file.
    public var schedulePath: String
    /// `$XDG_CONFIG_HOME`, or nil for `~/.config`.
    public var configHome: String?

    public static let serviceName = "nimbus-backup.service"
    public static let timerName = "nimbus-backup.timer"

    public init(executable: String, schedulePath: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.executable = executable
        self.schedulePath = schedulePath
        configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        home = environment["HOME"] ?? NSHomeDirectory()
    }

    private var home: String

    /// `$XDG_CONFIG_HOME/systemd/user` (`~/.config/systemd/user`).
    public var unitDirectory: String {
        "\(configHome ?? home + "/.config")/systemd/user"
    }

    /// The credentials file named in the service (`%h/.config/nimbus/backup.env` by default).
    public var environmentFile: String {
        configHome.map { Self.escape($0) + "/nimbus/backup.env" } ?? "%h/.config/nimbus/backup.env"
    }

    public var service: String {
        """
        [Unit]
        Description=Nimbus scheduled backups (nimbus backup schedule run)

        [Service]
        Type=oneshot
        # A user service does not inherit your shell's environment: put PASSPHRASE (unless the
        # jobs use --passphrase-file) and the target's credentials (SWIFT_AUTHURL, SWIFT_USERNAME,
        # SWIFT_PASSWORD, or CLOUDFILES_*) in this file as NAME=value lines, mode 600.
        # The leading '-' makes a missing file fine.
        EnvironmentFile=-\(environmentFile)
        ExecStart=\(Self.quote(executable)) backup schedule run --schedule \(Self.quote(schedulePath))
        Nice=10
        IOSchedulingClass=idle

        """
    }

    public var timer: String {
        """
        [Unit]
        Description=Run the scheduled Nimbus backups that are due, hourly

        [Timer]
        OnCalendar=hourly
        Persistent=true

        [Install]
        WantedBy=timers.target

        """
    }

    /// What `install --print` shows: each unit after a `# path` line.
    public var printed: String {
        "# \(unitDirectory)/\(Self.serviceName)\n\(service)\n# \(unitDirectory)/\(Self.timerName)\n\(timer)"
    }

    /// Writes both units; answers their paths.
    @discardableResult
    public func install() throws -> [String] {
        try FileManager.default.createDirectory(atPath: unitDirectory, withIntermediateDirectories: true)
        let paths = ["\(unitDirectory)/\(Self.serviceName)", "\(unitDirectory)/\(Self.timerName)"]
        try Data(service.utf8).write(to: URL(fileURLWithPath: paths[0]), options: .atomic)
        try Data(timer.utf8).write(to: URL(fileURLWithPath: paths[1]), options: .atomic)
        return paths
    }

    /// The command that loads and starts the timer.
    public static let enableCommand = "systemctl --user daemon-reload && systemctl --user enable --now nimbus-backup.timer"

    /// `%` doubled (systemd's specifier character).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "%", with: "%%")
    }

    /// An `ExecStart=` word: escaped, and double-quoted when it holds spaces or quotes.
    static func quote(_ s: String) -> String {
        let e = escape(s)
        guard e.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == ";" }) else { return e }
        return "\"" + e.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
