import Digest
import Foundation
import NIOCore
import NimbusCore
import Testing

/// Static large objects, legacy versioning and bulk delete through the proxy.
@Suite(.serialized, .cluster) final class LargeObjectTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
        _ = try await h.request("PUT", "\(account)/segs", headers: auth)
    }


    func putSegments(_ parts: [String: [UInt8]]) async throws {
        for (name, bytes) in parts {
            #expect(try await h.request("PUT", "\(account)/segs/\(name)", headers: auth, body: bytes).status == 201)
        }
    }

    func json(_ value: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: value)) }

    @Test func sloPutThenGetConcatenatesSegmentsWithSwiftsETag() async throws {
        let a = [UInt8](repeating: 97, count: 1000), b = [UInt8](repeating: 98, count: 500)
        try await putSegments(["a": a, "b": b])
        let manifest = json([["path": "/segs/a", "etag": Digests.md5Hex(a), "size_bytes": 1000],
                             ["path": "segs/b"], ["data": Data("tail".utf8).base64EncodedString()]])
        let put = try await h.request("PUT", "\(account)/segs/big?multipart-manifest=put", headers: auth, body: manifest)
        #expect(put.status == 201)
        let sloETag = Digests.md5Hex(Digests.md5Hex(a) + Digests.md5Hex(b) + Digests.md5Hex(Array("tail".utf8)))
        #expect(put.headers.first(name: "etag") == "\"\(sloETag)\"")

        let get = try await h.request("GET", "\(account)/segs/big", headers: auth)
        #expect(get.status == 200)
        #expect(Array(get.body.readableBytesView) == a + b + Array("tail".utf8))
        #expect(get.headers.first(name: "etag") == "\"\(sloETag)\"")

        let ranged = try await h.request("GET", "\(account)/segs/big", headers: auth + [("Range", "bytes=998-1001")])
        #expect(ranged.status == 206)
        #expect(String(buffer: ranged.body) == "aabb")
        #expect(ranged.headers.first(name: "content-range") == "bytes 998-1001/1504")

        // The listing shows the large object's size and both ETags.
        let listing = try await h.request("GET", "\(account)/segs?format=json", headers: auth)
        let rows = try JSONSerialization.jsonObject(with: Data(listing.body.readableBytesView)) as! [[String: Any]]
        let row = rows.first { $0["name"] as? String == "big" }!
        #expect(row["bytes"] as? Int == 1504)
        #expect(row["slo_etag"] as? String == "\"\(sloETag)\"")
        #expect((row["content_type"] as? String)?.contains("swift_bytes") == false)

        let raw = try await h.request("GET", "\(account)/segs/big?multipart-manifest=get&format=raw", headers: auth)
        let rawRows = try JSONSerialization.jsonObject(with: Data(raw.body.readableBytesView)) as! [[String: Any]]
        #expect(rawRows.count == 3)
        #expect(rawRows[1]["path"] as? String == "/segs/b")
        #expect(rawRows[1]["size_bytes"] as? Int == 500)
    }

    @Test func sloWithWrongSegmentETagIsRejectedAndNothingIsStored() async throws {
        try await putSegments(["x": [1, 2, 3]])
        let manifest = json([["path": "/segs/x", "etag": "not-it"], ["path": "/segs/missing"]])
        let put = try await h.request("PUT", "\(account)/segs/bad?multipart-manifest=put", headers: auth, body: manifest)
        #expect(put.status == 400)
        let text = String(buffer: put.body)
        #expect(text.contains("/segs/x, Etag Mismatch"))
        #expect(text.contains("/segs/missing, 404 Not Found"))
        #expect(try await h.request("HEAD", "\(account)/segs/bad", headers: auth).status == 404)
        let notJSON = try await h.request("PUT", "\(account)/segs/bad?multipart-manifest=put", headers: auth, body: Array("{".utf8))
        #expect(notJSON.status == 400)
        let reserved = try await h.request("PUT", "\(account)/segs/bad", headers: auth + [("X-Static-Large-Object", "true")], body: [])
        #expect(reserved.status == 400)
    }

    @Test func sloDeleteRemovesSegmentsAndManifest() async throws {
        try await putSegments(["d1": [1], "d2": [2]])
        let manifest = json([["path": "/segs/d1"], ["path": "/segs/d2"]])
        #expect(try await h.request("PUT", "\(account)/segs/dm?multipart-manifest=put", headers: auth, body: manifest).status == 201)
        let del = try await h.request("DELETE", "\(account)/segs/dm?multipart-manifest=delete", headers: auth + [("Accept", "application/json")])
        #expect(del.status == 200)
        let result = try JSONSerialization.jsonObject(with: Data(del.body.readableBytesView)) as! [String: Any]
        #expect(result["Number Deleted"] as? Int == 3)
        #expect(result["Response Status"] as? String == "200 OK")
        for name in ["d1", "d2", "dm"] {
            #expect(try await h.request("HEAD", "\(account)/segs/\(name)", headers: auth).status == 404)
        }
    }

    @Test func versionsLocationKeepsOverwrittenObjectsAndDeleteRestoresThem() async throws {
        #expect(try await h.request("PUT", "\(account)/old", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/cur", headers: auth + [("X-Versions-Location", "old")]).status == 201)
        let head = try await h.request("HEAD", "\(account)/cur", headers: auth)
        #expect(head.headers.first(name: "x-versions-location") == "old")
        for text in ["one", "two", "three"] {
            #expect(try await h.request("PUT", "\(account)/cur/obj", headers: auth, body: Array(text.utf8)).status == 201)
        }
        let versions = try await h.request("GET", "\(account)/old", headers: auth)
        let names = String(buffer: versions.body).split(separator: "\n")
        #expect(names.count == 2)
        #expect(names.allSatisfy { $0.hasPrefix("003obj/") })
        #expect(try await h.request("DELETE", "\(account)/cur/obj", headers: auth).status == 204)
        #expect(String(buffer: try await h.request("GET", "\(account)/cur/obj", headers: auth).body) == "two")
        #expect(try await h.request("DELETE", "\(account)/cur/obj", headers: auth).status == 204)
        #expect(String(buffer: try await h.request("GET", "\(account)/cur/obj", headers: auth).body) == "one")
        #expect(try await h.request("DELETE", "\(account)/cur/obj", headers: auth).status == 204)
        #expect(try await h.request("GET", "\(account)/cur/obj", headers: auth).status == 404)
        let both = try await h.request("POST", "\(account)/cur", headers: auth + [("X-Versions-Location", "a"), ("X-History-Location", "b")])
        #expect(both.status == 400)
    }

    @Test func bulkDeleteRemovesListedObjectsAndCountsMissingOnes() async throws {
        #expect(try await h.request("PUT", "\(account)/bulk", headers: auth).status == 201)
        for name in ["a b", "c"] {
            _ = try await h.request("PUT", "\(account)/bulk/\(PercentCoding.encodePath(name))", headers: auth, body: [1])
        }
        let list = "/bulk/a%20b\n/bulk/c\n/bulk/nothere\n/bulk\n"
        let r = try await h.request("POST", "\(account)?bulk-delete", headers: auth + [("Content-Type", "text/plain"), ("Accept", "application/json")],
                                    body: Array(list.utf8))
        let result = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! [String: Any]
        #expect(result["Number Deleted"] as? Int == 3)
        #expect(result["Number Not Found"] as? Int == 1)
        #expect(try await h.request("HEAD", "\(account)/bulk", headers: auth).status == 404)
    }
}

