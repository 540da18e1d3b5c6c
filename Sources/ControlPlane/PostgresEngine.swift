import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SQLite

/// The PostgreSQL engine (postgres-nio), for a control plane spread over several hosts. The
/// store's transaction bodies are synchronous, so each runs on a thread of this engine's pool
/// holding one connection, and waits for each statement's future there — never on an event
/// loop or Swift's shared threads. Transactions that lose a race (a unique key taken meanwhile,
/// a serialization failure or deadlock) run again: the store's checks then see the winner's
/// row and answer as they do on SQLite.
public final class PostgresEngine: SQLEngine {
    /// Where the database is.
    public struct Settings: Sendable, Codable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String

        public init(host: String, port: Int, user: String, password: String? = nil, database: String) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
        }
    }

    let settings: Settings
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool
    private let idle = NIOLockedValueBox<[PostgresConnection]>([])
    private let nextID = NIOLockedValueBox(0)
    private let signal = WorkSignal()
    /// The LISTEN connection's task, started by the first waiter.
    private let listener = NIOLockedValueBox<Task<Void, Never>?>(nil)
    static let workChannel = "nimbus_work"

    /// Connections (and threads) at most.
    public static let poolSize = 4

    public init(settings: Settings, logger: Logger = Logger(label: "nimbus.controlplane.pg")) {
        self.settings = settings
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: Self.poolSize)
        pool.start()
    }

    deinit {
        listener.withLockedValue { $0?.cancel() }
        pool.shutdownGracefully { _ in }
        // A PostgresConnection must be closed before it is released: the completion holds the
        // connections (and the loop) until they are, then the loop stops.
        let connections = idle.withLockedValue { $0 }
        let group = self.group
        let closed: [EventLoopFuture<Void>] = connections.map { $0.close() }
        EventLoopFuture<Void>.andAllComplete(closed, on: group.next()).whenComplete { _ in
            _ = connections
            group.shutdownGracefully { _ in }
        }
    }

    /// An idle connection, or a new one (on a pool thread: it may wait).
    private func checkout() throws -> PostgresConnection {
        if let c = idle.withLockedValue({ $0.popLast() }), !c.isClosed { return c }
        let id = nextID.withLockedValue { n in
            n += 1
            return n
        }
        let configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                             password: settings.password, database: settings.database, tls: .disable)
        return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
    }

    private func checkin(_ c: PostgresConnection) {
        guard !c.isClosed else { return }
        idle.withLockedValue { $0.append(c) }
    }

    /// Runs of a transaction that keeps losing races before its error is given up to the caller.
    static let maxAttempts = 32

    /// SQLSTATEs worth running the transaction again for.
    static func isRace(_ error: any Error) -> Bool {
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return state == "23505" || state == "40001" || state == "40P01"
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.runIfActive { [self] in
            var attempt = 0
            while true {
                let c = try checkout()
                let connection = PostgresSQLConnection(connection: c, logger: logger)
                do {
                    try connection.run("BEGIN", [])
                    let result = try body(connection)
                    try connection.run("COMMIT", [])
                    checkin(c)
                    return result
                } catch {
                    if (try? connection.run("ROLLBACK", [])) != nil { checkin(c) } else { _ = try? c.close().wait() }
                    attempt += 1
                    // Each lost race means another transaction committed, so retrying makes
                    // progress; the limit is generous because writers picking from the same few
                    // rows (twelve clients allocating the pool's first free address, four at a
                    // time) can each lose many rounds in a row on a loaded host.
                    guard Self.isRace(error), attempt < Self.maxAttempts else { throw error }
                    usleep(UInt32.random(in: 1000...(min(5000 * UInt32(attempt), 50_000))))
                }
            }
        }
    }

    public func migrate(_ migrations: [(version: Int, sql: [String])], at time: Int64) async throws {
        for (version, statements) in migrations {
            try await transaction { c in
                // One migrator at a time across every host: a transaction-scoped advisory lock.
                _ = try c.query("SELECT pg_advisory_xact_lock(727271)", [])
                try c.run("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)", [])
                guard try c.query("SELECT 1 FROM schema_migrations WHERE version = ?", [.int(Int64(version))]).isEmpty else { return }
                for sql in statements { try c.run(sql, []) }
                try c.run("INSERT INTO schema_migrations VALUES (?, ?)", [.int(Int64(version)), .int(time)])
            }
        }
    }

    public var locksRows: Bool { true }

    public func notifyWork() async {
        signal.poke()
        _ = try? await transaction { c in try c.query("SELECT pg_notify('\(Self.workChannel)', '')", []) }
    }

    public func waitForWork(since generation: Int, timeout: Double) async {
        startListening()
        await signal.wait(since: generation, timeout: timeout)
    }

    public var workGeneration: Int { signal.generation }

    /// One connection LISTENing for other processes' `NOTIFY`, poking this process's waiters;
    /// reconnected after a failure (waiters still poll meanwhile).
    private func startListening() {
        listener.withLockedValue { task in
            guard task == nil else { return }
            let settings = settings, logger = logger, group = group, signal = signal
            task = Task {
                while !Task.isCancelled {
                    do {
                        let configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                                             password: settings.password, database: settings.database, tls: .disable)
                        let connection = try await PostgresConnection.connect(on: group.next(), configuration: configuration, id: 0, logger: logger)
                        do {
                            for try await _ in try await connection.listen(Self.workChannel) { signal.poke() }
                        } catch {}
                        try? await connection.close()
                    } catch {
                        logger.debug("LISTEN \(Self.workChannel) failed: \(error)")
                    }
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                }
            }
        }
    }

    public func appliedMigrations() async throws -> [Int] {
        try await transaction { c in try c.query("SELECT version FROM schema_migrations ORDER BY version", []).compactMap { $0.first?.int.map(Int.init) } }
    }
}

