import Foundation
import NimbusCore
import SQLite

/// Creates a broker DB so that it is never seen half-initialised: built in a temp file without
/// per-statement syncs, switched to WAL, fsynced once, then hard-linked into place (a racing
/// creator loses cleanly and uses the winner's file).
enum DatabaseCreation {
    /// Returns false when the DB already existed.
    static func create(path: String, schema: String, initialize: (Database) throws -> Void) throws -> Bool {
        if FileManager.default.fileExists(atPath: path) { return false }
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = "\(path).\(UInt32.random(in: 0...UInt32.max)).pending"
        defer { unlink(tmp) }
        do {
            let db = try Database(path: tmp, create: true)
            try db.execute("PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;")
            try db.transaction {
                try db.execute(schema)
                try initialize(db)
            }
            try db.execute("PRAGMA journal_mode=WAL;")
        }
        let fd = open(tmp, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        if link(tmp, path) != 0 {
            let e = errno
            if e == EEXIST { return false }
            throw POSIXFailure("create \(path)", code: e)
        }
        AtomicFile.fsyncDirectory(dir)
        return true
    }
}
