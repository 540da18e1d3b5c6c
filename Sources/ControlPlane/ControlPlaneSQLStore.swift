import Digest
import Foundation
import NimbusCore
import SQLite

/// The control-plane store's logic, written once over a `SQLEngine` (SQLite or PostgreSQL):
/// short transactions, times as integer microseconds, secrets sealed (AES-256-GCM) with a key
/// kept in a separate file, object-store keys also kept as salted hashes for checking.
public final class ControlPlaneSQLStore: ControlPlaneStore {
    public let engine: any SQLEngine
    let box: SealedBox
    let clock: any WallClock
    /// How long a DHCP lease lasts: a released fixed address is not given again before then.
    public let fixedLeaseSeconds: Int

    /// - Parameter createKey: false on a host that reaches another host's control plane: its
    ///   secrets are sealed with that cloud's key, which must be copied here, never made anew.
    public init(engine: any SQLEngine, keyFile: String, clock: any WallClock = SystemClock(), fixedLeaseSeconds: Int = 120,
                createKey: Bool = true) throws {
        self.engine = engine
        self.clock = clock
        self.fixedLeaseSeconds = fixedLeaseSeconds
        if createKey {
            box = try SealedBox(key: try Self.loadKey(keyFile))
        } else {
            guard let key = try Self.readKey(keyFile) else {
                throw ControlPlaneError.invalid("\(keyFile) is missing: copy the cloud's control.key here (its secrets are sealed with it)")
            }
            box = try SealedBox(key: key)
        }
    }

    /// The SQLite engine on `path` (the default, one host).
    public static func sqlite(path: String, keyFile: String, clock: any WallClock = SystemClock(),
                              fixedLeaseSeconds: Int = 120, createKey: Bool = true) throws -> ControlPlaneSQLStore {
        try ControlPlaneSQLStore(engine: try SQLiteEngine(path: path), keyFile: keyFile, clock: clock, fixedLeaseSeconds: fixedLeaseSeconds,
                                 createKey: createKey)
    }

    /// The sealing key in `file`, made on first use. Several processes may start at once (the
    /// proxy, the EC2 API, `nimbus manage`): the new key is written to a temp file and linked
    /// into place, which only one can do; the others read the winner's key.
    public static func loadKey(_ file: String) throws -> [UInt8] {
        if let key = try readKey(file) { return key }
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let tmp = file + ".new-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(tmp) }
        guard FileManager.default.createFile(atPath: tmp, contents: Data(SealedBox.newKey()), attributes: [.posixPermissions: 0o600]) else {
            throw ControlPlaneError.invalid("cannot create key file \(file)")
        }
        if link(tmp, file) != 0 && errno != EEXIST { throw ControlPlaneError.invalid("cannot create key file \(file)") }
        guard let key = try readKey(file) else { throw ControlPlaneError.invalid("cannot read key file \(file)") }
        return key
    }

