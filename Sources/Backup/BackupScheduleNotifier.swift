import Foundation

/// Tells the user that a scheduled backup failed or has not succeeded for too long: on the
/// desktop through `notify-send` when it is on `PATH` and a session bus exists
/// (`DBUS_SESSION_BUS_ADDRESS`), otherwise as a line on stderr (`nimbus: notification: …`),
/// which lands in the journal under systemd. Injectable: tests pass their own `send`.
public struct BackupScheduleNotifier: Sendable {
    public let send: @Sendable (_ title: String, _ body: String) -> Void

    public init(_ send: @escaping @Sendable (_ title: String, _ body: String) -> Void) {
        self.send = send
    }

    public func notify(title: String, body: String) {
        send(title, body)
    }

    /// A line on stderr.
    public static let standardError = BackupScheduleNotifier { title, body in
        FileHandle.standardError.write(Data("nimbus: notification: \(title): \(body)\n".utf8))
    }

    /// `notify-send -a Nimbus TITLE BODY` when the desktop can show it, else `standardError`.
    public static func desktop(environment: [String: String] = ProcessInfo.processInfo.environment) -> BackupScheduleNotifier {
        guard let program = notifySend(environment: environment) else { return standardError }
        return BackupScheduleNotifier { title, body in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = ["-a", "Nimbus", title, body]
            p.environment = environment
            do {
                try p.run()
                p.waitUntilExit()
                if p.terminationStatus == 0 { return }
            } catch {}
            standardError.notify(title: title, body: body)
        }
    }

    /// The `notify-send` on `PATH`, or nil when there is none or no session bus to reach.
    public static func notifySend(environment: [String: String]) -> String? {
        guard let bus = environment["DBUS_SESSION_BUS_ADDRESS"], !bus.isEmpty else { return nil }
        for dir in (environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/notify-send") {
            return "\(dir)/notify-send"
        }
        return nil
    }
}