extension LargeObjectTests {
    @Test func extractArchiveCreatesContainersAndObjectsFromATarball() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("xa-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/src/photos/2026", withIntermediateDirectories: true)
        try Data("jpeg bytes".utf8).write(to: URL(fileURLWithPath: "\(dir)/src/photos/2026/a b.jpg"))
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: "\(dir)/src/top.txt"))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-czf", "\(dir)/a.tgz", "-C", "\(dir)/src", "."]
        try tar.run()
        tar.waitUntilExit()
        let body = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.tgz")))
        let r = try await h.request("PUT", "\(account)?extract-archive=tar.gz", headers: auth + [("Accept", "application/json")], body: body)
        #expect(r.status == 200)
        let result = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! [String: Any]
        #expect(result["Number Files Created"] as? Int == 1)
        #expect(result["Response Status"] as? String == "201 Created")
        let got = try await h.request("GET", "\(account)/photos/2026/a%20b.jpg", headers: auth)
        #expect(String(buffer: got.body) == "jpeg bytes")
        let bad = try await h.request("PUT", "\(account)/x?extract-archive=tar.gz", headers: auth + [("Accept", "application/json")],
                                      body: Array("not gzip".utf8))
        let badResult = try JSONSerialization.jsonObject(with: Data(bad.body.readableBytesView)) as! [String: Any]
        #expect(badResult["Response Status"] as? String == "400 Bad Request")
        #expect(try await h.request("HEAD", "\(account)/x", headers: auth).status == 404)
    }
}
