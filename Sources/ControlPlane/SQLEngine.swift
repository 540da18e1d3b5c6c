import SQLite

/// The little the control-plane store needs from a SQL database, so its logic is written once
/// for SQLite and PostgreSQL: a transaction on one connection whose statements (with `?`
/// placeholders, portable SQL) run in order. Bodies are synchronous and run on the engine's own
/// threads — never on Swift's shared concurrency threads or an event loop.
public protocol SQLEngine: Sendable {
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    /// Applies the migrations not applied yet, each in its own transaction, recording them in
    /// `schema_migrations`; safe when several processes start at once.
    func migrate(_ migrations: [(version: Int, sql: [String])], at time: Int64) async throws
    /// The migrations applied.
    func appliedMigrations() async throws -> [Int]

    /// Whether `SELECT … FOR UPDATE` locks rows (PostgreSQL). SQLite has no row locks: its
    /// write transactions (`BEGIN IMMEDIATE`) already run one at a time.
    var locksRows: Bool { get }
    /// Wakes workers waiting for work, in this process and (PostgreSQL: `NOTIFY`) in others.
    func notifyWork() async
    /// Waits for `notifyWork` (from any process the engine can hear) after `generation`, at
    /// most `timeout` seconds.
    func waitForWork(since generation: Int, timeout: Double) async
    /// The generation to pass to `waitForWork` before looking for work.
    var workGeneration: Int { get }
}

extension SQLEngine {
    /// `FOR UPDATE SKIP LOCKED` where rows lock, so workers claiming work never wait for
    /// each other; nothing on SQLite.
    public var skipLocked: String { locksRows ? " FOR UPDATE SKIP LOCKED" : "" }
}

/// Statements inside an engine's transaction.
public protocol SQLConnection {
    func query(_ sql: String, _ args: [SQLValue]) throws -> [[SQLValue]]
    /// Runs a statement; answers the rows it changed.
    @discardableResult func run(_ sql: String, _ args: [SQLValue]) throws -> Int
}

extension SQLConnection {
    func exists(_ sql: String, _ args: [SQLValue]) throws -> Bool { !(try query(sql, args).isEmpty) }
}
