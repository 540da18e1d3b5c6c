import ArgumentParser
import Foundation
import Logging
import NimbusCore

/// Where daemons log: a file (reopened on SIGHUP, for log rotation) or standard error.
struct LogOptions: ParsableArguments {
    @Option(help: "Log file (default: standard error).")
    var logFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// The same options for a child process.
    var arguments: [String] {
        (logFile.map { ["--log-file", URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? []) + ["--log-level", logLevel]
    }

    func bootstrap(label: String) throws -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        if let logFile {
            let file = try LogFile(path: logFile)
            LoggingSystem.bootstrap { label in
                var h = FileLogHandler(label: label, file: file)
                h.logLevel = level
                return h
            }
            SignalHandlers.onHangup { try? file.reopen() }
        } else {
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
        }
        return Logger(label: label)
    }
}
