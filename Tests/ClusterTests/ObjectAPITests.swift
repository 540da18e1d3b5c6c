import Digest
import Foundation
import NIOCore
import NimbusCore
import Ring
import Testing

/// The object and listing API through the proxy, as Swift clients use it.
@Suite(.serialized, .cluster) final class ObjectAPITests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
        _ = try await h.request("PUT", "\(account)/api", headers: auth)
    }


    /// An empty object's GET ends cleanly on the object server, leaving its keep-alive
    /// connection usable (it once cut the connection after the headers, so the proxy's next
    /// write on that pooled connection failed and went to a handoff; reads then saw stale
    /// metadata on the primary).
    @Test func emptyObjectReadsKeepNodeConnectionsUsableAndWritesReachEveryPrimary() async throws {
        #expect(try await h.request("PUT", "\(account)/api/empty", headers: auth, body: []).status == 201)
        let ring = try RingSet.load(directory: h.aio.ringDirectory).object
        let accountName = String(account.split(separator: "/").last!)
        let (part, nodes) = ring.nodes(account: accountName, container: "api", object: "empty")
        let node = nodes[0]
        let fd = try rawConnect(port: node.port)
        defer { close(fd) }
        let objectPath = "/\(node.device)/\(part)/\(accountName)/api/empty"
        for round in 0..<3 {
            let request = "GET \(objectPath) HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
            _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            var buf = [UInt8](repeating: 0, count: 8192)
            let n = recv(fd, &buf, buf.count, 0)
            let text = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
            #expect(text.hasPrefix("HTTP/1.1 200"), "round \(round): \(text.prefix(60))")
        }
        // And through the proxy: reads of the empty object, then a POST every primary applies.
        for _ in 0..<5 { _ = try await h.request("GET", "\(account)/api/empty", headers: auth) }
        #expect(try await h.request("POST", "\(account)/api/empty", headers: auth + [("X-Object-Meta-Color", "orange")]).status == 202)
        for n in nodes {
            let r = try await h.client.request(host: n.ip, port: n.port, method: "HEAD", uri: "/\(n.device)/\(part)/\(accountName)/api/empty",
                                               headers: [:], timeout: .seconds(10))
            #expect(r.headers.first(name: "x-object-meta-color") == "orange", "\(n.address)")
        }
    }

    @Test func putThenGetReturnsSameBytesAndETag() async throws {
        let body = (0..<300_000).map { UInt8($0 % 253) }
        let put = try await h.request("PUT", "\(account)/api/blob", headers: auth + [("Content-Type", "application/x-test"), ("X-Object-Meta-Kind", "test")], body: body)
        #expect(put.status == 201)
        #expect(put.headers.first(name: "etag") == Digests.md5Hex(body))
        let get = try await h.request("GET", "\(account)/api/blob", headers: auth)
        #expect(get.status == 200)
        #expect(Array(get.body.readableBytesView) == body)
        #expect(get.headers.first(name: "content-type") == "application/x-test")
        #expect(get.headers.first(name: "x-object-meta-kind") == "test")
        #expect(get.headers.first(name: "etag") == Digests.md5Hex(body))
    }

    @Test func rangesSingleSuffixAndMultipart() async throws {
        let body = Array("0123456789abcdefghij".utf8)
        _ = try await h.request("PUT", "\(account)/api/r", headers: auth, body: body)
        let one = try await h.request("GET", "\(account)/api/r", headers: auth + [("Range", "bytes=2-5")])
        #expect(one.status == 206)
        #expect(String(buffer: one.body) == "2345")
        #expect(one.headers.first(name: "content-range") == "bytes 2-5/20")
        let suffix = try await h.request("GET", "\(account)/api/r", headers: auth + [("Range", "bytes=-3")])
        #expect(String(buffer: suffix.body) == "hij")
        let multi = try await h.request("GET", "\(account)/api/r", headers: auth + [("Range", "bytes=0-1,10-11")])
        #expect(multi.status == 206)
        #expect(multi.headers.first(name: "content-type")?.hasPrefix("multipart/byteranges") == true)
        let text = String(buffer: multi.body)
        #expect(text.contains("Content-Range: bytes 0-1/20\r\n\r\n01"))
        #expect(text.contains("Content-Range: bytes 10-11/20\r\n\r\nab"))
        let bad = try await h.request("GET", "\(account)/api/r", headers: auth + [("Range", "bytes=50-60")])
        #expect(bad.status == 416)
    }

    @Test func conditionalRequests() async throws {
        let body = Array("conditional".utf8)
        let etag = Digests.md5Hex(body)
        _ = try await h.request("PUT", "\(account)/api/cond", headers: auth, body: body)
        #expect(try await h.request("GET", "\(account)/api/cond", headers: auth + [("If-None-Match", etag)]).status == 304)
        #expect(try await h.request("GET", "\(account)/api/cond", headers: auth + [("If-Match", "\"nope\"")]).status == 412)
        #expect(try await h.request("GET", "\(account)/api/cond", headers: auth + [("If-Match", "\"\(etag)\"")]).status == 200)
        let future = HTTPDate.format(Int64(Date().timeIntervalSince1970) + 3600)
        let past = HTTPDate.format(Int64(Date().timeIntervalSince1970) - 3600)
        #expect(try await h.request("GET", "\(account)/api/cond", headers: auth + [("If-Modified-Since", future)]).status == 304)
        #expect(try await h.request("GET", "\(account)/api/cond", headers: auth + [("If-Unmodified-Since", past)]).status == 412)
    }

    @Test func postReplacesMetadataAndDeleteRemoves() async throws {
        _ = try await h.request("PUT", "\(account)/api/meta", headers: auth + [("X-Object-Meta-A", "1")], body: [1])
        #expect(try await h.request("POST", "\(account)/api/meta", headers: auth + [("X-Object-Meta-B", "2")]).status == 202)
        let head = try await h.request("HEAD", "\(account)/api/meta", headers: auth)
        #expect(head.headers.first(name: "x-object-meta-a") == nil)
        #expect(head.headers.first(name: "x-object-meta-b") == "2")
        #expect(head.headers.first(name: "content-length") == "1")
        #expect(try await h.request("DELETE", "\(account)/api/meta", headers: auth).status == 204)
        #expect(try await h.request("HEAD", "\(account)/api/meta", headers: auth).status == 404)
        #expect(try await h.request("DELETE", "\(account)/api/meta", headers: auth).status == 404)
    }

    @Test func expiredObjectsAreGoneOnRead() async throws {
        #expect(try await h.request("PUT", "\(account)/api/exp", headers: auth + [("X-Delete-After", "60")], body: [1]).status == 201)
        #expect(try await h.request("GET", "\(account)/api/exp", headers: auth).status == 200)
        h.clock.advance(61)
        #expect(try await h.request("GET", "\(account)/api/exp", headers: auth).status == 404)
        #expect(try await h.request("PUT", "\(account)/api/exp2", headers: auth + [("X-Delete-At", "1000")], body: [1]).status == 400)
    }

    @Test func listingsInPlainJSONAndXML() async throws {
        _ = try await h.request("PUT", "\(account)/list", headers: auth)
        for n in ["a.txt", "dir/b", "dir/c", "z"] {
            _ = try await h.request("PUT", "\(account)/list/\(n)", headers: auth, body: Array(n.utf8))
        }
        let plain = try await h.request("GET", "\(account)/list", headers: auth)
        #expect(String(buffer: plain.body) == "a.txt\ndir/b\ndir/c\nz\n")
        let json = try await h.request("GET", "\(account)/list?format=json&delimiter=/", headers: auth)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.body.readableBytesView)) as? [[String: Any]]
        #expect(parsed?.count == 3)
        #expect(parsed?[1]["subdir"] as? String == "dir/")
        #expect(parsed?[0]["bytes"] as? Int == 5)
        #expect(parsed?[0]["content_type"] as? String == "text/plain")
        let xml = try await h.request("GET", "\(account)/list?format=xml&prefix=dir/", headers: auth)
        #expect(String(buffer: xml.body).contains("<name>dir/c</name>"))
        let empty = try await h.request("GET", "\(account)/list?prefix=nothing", headers: auth)
        #expect(empty.status == 204)
        let accountJSON = try await h.request("GET", "\(account)?format=json", headers: auth)
        let containers = try JSONSerialization.jsonObject(with: Data(accountJSON.body.readableBytesView)) as? [[String: Any]]
        #expect(containers?.contains { $0["name"] as? String == "list" } == true)
    }

    @Test func lastWriteWins() async throws {
        _ = try await h.request("PUT", "\(account)/api/lww", headers: auth, body: Array("first".utf8))
        _ = try await h.request("PUT", "\(account)/api/lww", headers: auth, body: Array("second".utf8))
        #expect(String(buffer: try await h.request("GET", "\(account)/api/lww", headers: auth).body) == "second")
    }

    @Test func chunkedUploadIsStored() async throws {
        let conn = try await h.client.connect(host: "127.0.0.1", port: h.proxyPort)
        defer { conn.close() }
        try await conn.sendHead(method: "PUT", uri: "\(account)/api/chunked",
                                headers: .init(auth + [("Transfer-Encoding", "chunked"), ("Host", "h")]))
        for part in ["hello ", "chunked ", "world"] { try await conn.sendBody(ByteBuffer(string: part)) }
        try await conn.sendEnd()
        #expect(try await conn.readHead().status.code == 201)
        _ = try await conn.readFullBody()
        #expect(String(buffer: try await h.request("GET", "\(account)/api/chunked", headers: auth).body) == "hello chunked world")
    }

    @Test func infoAndHealthcheckNeedNoToken() async throws {
        let info = try await h.request("GET", "/info")
        let obj = try JSONSerialization.jsonObject(with: Data(info.body.readableBytesView)) as? [String: Any]
        let swift = obj?["swift"] as? [String: Any]
        #expect(swift?["max_file_size"] as? Int == 5_368_709_122)
        #expect(swift?["container_listing_limit"] as? Int == 10_000)
        #expect(try await h.request("GET", "/healthcheck").status == 200)
    }

    @Test func accountUsageFollowsObjects() async throws {
        _ = try await h.request("PUT", "\(account)/usage", headers: auth)
        _ = try await h.request("PUT", "\(account)/usage/o", headers: auth, body: Array(repeating: 1, count: 1234))
        let c = try await h.request("HEAD", "\(account)/usage", headers: auth)
        #expect(c.headers.first(name: "x-container-object-count") == "1")
        #expect(c.headers.first(name: "x-container-bytes-used") == "1234")
        var bytes = ""
        for _ in 0..<40 {
            let a = try await h.request("HEAD", account, headers: auth)
            bytes = a.headers.first(name: "x-account-bytes-used") ?? ""
            if Int(bytes) ?? 0 >= 1234 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Int(bytes) ?? 0 >= 1234)
    }
}
