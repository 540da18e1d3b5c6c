@testable import ControlPlane
import Digest
import Foundation
import NimbusCore
import Testing

/// The control-plane store's behaviour (SQLite engine).
@Suite struct ControlPlaneStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID().uuidString)").path

    func store(_ engine: TestEngine) async throws -> ControlPlaneSQLStore {
        try await engine.store(dir: dir)
    }

    @Test(arguments: TestEngine.available) func usersAndProjectsAreManagedLikeNovaManage(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await s.createUser("soren", admin: true)
        _ = try await s.createUser("vish", admin: false)
        await #expect(throws: ControlPlaneError.duplicate("user soren")) { _ = try await s.createUser("soren", admin: false) }
        let p = try await s.createProject("soren", manager: "soren")
        #expect(p.storageAccount == "AUTH_soren")
        try await s.addMember("vish", to: "soren", role: .member)
        let members = try await s.members(of: "soren")
        #expect(members.map(\.user) == ["soren", "vish"] && members.map(\.role) == [.admin, .member])
        #expect(try await s.users().map(\.name) == ["soren", "vish"])
        #expect(try await s.user("soren")?.isAdmin == true)
        await #expect(throws: ControlPlaneError.self) { try await s.deleteUser("soren") }
        try await s.deleteUser("vish")
        #expect(try await s.members(of: "soren").map(\.user) == ["soren"])
        await #expect(throws: ControlPlaneError.notFound("user nobody")) { _ = try await s.createProject("x", manager: "nobody") }
    }

    @Test(arguments: TestEngine.available) func badNamesAreRefusedWithAReason(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["", ".admin", "a/b", "spa ce", String(repeating: "x", count: 65), "é"] {
            await #expect(throws: ControlPlaneError.self, "\(name)") { _ = try await s.createUser(name, admin: false) }
        }
    }

    @Test(arguments: TestEngine.available) func credentialsAreMadeOnceAndTheSecretIsSealedAtRest(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await s.createUser("alice", admin: false)
        _ = try await s.createProject("lab", manager: "alice")
        let c = try await s.credentials(user: "alice", project: "lab")
        #expect(c.accessKey.count == 20 && c.secretKey.count == 40)
        #expect(try await s.credentials(user: "alice", project: "lab") == c)
        #expect(try await s.credentials(accessKey: c.accessKey) == c)
        #expect(try await s.credentials(accessKey: "NIMBUNKNOWN") == nil)
        let stored = try await s.engine.transaction { db in try db.query("SELECT * FROM credentials", []).flatMap { $0.compactMap(\.text) } }
        #expect(!stored.contains { $0.contains(c.secretKey) }, "the secret is not in the database")
        if engine == .sqlite {
            let raw = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/control.db"))
                + ((try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/control.db-wal"))) ?? Data())
            #expect(raw.range(of: Data(c.secretKey.utf8)) == nil, "the secret is not in the database files")
        }
        await #expect(throws: ControlPlaneError.notFound("member bob of project lab")) {
            _ = try await s.credentials(user: "bob", project: "lab")
        }
        // Another key file cannot open the sealed secrets.
        let other = try ControlPlaneSQLStore(engine: s.engine, keyFile: "\(dir)/other.key")
        await #expect(throws: ControlPlaneError.corruptSecret("access key \(c.accessKey)")) { _ = try await other.credentials(accessKey: c.accessKey) }
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/control.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(arguments: TestEngine.available) func fiftyParallelWritersNeverSeeALockedDatabase(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await s.createUser("owner", admin: false)
        _ = try await s.createProject("busy", manager: "owner")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask {
                    _ = try await s.createUser("u\(i)", admin: false)
                    try await s.addMember("u\(i)", to: "busy", role: .member)
                    _ = try await s.credentials(user: "u\(i)", project: "busy")
                }
            }
            try await group.waitForAll()
        }
        #expect(try await s.members(of: "busy").count == 51)
    }

    @Test(arguments: TestEngine.available) func migrationsRunOnceAndAreRecorded(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await s.migrate()
        #expect(try await s.engine.appliedMigrations() == ControlPlaneSchema.migrations.map(\.version))
    }

    @Test func sealedBoxesOpenOnlyWithTheirKeyAndUnaltered() throws {
        let box = try SealedBox(key: SealedBox.newKey())
        let sealed = try box.seal(Array("secret".utf8))
        #expect(try box.open(sealed) == Array("secret".utf8))
        var altered = sealed
        altered[14] ^= 1
        #expect(throws: SealedBox.Failure.corrupt) { _ = try box.open(altered) }
        #expect(throws: SealedBox.Failure.corrupt) { _ = try SealedBox(key: SealedBox.newKey()).open(sealed) }
        #expect(throws: SealedBox.Failure.corrupt) { _ = try box.open([1, 2, 3]) }
    }

    /// Processes starting together (proxy, EC2 API, nimbus manage) end with one sealing key.
    @Test func racingStartsShareOneSealingKey() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/race.key"
        let keys = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<16 { group.addTask { try ControlPlaneSQLStore.loadKey(file) } }
            return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
        }
        #expect(Set(keys.map { Hex.encode($0) }).count == 1)
        #expect(try ControlPlaneSQLStore.loadKey(file) == keys[0])
    }
}

extension ControlPlaneStoreTests {
    /// A host that reaches another host's control plane (`nimbus manage --control-db`) must use
    /// that cloud's sealing key, cloud key and endpoints: missing ones are an error, never made.
    @Test func anotherHostsCloudIsNeverGivenKeysMadeHere() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(throws: ControlPlaneError.self) {
            _ = try ControlPlaneSQLStore.open(database: "\(dir)/control.db", keyFile: "\(dir)/control.key", createKey: false)
        }
        #expect(throws: ControlPlaneError.self) { _ = try CloudAuthority.open(directory: dir, create: false) }
        #expect(throws: ControlPlaneError.self) { _ = try CloudEndpoints.recorded(directory: dir) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".key") || $0.hasSuffix(".pem") }.isEmpty)
        // The cloud's own files are used as they are.
        let key = try ControlPlaneSQLStore.loadKey("\(dir)/control.key")
        #expect(try ControlPlaneSQLStore.readKey("\(dir)/control.key") == key)
        _ = try ControlPlaneSQLStore.open(database: "\(dir)/control.db", keyFile: "\(dir)/control.key", createKey: false)
        let made = try CloudAuthority.open(directory: dir)
        #expect(try CloudAuthority.open(directory: dir, create: false).certificate.pem() == made.certificate.pem())
        try CloudEndpoints.standard.save(directory: dir)
        #expect(try CloudEndpoints.recorded(directory: dir) == .standard)
    }
}
