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

    /// Wakes this process's waiters; other processes notice within their poll.
    public func notifyWork() async { signal.poke() }

    public func waitForWork(since generation: Int, timeout: Double) async { await signal.wait(since: generation, timeout: timeout) }

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
