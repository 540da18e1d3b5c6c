import Foundation

/// Which database a control directory's cloud uses: `control.db` (SQLite) beside it, unless
/// `database.url` there names a PostgreSQL database (`nimbus aio --control-db URL` writes it), so
/// `nimbus manage … --data-dir` finds the same store as the daemons.
public enum ControlPlaneDatabase {
    public static func location(controlDirectory dir: String) -> String {
        if let data = FileManager.default.contents(atPath: "\(dir)/database.url") {
            let url = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !url.isEmpty { return url }
        }
        return "\(dir)/control.db"
    }

    /// Records `url` for the directory (nil: back to SQLite).
    public static func record(_ url: String?, controlDirectory dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard let url else {
            try? FileManager.default.removeItem(atPath: "\(dir)/database.url")
            return
        }
        try AtomicWrite.write(Data((url + "\n").utf8), to: "\(dir)/database.url", mode: 0o600)
    }
}
