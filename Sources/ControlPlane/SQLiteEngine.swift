import Foundation
import NIOPosix
import SQLite

/// The SQLite engine: WAL, a busy timeout, `BEGIN IMMEDIATE` transactions, on two threads of
/// its own (SQLite blocks).
public final class SQLiteEngine: SQLEngine {
    let path: String
    private let pool: NIOThreadPool
    private let signal = WorkSignal()

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
    }

    deinit { pool.shutdownGracefully { _ in } }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.runIfActive { [path] in
            let db = try Database(path: path, create: true)
            return try db.transaction { try body(SQLiteConnection(db: db)) }
        }
    }

    public func migrate(_ migrations: [(version: Int, sql: [String])], at time: Int64) async throws {
        try await pool.runIfActive { [path] in
            let db = try Database(path: path, create: true)
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            for (version, statements) in migrations {
                try db.transaction {
                    // Checked inside the write transaction: another process may have applied it meanwhile.
                    guard try db.query("SELECT 1 FROM schema_migrations WHERE version = ?", [.int(Int64(version))]).isEmpty else { return }
                    for sql in statements { try db.execute(sql) }
                    try db.run("INSERT INTO schema_migrations VALUES (?, ?)", [.int(Int64(version)), .int(time)])
                }
            }
        }
    }

    public var locksRows: Bool { false }

    /// Wakes this process's waiters; other processes see the database change (below).
    public func notifyWork() async { signal.poke() }

    /// Waits for this process's poke or, every 100 ms, a change of the database's files made by
    /// another process (SQLite has no NOTIFY: a commit rewrites the WAL, whose time is cheap to read).
    public func waitForWork(since generation: Int, timeout: Double) async {
        let start = fileStamp()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            await signal.wait(since: generation, timeout: min(0.1, max(0.001, deadline.timeIntervalSinceNow)))
            if signal.generation != generation || fileStamp() != start { return }
        }
    }

    /// Modification times of the database and its WAL, in nanoseconds.
    private func fileStamp() -> [Int] {
        [path, path + "-wal"].map { file in
            var st = stat()
            guard stat(file, &st) == 0 else { return 0 }
            return st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec
        }
    }

    public var workGeneration: Int { signal.generation }

    public func appliedMigrations() async throws -> [Int] {
        try await transaction { c in try c.query("SELECT version FROM schema_migrations ORDER BY version", []).compactMap { $0.first?.int.map(Int.init) } }
    }
}

/// A SQLite connection seen through `SQLConnection`.
struct SQLiteConnection: SQLConnection {
    let db: Database

    func query(_ sql: String, _ args: [SQLValue]) throws -> [[SQLValue]] { try db.query(sql, args) }

    func run(_ sql: String, _ args: [SQLValue]) throws -> Int {
        try db.run(sql, args)
        return db.changes
    }
}