    static func readKey(_ file: String) throws -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        guard data.count == 32 else { throw ControlPlaneError.invalid("key file \(file) must hold 32 bytes") }
        return Array(data)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await engine.transaction(body)
    }

    var now: Int64 { Int64((clock.now() * 1_000_000).rounded()) }

    public func migrate() async throws {
        try await engine.migrate(ControlPlaneSchema.migrations, at: now)
    }

    func seal(_ text: String) throws -> String { Data(try box.seal(Array(text.utf8))).base64EncodedString() }

    func unseal(_ sealed: String, _ what: String) throws -> String {
        guard let data = Data(base64Encoded: sealed), let clear = try? box.open(Array(data)) else {
            throw ControlPlaneError.corruptSecret(what)
        }
        return String(decoding: clear, as: UTF8.self)
    }

    // MARK: users

    public func createUser(_ name: String, admin: Bool) async throws -> User {
        try IdentityName.check(name, "user")
        let user = User(name: name, isAdmin: admin, createdAt: now)
        try await write { db in
            guard try !db.exists("SELECT 1 FROM users WHERE name = ?", [.text(name)]) else { throw ControlPlaneError.duplicate("user \(name)") }
            try db.run("INSERT INTO users VALUES (?, ?, ?)", [.text(name), .int(admin ? 1 : 0), .int(user.createdAt)])
        }
        return user
    }

    public func user(_ name: String) async throws -> User? {
        try await write { db in
            try db.query("SELECT name, is_admin, created_at FROM users WHERE name = ?", [.text(name)]).first.map(Self.user)
        }
    }

    public func users() async throws -> [User] {
        try await write { db in try db.query("SELECT name, is_admin, created_at FROM users", []).map(Self.user) }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    static func user(_ r: [SQLValue]) -> User {
        User(name: r[0].text ?? "", isAdmin: r[1].int == 1, createdAt: r[2].int ?? 0)
    }

    public func setAdmin(_ name: String, _ admin: Bool) async throws {
        try await write { db in
            guard try db.run("UPDATE users SET is_admin = ? WHERE name = ?", [.int(admin ? 1 : 0), .text(name)]) == 1 else {
                throw ControlPlaneError.notFound("user \(name)")
            }
        }
    }

    public func deleteUser(_ name: String) async throws {
        try await write { db in
            guard try !db.exists("SELECT name FROM projects WHERE manager = ?", [.text(name)]) else {
                throw ControlPlaneError.invalid("user \(name) manages a project; give it another manager or delete it first")
            }
            guard try db.run("DELETE FROM users WHERE name = ?", [.text(name)]) == 1 else { throw ControlPlaneError.notFound("user \(name)") }
            for table in ["members", "credentials", "storage_keys", "certificates"] {
                try db.run("DELETE FROM \(table) WHERE \"user\" = ?", [.text(name)])
            }
        }
    }

    // MARK: projects

    public func createProject(_ name: String, manager: String) async throws -> Project {
        try IdentityName.check(name, "project")
        let project = Project(name: name, manager: manager, createdAt: now)
        try await write { db in
            guard try db.exists("SELECT 1 FROM users WHERE name = ?", [.text(manager)]) else { throw ControlPlaneError.notFound("user \(manager)") }
            guard try !db.exists("SELECT 1 FROM projects WHERE name = ?", [.text(name)]) else { throw ControlPlaneError.duplicate("project \(name)") }
            try db.run("INSERT INTO projects VALUES (?, ?, ?)", [.text(name), .text(manager), .int(project.createdAt)])
            try db.run("INSERT INTO members VALUES (?, ?, ?)", [.text(name), .text(manager), .text(ProjectRole.admin.rawValue)])
            try Self.ensureDefaultGroup(db, project: name, at: project.createdAt)
        }
        return project
    }

    public func project(_ name: String) async throws -> Project? {
        try await write { db in
            try db.query("SELECT name, manager, created_at FROM projects WHERE name = ?", [.text(name)]).first.map(Self.project)
        }
    }

    public func projects() async throws -> [Project] {
        try await write { db in try db.query("SELECT name, manager, created_at FROM projects", []).map(Self.project) }
            .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    static func project(_ r: [SQLValue]) -> Project {
        Project(name: r[0].text ?? "", manager: r[1].text ?? "", createdAt: r[2].int ?? 0)
    }

    public func addMember(_ user: String, to project: String, role: ProjectRole) async throws {
        try await write { db in
            guard try db.exists("SELECT 1 FROM users WHERE name = ?", [.text(user)]) else { throw ControlPlaneError.notFound("user \(user)") }
            guard try db.exists("SELECT 1 FROM projects WHERE name = ?", [.text(project)]) else { throw ControlPlaneError.notFound("project \(project)") }
            if try db.run("UPDATE members SET role = ? WHERE project = ? AND \"user\" = ?", [.text(role.rawValue), .text(project), .text(user)]) == 0 {
                try db.run("INSERT INTO members VALUES (?, ?, ?)", [.text(project), .text(user), .text(role.rawValue)])
            }
        }
    }

    public func removeMember(_ user: String, from project: String) async throws {
        try await write { db in
            guard try !db.exists("SELECT 1 FROM projects WHERE name = ? AND manager = ?", [.text(project), .text(user)]) else {
                throw ControlPlaneError.invalid("user \(user) manages project \(project) and stays a member")
            }
            guard try db.run("DELETE FROM members WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)]) == 1 else {
                throw ControlPlaneError.notFound("member \(user) of project \(project)")
            }
            for table in ["credentials", "storage_keys", "certificates"] {
                try db.run("DELETE FROM \(table) WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)])
            }
        }
    }

    public func members(of project: String) async throws -> [(user: String, role: ProjectRole)] {
        let rows = try await write { db in try db.query("SELECT \"user\", role FROM members WHERE project = ?", [.text(project)]) }
        return rows.map { ($0[0].text ?? "", ProjectRole(rawValue: $0[1].text ?? "") ?? .member) }
            .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    }

    public func deleteProject(_ name: String) async throws {
        try await write { db in
            guard try db.run("DELETE FROM projects WHERE name = ?", [.text(name)]) == 1 else { throw ControlPlaneError.notFound("project \(name)") }
            for table in ["members", "credentials", "storage_keys", "certificates", "key_pairs", "addresses"] {
                try db.run("DELETE FROM \(table) WHERE project = ?", [.text(name)])
            }
            try db.run("DELETE FROM security_rules WHERE group_id IN (SELECT id FROM security_groups WHERE project = ?)", [.text(name)])
            try db.run("DELETE FROM security_rules WHERE source_project = ?", [.text(name)])
            try db.run("DELETE FROM security_groups WHERE project = ?", [.text(name)])
            // Nothing of the project survives for a later project of the same name to inherit.
            try db.run("DELETE FROM image_launch_permissions WHERE project = ? OR image_id IN (SELECT id FROM images WHERE project = ?)",
                       [.text(name), .text(name)])
            try db.run("DELETE FROM images WHERE project = ?", [.text(name)])
        }
    }

    static func requireMember(_ db: any SQLConnection, user: String, project: String) throws {
        guard try db.exists("SELECT 1 FROM members WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)]) else {
            throw ControlPlaneError.notFound("member \(user) of project \(project)")
        }
    }
}