/// One PostgreSQL connection seen through `SQLConnection` (blocking; pool threads only).
struct PostgresSQLConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger

    /// `?` placeholders as PostgreSQL's `$1, $2, …` (outside quoted literals and identifiers).
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        var quote: Character?
        for ch in sql {
            if let q = quote {
                if ch == q { quote = nil }
                out.append(ch)
            } else if ch == "'" || ch == "\"" {
                quote = ch
                out.append(ch)
            } else if ch == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        return out
    }

    func execute(_ sql: String, _ args: [SQLValue]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: args.count)
        for a in args {
            switch a {
            case .null: binds.appendNull()
            case .int(let v): binds.append(v)
            case .double(let v): binds.append(v)
            case .text(let v): binds.append(v)
            }
        }
        return try connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: binds), logger: logger).wait()
    }

    func query(_ sql: String, _ args: [SQLValue]) throws -> [[SQLValue]] {
        try execute(sql, args).rows.map { row in
            row.map { cell -> SQLValue in
                guard cell.bytes != nil else { return .null }
                switch cell.dataType {
                case .int8, .int4, .int2: return (try? cell.decode(Int64.self)).map { .int($0) } ?? .null
                case .float8, .float4: return (try? cell.decode(Double.self)).map { .double($0) } ?? .null
                default: return (try? cell.decode(String.self)).map { .text($0) } ?? .null
                }
            }
        }
    }

    func run(_ sql: String, _ args: [SQLValue]) throws -> Int {
        try execute(sql, args).metadata.rows ?? 0
    }
}

extension PostgresEngine {
    /// Runs one statement outside a transaction (`CREATE DATABASE` cannot run inside one).
    public func runOutsideTransaction(_ sql: String) async throws {
        try await pool.runIfActive { [self] in
            let c = try checkout()
            defer { checkin(c) }
            _ = try c.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
        }
    }
}

extension PostgresEngine.Settings {
    /// Parses `postgres://user[:password]@host[:port]/database`; nil when it is not one.
    public init?(url: String) {
        guard let u = URLComponents(string: url), u.scheme == "postgres" || u.scheme == "postgresql", let host = u.host, !host.isEmpty,
              let user = u.user, !user.isEmpty else { return nil }
        let database = String(u.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { return nil }
        // The password may stay out of URLs (and so out of argv and shell history): PGPASSWORD, as libpq reads it.
        self.init(host: host, port: u.port ?? 5432, user: user, password: u.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"],
                  database: database)
    }
}

extension ControlPlaneSQLStore {
    /// The store a location names: a `postgres://` URL selects PostgreSQL, anything else is a
    /// SQLite file path.
    /// - Parameter createKey: see `init(engine:keyFile:…)`.
    public static func open(database: String, keyFile: String, createKey: Bool = true) throws -> ControlPlaneSQLStore {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            guard let settings = PostgresEngine.Settings(url: database) else {
                throw ControlPlaneError.invalid("the control database must be postgres://user[:password]@host[:port]/database")
            }
            return try ControlPlaneSQLStore(engine: PostgresEngine(settings: settings), keyFile: keyFile, createKey: createKey)
        }
        return try sqlite(path: database, keyFile: keyFile, createKey: createKey)
    }
}
