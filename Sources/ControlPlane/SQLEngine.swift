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
