import CSQLite

/// The destructor constant SQLite uses to copy bound values (`SQLITE_TRANSIENT` is a macro).
nonisolated(unsafe) let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// An error reported by SQLite, with its message.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
    /// True for `SQLITE_BUSY`/`SQLITE_LOCKED` ("database is locked").
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
}

/// One SQLite connection. Short-lived by design: container and account servers open the DB of
/// the request, do their work and close it. Not thread-safe; use from one task at a time.
public final class Database {
    let handle: OpaquePointer

    /// Opens (or creates) the database at `path`, with a busy timeout so concurrent writers wait
    /// rather than fail with "database is locked".
    public init(path: String, create: Bool = false, busyTimeoutMs: Int32 = 25_000) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(msg) (\(path))")
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMs)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Closing this connection (the last one of a WAL database) still checkpoints, but keeps
    /// the `-wal` and `-shm` files (the WAL truncated to nothing) for the next connection
    /// instead of deleting them and creating them again: two inodes per open otherwise, the
    /// largest kernel cost of a short-lived container connection.
    public func keepWALOnClose() throws {
        var on: Int32 = 1
        _ = sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
        try execute("PRAGMA journal_size_limit=0")
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg)
        }
    }

    /// Compiles a statement.
    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        return Statement(db: self, handle: stmt)
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Convenience: run a statement with arguments, no results.
    public func run(_ sql: String, _ args: [SQLValue] = []) throws {
        let s = try prepare(sql)
        try s.bind(args)
        while try s.step() {}
    }

    /// Convenience: all rows of a query.
    public func query(_ sql: String, _ args: [SQLValue] = []) throws -> [[SQLValue]] {
        let s = try prepare(sql)
        try s.bind(args)
        var rows: [[SQLValue]] = []
        while try s.step() { rows.append(s.row()) }
        return rows
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }
}
