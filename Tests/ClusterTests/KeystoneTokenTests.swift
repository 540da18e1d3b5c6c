import Foundation
@testable import Proxy
import Testing

/// keystoneauth's mapping of a validated Keystone token to a Swift identity.
@Suite struct KeystoneTokenTests {
    func body(roles: [String], project: Bool = true) -> [UInt8] {
        let roleList = roles.map { #"{"id": "r", "name": "\#($0)"}"# }.joined(separator: ",")
        let p = project ? #""project": {"id": "p1", "name": "demo", "domain": {"id": "default"}},"# : ""
        return Array("""
            {"token": {\(p) "user": {"id": "u1", "name": "alice"}, "roles": [\(roleList)],
             "expires_at": "2026-12-01T10:00:00.000000Z"}}
            """.utf8)
    }

    @Test func anOperatorRoleOwnsTheProjectsAccount() throws {
        let config = KeystoneAuthConfig(url: "http://k/v3")
        let id = try #require(KeystoneTokens.identity(fromTokenBody: body(roles: ["member", "reader"]), config: config))
        #expect(id.storageAccount == "AUTH_p1")
        #expect(id.groups.contains("AUTH_p1"))
        #expect(id.groups.contains("p1:u1") && id.groups.contains("demo:alice"))
        #expect(!id.isResellerAdmin)
    }

    @Test func withoutAnOperatorRoleTheAccountIsOnlyReachedThroughACLs() throws {
        let id = try #require(KeystoneTokens.identity(fromTokenBody: body(roles: ["reader"]), config: KeystoneAuthConfig(url: "http://k/v3")))
        #expect(!id.groups.contains("AUTH_p1"))
        #expect(id.groups.contains("p1:u1"))
    }

    @Test func resellerAdminAndUnscopedTokens() throws {
        let config = KeystoneAuthConfig(url: "http://k/v3")
        #expect(KeystoneTokens.identity(fromTokenBody: body(roles: ["ResellerAdmin"]), config: config)?.isResellerAdmin == true)
        #expect(KeystoneTokens.identity(fromTokenBody: body(roles: ["member"], project: false), config: config) == nil)
        #expect(KeystoneTokens.identity(fromTokenBody: Array("not json".utf8), config: config) == nil)
        let expiry = try #require(KeystoneTokens.expiry(fromTokenBody: body(roles: [])))
        #expect(expiry == 1_796_119_200)
    }
}
