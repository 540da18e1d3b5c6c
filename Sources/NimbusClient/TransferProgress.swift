import Foundation
import Synchronization

/// Progress of a transfer on a terminal: bytes, rate and ETA on one line of standard error,
/// refreshed twice a second; silent when disabled (not a TTY, or `--quiet`).
public final class TransferProgress: Sendable {
    private struct State {
        var total: Int64 = 0
        var done: Int64 = 0
        var files = 0
        var lastDraw = 0.0
    }

    private let state = Mutex(State())
    private let enabled: Bool
    private let started = Date().timeIntervalSince1970

    public init(enabled: Bool) { self.enabled = enabled }

    /// True when standard error is a terminal.
    public static var isTTY: Bool { isatty(2) == 1 }

    public func expect(bytes: Int64) { state.withLock { $0.total += bytes } }

    public func add(_ bytes: Int) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        let line: String? = state.withLock { s in
            s.done += Int64(bytes)
            guard now - s.lastDraw >= 0.5 else { return nil }
            s.lastDraw = now
            return Self.render(done: s.done, total: s.total, files: s.files, elapsed: now - started)
        }
        if let line { FileHandle.standardError.write(Data(("\r" + line).utf8)) }
    }

    public func fileDone() { state.withLock { $0.files += 1 } }

    /// Clears the progress line.
    public func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func render(done: Int64, total: Int64, files: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var line = "\(Human.bytes(done)) / \(Human.bytes(total))  \(Human.bytes(Int64(rate)))/s  \(files) files"
        if rate > 0 && total > done {
            let eta = Int(Double(total - done) / rate)
            line += "  ETA \(eta / 3600):" + String(format: "%02d:%02d", eta / 60 % 60, eta % 60)
        }
        return line + "\u{1B}[K"
    }
}

/// Sizes the way `swift list --lh` shows them.
public enum Human {
    public static func bytes(_ n: Int64) -> String {
        var v = Double(n)
        for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
            if v < 1024 || unit == "TiB" { return unit == "B" ? "\(n) B" : String(format: "%.1f %@", v, unit) }
            v /= 1024
        }
        return "\(n) B"
    }

    /// swiftclient's `--lh` style: 1.5K, 20M, 3.2G.
    public static func short(_ n: Int64) -> String {
        var v = Double(n)
        for suffix in ["", "K", "M", "G", "T", "P"] {
            if v < 1024 || suffix == "P" {
                return suffix.isEmpty ? String(n) : (v < 10 ? String(format: "%.1f%@", v, suffix) : String(format: "%.0f%@", v, suffix))
            }
            v /= 1024
        }
        return String(n)
    }
}
