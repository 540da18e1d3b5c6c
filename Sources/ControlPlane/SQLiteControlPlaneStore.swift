import Digest
import Foundation
import NIOPosix
import NimbusCore
import SQLite

/// The control-plane store on SQLite (one host): WAL, a busy timeout, short transactions,
/// times stored as integer microseconds. SQLite's blocking calls run on the store's own thread
/// pool, never on Swift's shared concurrency threads. EC2 secrets are sealed (AES-256-GCM)
/// with a key kept in a separate file.
public final class SQLiteControlPlaneStore: ControlPlaneStore {
    let path: String
    let box: SealedBox
    let clock: any WallClock
    private let pool: NIOThreadPool

    /// - Parameters:
    ///   - path: the database file (created with its directory).
    ///   - keyFile: the sealing key (32 random bytes, created mode 0600 on first use).
    public init(path: String, keyFile: String, clock: any WallClock = SystemClock()) throws {
        self.path = path
        self.clock = clock
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        box = try SealedBox(key: try Self.loadKey(keyFile))
        pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
    }

    deinit { pool.shutdownGracefully { _ in } }

    static func loadKey(_ file: String) throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: file) {
            guard data.count == 32 else { throw ControlPlaneError.invalid("key file \(file) must hold 32 bytes") }
            return Array(data)
        }
        let key = SealedBox.newKey()
        guard FileManager.default.createFile(atPath: file, contents: Data(key), attributes: [.posixPermissions: 0o600]) else {
            throw ControlPlaneError.invalid("cannot create key file \(file)")
        }
        return key
    }

    /// Runs `body` with a connection, in a transaction, on the store's threads.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.runIfActive { [path] in
            let db = try Database(path: path, create: true)
            return try db.transaction { try body(db) }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.runIfActive { [path] in try body(try Database(path: path, create: true)) }
    }

    var now: Int64 { Int64((clock.now() * 1_000_000).rounded()) }

    public func migrate() async throws {
        let at = now
        try await pool.runIfActive { [path] in
            let db = try Database(path: path, create: true)
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            let done = Set(try db.query("SELECT version FROM schema_migrations").compactMap { $0.first?.int })
            for (version, sql) in ControlPlaneSchema.migrations where !done.contains(Int64(version)) {
                try db.transaction {
                    try db.execute(sql)
                    try db.run("INSERT INTO schema_migrations VALUES (?, ?)", [.int(Int64(version)), .int(at)])
                }
            }
        }
    }

    // MARK: users

    public func createUser(_ name: String, admin: Bool) async throws -> User {
        try IdentityName.check(name, "user")
        let user = User(name: name, isAdmin: admin, createdAt: now)
        try await write { db in
            guard try db.query("SELECT 1 FROM users WHERE name = ?", [.text(name)]).isEmpty else {
                throw ControlPlaneError.duplicate("user \(name)")
            }
            try db.run("INSERT INTO users VALUES (?, ?, ?)", [.text(name), .int(admin ? 1 : 0), .int(user.createdAt)])
        }
        return user
    }

    public func user(_ name: String) async throws -> User? {
        try await read { db in
            try db.query("SELECT name, is_admin, created_at FROM users WHERE name = ?", [.text(name)]).first.map(Self.user)
        }
    }

    public func users() async throws -> [User] {
        try await read { db in try db.query("SELECT name, is_admin, created_at FROM users ORDER BY name").map(Self.user) }
    }

    static func user(_ r: [SQLValue]) -> User {
        User(name: r[0].text ?? "", isAdmin: r[1].int == 1, createdAt: r[2].int ?? 0)
    }

    public func setAdmin(_ name: String, _ admin: Bool) async throws {
        try await write { db in
            try db.run("UPDATE users SET is_admin = ? WHERE name = ?", [.int(admin ? 1 : 0), .text(name)])
            guard db.changes == 1 else { throw ControlPlaneError.notFound("user \(name)") }
        }
    }

    public func deleteUser(_ name: String) async throws {
        try await write { db in
            guard try db.query("SELECT name FROM projects WHERE manager = ?", [.text(name)]).isEmpty else {
                throw ControlPlaneError.invalid("user \(name) manages a project; give it another manager or delete it first")
            }
            try db.run("DELETE FROM users WHERE name = ?", [.text(name)])
            guard db.changes == 1 else { throw ControlPlaneError.notFound("user \(name)") }
            try db.run("DELETE FROM members WHERE user = ?", [.text(name)])
            try db.run("DELETE FROM credentials WHERE user = ?", [.text(name)])
        }
    }

    // MARK: projects

    public func createProject(_ name: String, manager: String) async throws -> Project {
        try IdentityName.check(name, "project")
        let project = Project(name: name, manager: manager, createdAt: now)
        try await write { db in
            guard !(try db.query("SELECT 1 FROM users WHERE name = ?", [.text(manager)]).isEmpty) else {
                throw ControlPlaneError.notFound("user \(manager)")
            }
            guard try db.query("SELECT 1 FROM projects WHERE name = ?", [.text(name)]).isEmpty else {
                throw ControlPlaneError.duplicate("project \(name)")
            }
            try db.run("INSERT INTO projects VALUES (?, ?, ?)", [.text(name), .text(manager), .int(project.createdAt)])
            try db.run("INSERT INTO members VALUES (?, ?, ?)", [.text(name), .text(manager), .text(ProjectRole.admin.rawValue)])
        }
        return project
    }

    public func project(_ name: String) async throws -> Project? {
        try await read { db in
            try db.query("SELECT name, manager, created_at FROM projects WHERE name = ?", [.text(name)]).first.map(Self.project)
        }
    }

    public func projects() async throws -> [Project] {
        try await read { db in try db.query("SELECT name, manager, created_at FROM projects ORDER BY name").map(Self.project) }
    }

    static func project(_ r: [SQLValue]) -> Project {
        Project(name: r[0].text ?? "", manager: r[1].text ?? "", createdAt: r[2].int ?? 0)
    }

    public func addMember(_ user: String, to project: String, role: ProjectRole) async throws {
        try await write { db in
            guard !(try db.query("SELECT 1 FROM users WHERE name = ?", [.text(user)]).isEmpty) else {
                throw ControlPlaneError.notFound("user \(user)")
            }
            guard !(try db.query("SELECT 1 FROM projects WHERE name = ?", [.text(project)]).isEmpty) else {
                throw ControlPlaneError.notFound("project \(project)")
            }
            try db.run("INSERT OR REPLACE INTO members VALUES (?, ?, ?)", [.text(project), .text(user), .text(role.rawValue)])
        }
    }

    public func removeMember(_ user: String, from project: String) async throws {
        try await write { db in
            guard try db.query("SELECT 1 FROM projects WHERE name = ? AND manager = ?", [.text(project), .text(user)]).isEmpty else {
                throw ControlPlaneError.invalid("user \(user) manages project \(project) and stays a member")
            }
            try db.run("DELETE FROM members WHERE project = ? AND user = ?", [.text(project), .text(user)])
            guard db.changes == 1 else { throw ControlPlaneError.notFound("member \(user) of project \(project)") }
            try db.run("DELETE FROM credentials WHERE project = ? AND user = ?", [.text(project), .text(user)])
        }
    }

    public func members(of project: String) async throws -> [(user: String, role: ProjectRole)] {
        let rows = try await read { db in
            try db.query("SELECT user, role FROM members WHERE project = ? ORDER BY user", [.text(project)])
        }
        return rows.map { ($0[0].text ?? "", ProjectRole(rawValue: $0[1].text ?? "") ?? .member) }
    }

    public func deleteProject(_ name: String) async throws {
        try await write { db in
            try db.run("DELETE FROM projects WHERE name = ?", [.text(name)])
            guard db.changes == 1 else { throw ControlPlaneError.notFound("project \(name)") }
            try db.run("DELETE FROM members WHERE project = ?", [.text(name)])
            try db.run("DELETE FROM credentials WHERE project = ?", [.text(name)])
        }
    }

    // MARK: credentials

    public func credentials(user: String, project: String) async throws -> EC2Credential {
        let fresh = EC2Credential(accessKey: CredentialMaker.accessKey(), secretKey: CredentialMaker.secretKey(), user: user, project: project)
        let sealed = try box.seal(Array(fresh.secretKey.utf8))
        let at = now
        let row: [SQLValue] = try await write { db in
            guard !(try db.query("SELECT 1 FROM members WHERE project = ? AND user = ?", [.text(project), .text(user)]).isEmpty) else {
                throw ControlPlaneError.notFound("member \(user) of project \(project)")
            }
            if let existing = try db.query("SELECT access_key, sealed_secret FROM credentials WHERE user = ? AND project = ?",
                                           [.text(user), .text(project)]).first {
                return existing
            }
            try db.run("INSERT INTO credentials VALUES (?, ?, ?, ?, ?)",
                       [.text(fresh.accessKey), .text(user), .text(project), .text(Data(sealed).base64EncodedString()), .int(at)])
            return [.text(fresh.accessKey), .text(Data(sealed).base64EncodedString())]
        }
        return try unseal(accessKey: row[0].text ?? "", sealed: row[1].text ?? "", user: user, project: project)
    }

    public func credentials(accessKey: String) async throws -> EC2Credential? {
        let row = try await read { db in
            try db.query("SELECT access_key, sealed_secret, user, project FROM credentials WHERE access_key = ?", [.text(accessKey)]).first
        }
        guard let row else { return nil }
        return try unseal(accessKey: accessKey, sealed: row[1].text ?? "", user: row[2].text ?? "", project: row[3].text ?? "")
    }

    private func unseal(accessKey: String, sealed: String, user: String, project: String) throws -> EC2Credential {
        guard let data = Data(base64Encoded: sealed), let secret = try? box.open(Array(data)) else {
            throw ControlPlaneError.corruptSecret(accessKey)
        }
        return EC2Credential(accessKey: accessKey, secretKey: String(decoding: secret, as: UTF8.self), user: user, project: project)
    }
}
