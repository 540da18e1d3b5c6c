import Foundation
import Logging
import Synchronization

/// A log destination that appends lines to a file and can reopen it (SIGHUP after rotation).
public final class LogFile: Sendable {
    private let path: String
    private let fd = Mutex<Int32>(-1)

    public init(path: String) throws {
        self.path = path
        try reopen()
    }

    /// Opens the path anew (after logrotate moved the old file away).
    public func reopen() throws {
        let new = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard new >= 0 else { throw POSIXFailure("open log \(path)") }
        let old = fd.withLock { f -> Int32 in
            let o = f
            f = new
            return o
        }
        if old >= 0 { close(old) }
    }

    func write(_ line: String) {
        fd.withLock { f in
            var l = line
            l.withUTF8 { buf in _ = Glibc.write(f, buf.baseAddress, buf.count) }
        }
    }
}

/// A swift-log handler writing one line per event: time, level, label, metadata, message.
public struct FileLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let file: LogFile

    public init(label: String, file: LogFile) {
        self.label = label
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // Seconds with milliseconds, formatted by hand (String(format:) was a visible share of
        // every request's CPU: the proxy logs one line per request).
        let millis = Int64(Date().timeIntervalSince1970 * 1000)
        let fraction = String(millis % 1000)
        let stamp = "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        file.write("\(stamp) \(event.level) \(label):\(meta) \(event.message)\n")
    }
}
