@testable import ControlPlane
import Foundation
import Testing

/// Key pairs, security groups, addresses, images and object-store keys in the store.
@Suite struct ComputeRecordsTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID().uuidString)").path

    func store(_ engine: TestEngine) async throws -> ControlPlaneSQLStore {
        let s = try await engine.store(dir: dir)
        _ = try await s.createUser("alice", admin: false)
        _ = try await s.createProject("lab", manager: "alice")
        return s
    }

    @Test(arguments: TestEngine.available) func keyPairsAreUniquePerProject(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pair = KeyPair(project: "lab", name: "k", fingerprint: "aa", publicKey: "ssh-ed25519 AAAA", keyType: "ed25519")
        try await s.addKeyPair(pair)
        await #expect(throws: ControlPlaneError.duplicate("key pair k")) { try await s.addKeyPair(pair) }
        #expect(try await s.keyPairs(project: "lab", names: []).map(\.name) == ["k"])
        #expect(try await s.keyPairs(project: "other", names: []).isEmpty)
        #expect(try await s.deleteKeyPair(project: "lab", name: "k"))
        #expect(try await !s.deleteKeyPair(project: "lab", name: "k"))
    }

    @Test(arguments: TestEngine.available) func groupsSortByNameAroundDefaultAndRulesAreNeverDuplicated(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["web", "Zed", "alpha", "defaulta", "defaul", "_x"] {
            _ = try await s.createSecurityGroup(project: "lab", name: name, description: "d")
        }
        let names = try await s.securityGroups(project: "lab").map(\.name)
        #expect(names == ["Zed", "_x", "alpha", "defaul", "default", "defaulta", "web"])
        await #expect(throws: ControlPlaneError.duplicate("security group web")) {
            _ = try await s.createSecurityGroup(project: "lab", name: "web", description: "again")
        }
        let web = try #require(try await s.securityGroups(project: "lab").first { $0.name == "web" })
        let ssh = SecurityRule(ipProtocol: "tcp", fromPort: 22, toPort: 22, cidr: "0.0.0.0/0")
        let fromAlpha = SecurityRule(ipProtocol: "tcp", fromPort: 80, toPort: 80, sourceProject: "lab", sourceGroup: "alpha")
        try await s.authorize(project: "lab", groupID: web.id, rules: [ssh, fromAlpha])
        await #expect(throws: ControlPlaneError.self) { try await s.authorize(project: "lab", groupID: web.id, rules: [ssh]) }
        let alpha = try #require(try await s.securityGroups(project: "lab").first { $0.name == "alpha" })
        await #expect(throws: ControlPlaneError.self) { try await s.deleteSecurityGroup(project: "lab", id: alpha.id) }
        try await s.revoke(project: "lab", groupID: web.id, rules: [ssh, fromAlpha])
        await #expect(throws: ControlPlaneError.self) { try await s.revoke(project: "lab", groupID: web.id, rules: [ssh]) }
        try await s.deleteSecurityGroup(project: "lab", id: alpha.id)
        let def = try #require(try await s.securityGroups(project: "lab").first { $0.name == "default" })
        await #expect(throws: ControlPlaneError.self) { try await s.deleteSecurityGroup(project: "lab", id: def.id) }
        await #expect(throws: ControlPlaneError.notFound("security group \(web.id)")) {
            try await s.authorize(project: "other", groupID: web.id, rules: [ssh])
        }
    }

    @Test(arguments: TestEngine.available) func addressesComeFromThePoolOnceEach(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pool = ["10.9.0.1", "10.9.0.2"]
        #expect(try await s.allocateAddress(project: "lab", pool: pool)?.ip == "10.9.0.1")
        #expect(try await s.allocateAddress(project: "x", pool: pool)?.ip == "10.9.0.2")
        #expect(try await s.allocateAddress(project: "lab", pool: pool) == nil)
        await #expect(throws: ControlPlaneError.self) { try await s.releaseAddress(project: "lab", ip: "10.9.0.2") }
        try await s.releaseAddress(project: "lab", ip: "10.9.0.1")
        #expect(try await s.addresses(project: "lab").isEmpty)
    }

    @Test(arguments: TestEngine.available) func imagesMoveThroughTheirStatesAndCarryLaunchPermissions(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = ImageRecord(id: "ami-12345678", project: "lab", location: "b/x.manifest.xml", name: "x", imageType: "machine",
                                architecture: "x86_64", kernelID: "aki-00000001")
        try await s.addImage(image)
        await #expect(throws: ControlPlaneError.self) { try await s.addImage(image) }
        try await s.setImageState(image.id, .available, reason: nil, size: 42)
        try await s.setImageLaunchPermission(image.id, isPublic: false, projects: ["friends"])
        let stored = try #require(try await s.image(image.id))
        #expect(stored.state == .available && stored.size == 42 && stored.kernelID == "aki-00000001")
        #expect(stored.isLaunchable(by: "friends") && !stored.isLaunchable(by: "strangers"))
        try await s.deleteImage(image.id)
        #expect(try await s.images().isEmpty)
    }

    @Test(arguments: TestEngine.available) func storageKeysAreCheckedAgainstAHashAndOnlyForMembers(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = try await s.storageKey(user: "alice", project: "lab")
        #expect(try await s.storageKey(user: "alice", project: "lab") == key)
        #expect(try await s.checkStorageKey(user: "alice", project: "lab", key: key))
        #expect(try await !s.checkStorageKey(user: "alice", project: "lab", key: key + "x"))
        #expect(try await !s.checkStorageKey(user: "bob", project: "lab", key: key))
        let stored = try await s.engine.transaction { db in try db.query("SELECT * FROM storage_keys", []).flatMap { $0.compactMap(\.text) } }
        #expect(!stored.contains { $0.contains(key) }, "the key is not in the database")
        func cert(_ n: Int) -> String { "-----BEGIN CERTIFICATE-----\nC\(n)\n-----END CERTIFICATE-----\n" }
        #expect(try await s.certificates(user: "alice", project: "lab").isEmpty)
        for n in 1...7 { try await s.addCertificate(cert(n), user: "alice", project: "lab") }
        #expect(try await s.certificates(user: "alice", project: "lab") == (3...7).map(cert), "the newest five, oldest first")
        await #expect(throws: ControlPlaneError.self) { try await s.addCertificate(cert(8), user: "bob", project: "lab") }
    }

    /// Racing writers get the store's own answers on both engines (PostgreSQL runs a
    /// transaction again when it loses a unique key to another).
    @Test(arguments: TestEngine.available) func racesEndInTheStoresAnswersNotEngineErrors(_ engine: TestEngine) async throws {
        let s = try await store(engine)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await s.createSecurityGroup(project: "lab", name: "same", description: "d")
                        return "created"
                    } catch let e as ControlPlaneError {
                        return "\(e)"
                    } catch {
                        return "unexpected: \(String(reflecting: error))"
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "created" }.count == 1, "\(outcomes.filter { $0.hasPrefix("unexpected") })")
        #expect(outcomes.filter { $0 == "security group same already exists" }.count == 19)
        let pool = (1...10).map { "10.8.0.\($0)" }
        let addresses = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    do {
                        return try await s.allocateAddress(project: "lab", pool: pool)?.ip
                    } catch {
                        Issue.record("unexpected: \(String(reflecting: error))")
                        return "failed"
                    }
                }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(Set(addresses.compactMap { $0 }) == Set(pool) && addresses.filter { $0 == nil }.count == 2)
    }
}
