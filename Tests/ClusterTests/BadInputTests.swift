import Digest
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import Testing

/// Bad input gets a clear status and leaves nothing half-stored.
@Suite(.serialized, .cluster) final class BadInputTests {
    let h: ClusterHarness
    let token: String
    let account: String
    var auth: [(String, String)] { [("X-Auth-Token", token)] }

    init() async throws {
        h = try ClusterHarness.scoped()
        (token, account) = try await h.login()
        _ = try await h.request("PUT", "\(account)/c", headers: [("X-Auth-Token", token)])
    }


    @Test func objectNameLongerThan1024BytesIs400() async throws {
        let name = String(repeating: "n", count: 1025)
        #expect(try await h.request("PUT", "\(account)/c/\(name)", headers: auth, body: [1]).status == 400)
        let ok = String(repeating: "n", count: 1024)
        #expect(try await h.request("PUT", "\(account)/c/\(ok)", headers: auth, body: [1]).status == 201)
    }

    @Test func invalidUTF8InANameIs412() async throws {
        #expect(try await h.request("PUT", "\(account)/c/bad%FF%FEname", headers: auth, body: [1]).status == 412)
    }

    @Test func containerNameWithSlashOrTooLongIs400() async throws {
        #expect(try await h.request("PUT", "\(account)/a%2Fb", headers: auth).status == 400)
        #expect(try await h.request("PUT", "\(account)/\(String(repeating: "c", count: 257))", headers: auth).status == 400)
        #expect(try await h.request("PUT", "\(account)/\(String(repeating: "c", count: 256))", headers: auth).status == 201)
    }

    @Test func missingTokenIs401AndAnotherAccountsTokenIs403() async throws {
        #expect(try await h.request("GET", "\(account)/c").status == 401)
        #expect(try await h.request("GET", "\(account)/c", headers: [("X-Auth-Token", "AUTH_tkbogus")]).status == 401)
        let (other, _) = try await h.login("test2:tester2", "testing2")
        #expect(try await h.request("GET", "\(account)/c", headers: [("X-Auth-Token", other)]).status == 403)
        #expect(try await h.request("GET", "/auth/v1.0", headers: [("X-Auth-User", "test:tester"), ("X-Auth-Key", "wrong")]).status == 401)
    }

    @Test func etagMismatchIs422AndStoresNothing() async throws {
        let r = try await h.request("PUT", "\(account)/c/etag", headers: auth + [("ETag", Digests.md5Hex("other"))], body: Array("data".utf8))
        #expect(r.status == 422)
        #expect(try await h.request("GET", "\(account)/c/etag", headers: auth).status == 404)
        #expect(h.devicesHolding(account: "AUTH_test", container: "c", object: "etag").isEmpty)
        let good = try await h.request("PUT", "\(account)/c/etag", headers: auth + [("ETag", Digests.md5Hex("data"))], body: Array("data".utf8))
        #expect(good.status == 201)
    }

    @Test func clientDisconnectMidBodyLeavesNoObjectAndNoTempFile() async throws {
        let conn = try await h.client.connect(host: "127.0.0.1", port: h.proxyPort)
        var headers = HTTPHeaders()
        headers.add(name: "X-Auth-Token", value: token)
        headers.add(name: "Content-Length", value: "1000000")
        headers.add(name: "Host", value: "127.0.0.1")
        try await conn.sendHead(method: "PUT", uri: "\(account)/c/cut", headers: headers)
        try await conn.sendBody(ByteBuffer(bytes: Array(repeating: 1, count: 300_000)))
        try await Task.sleep(for: .milliseconds(200))
        conn.close()
        var temps: [String] = ["?"]
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(100))
            temps = h.tempFiles()
            if temps.isEmpty { break }
        }
        #expect(temps.isEmpty, "temp files left: \(temps)")
        #expect(try await h.request("GET", "\(account)/c/cut", headers: auth).status == 404)
        #expect(h.devicesHolding(account: "AUTH_test", container: "c", object: "cut").isEmpty)
    }

    @Test func metadataOverTheLimitIs400AndExactlyTheLimitIsAccepted() async throws {
        // 16 items of 3-byte names and 253-byte values: exactly 4096 bytes.
        var meta = (0..<16).map { (String(format: "X-Object-Meta-k%02d", $0), String(repeating: "v", count: 253)) }
        #expect(try await h.request("PUT", "\(account)/c/meta", headers: auth + meta, body: [1]).status == 201)
        let head = try await h.request("HEAD", "\(account)/c/meta", headers: auth)
        #expect(head.headers.first(name: "X-Object-Meta-K15")?.count == 253)
        meta[0].1 += "v"
        #expect(try await h.request("PUT", "\(account)/c/meta2", headers: auth + meta, body: [1]).status == 400)
        let many = (0..<91).map { ("X-Object-Meta-m\($0)", "v") }
        #expect(try await h.request("PUT", "\(account)/c/meta3", headers: auth + many, body: [1]).status == 400)
        #expect(try await h.request("PUT", "\(account)/c/meta4", headers: auth + [("X-Object-Meta-" + String(repeating: "k", count: 129), "v")], body: [1]).status == 400)
    }

    @Test func contentLengthOverMaxFileSizeIs413() async throws {
        let conn = try await h.client.connect(host: "127.0.0.1", port: h.proxyPort)
        defer { conn.close() }
        var headers = HTTPHeaders()
        headers.add(name: "X-Auth-Token", value: token)
        headers.add(name: "Content-Length", value: "5368709123")
        headers.add(name: "Expect", value: "100-continue")
        headers.add(name: "Host", value: "127.0.0.1")
        try await conn.sendHead(method: "PUT", uri: "\(account)/c/huge", headers: headers)
        let early = try await conn.awaitContinue()
        #expect(early?.status.code == 413)
    }

    @Test func putWithoutLengthIs411AndUnknownContainerIs404() throws {
        let status = try rawStatus(port: h.proxyPort, "PUT \(account)/c/nolength HTTP/1.1\r\nHost: x\r\nX-Auth-Token: \(token)\r\n\r\n")
        #expect(status == 411)
    }

    @Test func putIntoAMissingContainerIs404() async throws {
        #expect(try await h.request("PUT", "\(account)/nosuch/o", headers: auth, body: [1]).status == 404)
    }

    @Test func deletingANonEmptyContainerIs409() async throws {
        #expect(try await h.request("PUT", "\(account)/full", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/full/o", headers: auth, body: [1]).status == 201)
        #expect(try await h.request("DELETE", "\(account)/full", headers: auth).status == 409)
        #expect(try await h.request("DELETE", "\(account)/full/o", headers: auth).status == 204)
        #expect(try await h.request("DELETE", "\(account)/full", headers: auth).status == 204)
        #expect(try await h.request("GET", "\(account)/full", headers: auth).status == 404)
    }
}
