import Digest
import Foundation
import NIOCore
import NimbusCore
import Testing

/// Quotas, temp URLs, symlinks, static web and CORS through the proxy.
@Suite(.serialized, .cluster) final class MiddlewareTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
    }

    @Test func containerQuotaRejectsTheObjectOverTheLimit() async throws {
        #expect(try await h.request("PUT", "\(account)/q", headers: auth + [("X-Container-Meta-Quota-Count", "x")]).status == 400)
        #expect(try await h.request("PUT", "\(account)/q", headers: auth + [("X-Container-Meta-Quota-Bytes", "10")]).status == 201)
        #expect(try await h.request("PUT", "\(account)/q/a", headers: auth, body: Array(repeating: 1, count: 8)).status == 201)
        // Listing usage reaches the proxy through the container server.
        try await Task.sleep(for: .milliseconds(100))
        let over = try await h.request("PUT", "\(account)/q/b", headers: auth, body: Array(repeating: 1, count: 8))
        #expect(over.status == 413)
        #expect(try await h.request("HEAD", "\(account)/q/b", headers: auth).status == 404)
        // Only a reseller admin sets an account quota.
        #expect(try await h.request("POST", account, headers: auth + [("X-Account-Meta-Quota-Bytes", "5")]).status == 403)
    }

    @Test func tempURLGrantsOnlyTheSignedMethodAndPathUntilExpiry() async throws {
        #expect(try await h.request("POST", account, headers: auth + [("X-Account-Meta-Temp-URL-Key", "secret")]).status == 204)
        #expect(try await h.request("PUT", "\(account)/t", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/t/o", headers: auth + [("X-Object-Meta-Private", "x")], body: Array("hi".utf8)).status == 201)
        let expires = Int64(h.clock.now()) + 60
        let path = "/v1/\(account.split(separator: "/").last!)/t/o"
        let sig = Hex.encode(Digests.hmac(.sha256, key: Array("secret".utf8), message: Array("GET\n\(expires)\n\(path)".utf8)))
        let get = try await h.request("GET", "\(path)?temp_url_sig=\(sig)&temp_url_expires=\(expires)")
        #expect(get.status == 200)
        #expect(String(buffer: get.body) == "hi")
        #expect(get.headers.first(name: "content-disposition")?.hasPrefix("attachment; filename=\"o\"") == true)
        #expect(get.headers.first(name: "x-object-meta-private") == nil)
        #expect(try await h.request("PUT", "\(path)?temp_url_sig=\(sig)&temp_url_expires=\(expires)", body: [1]).status == 401)
        #expect(try await h.request("GET", "\(path)2?temp_url_sig=\(sig)&temp_url_expires=\(expires)").status == 401)
        h.clock.advance(120)
        #expect(try await h.request("GET", "\(path)?temp_url_sig=\(sig)&temp_url_expires=\(expires)").status == 401)
    }

    @Test func symlinkFollowsToTargetAndStaticLinkChecksETag() async throws {
        #expect(try await h.request("PUT", "\(account)/s", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/s/target", headers: auth, body: Array("body".utf8)).status == 201)
        #expect(try await h.request("PUT", "\(account)/s/link", headers: auth + [("X-Symlink-Target", "s/target")], body: []).status == 201)
        let get = try await h.request("GET", "\(account)/s/link", headers: auth)
        #expect(String(buffer: get.body) == "body")
        #expect(get.headers.first(name: "content-location") == "/v1/\(account.split(separator: "/").last!)/s/target")
        let raw = try await h.request("GET", "\(account)/s/link?symlink=get", headers: auth)
        #expect(raw.headers.first(name: "x-symlink-target") == "s/target")
        let wrong = try await h.request("PUT", "\(account)/s/static", headers: auth + [("X-Symlink-Target", "s/target"),
                                                                                        ("X-Symlink-Target-Etag", "nope")], body: [])
        #expect(wrong.status == 409)
        #expect(try await h.request("PUT", "\(account)/s/self", headers: auth + [("X-Symlink-Target", "s/self")], body: []).status == 400)
        #expect(try await h.request("POST", "\(account)/s/link", headers: auth).status == 307)
    }

    @Test func aSymlinksListingShowsItsTargetPathDecoded() async throws {
        // Swift's functional tests name containers with random UTF-8 (combining marks included);
        // the listing's symlink_path holds the names, not their percent-encoding.
        let container = "\u{1803}\u{0901}嘅"
        let encoded = PercentCoding.encodePath(container, keepSlash: false)
        #expect(try await h.request("PUT", "\(account)/\(encoded)", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/\(encoded)/link", headers: auth + [("X-Symlink-Target", "\(encoded)/t%C3%A4rget")],
                                    body: []).status == 201)
        let listing = try await h.request("GET", "\(account)/\(encoded)?format=json", headers: auth)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listing.body.readableBytesView)) as? [[String: Any]])
        let name = account.split(separator: "/").last.map(String.init) ?? ""
        #expect(rows.first?["symlink_path"] as? String == "/v1/\(name)/\(container)/tärget")
    }

    @Test func staticWebServesIndexAndListingsToAnonymousReaders() async throws {
        #expect(try await h.request("PUT", "\(account)/web", headers: auth + [("X-Container-Read", ".r:*,.rlistings"),
                                                                             ("X-Container-Meta-Web-Listings", "true")]).status == 201)
        #expect(try await h.request("PUT", "\(account)/web/dir/page.html", headers: auth, body: Array("<p>page</p>".utf8)).status == 201)
        let listing = try await h.request("GET", "\(account)/web/")
        #expect(listing.status == 200)
        #expect(String(buffer: listing.body).contains("<a href=\"dir/\">dir/</a>"))
        #expect(try await h.request("GET", "\(account)/web/dir").status == 301)
        #expect(try await h.request("POST", "\(account)/web", headers: auth + [("X-Container-Meta-Web-Index", "page.html")]).status == 204)
        #expect(String(buffer: try await h.request("GET", "\(account)/web/dir/").body) == "<p>page</p>")
    }

    @Test func corsPreflightFollowsTheContainersAllowedOrigins() async throws {
        #expect(try await h.request("PUT", "\(account)/cors", headers: auth + [("X-Container-Meta-Access-Control-Allow-Origin", "http://a.example")]).status == 201)
        let ok = try await h.request("OPTIONS", "\(account)/cors/x", headers: [("Origin", "http://a.example"), ("Access-Control-Request-Method", "GET")])
        #expect(ok.status == 200)
        #expect(ok.headers.first(name: "access-control-allow-origin") == "http://a.example")
        let other = try await h.request("OPTIONS", "\(account)/cors/x", headers: [("Origin", "http://b.example"), ("Access-Control-Request-Method", "GET")])
        #expect(other.status == 401)
    }

    @Test func formPostStoresSignedBrowserUploads() async throws {
        #expect(try await h.request("PUT", "\(account)/forms", headers: auth + [("X-Container-Meta-Temp-URL-Key", "k")]).status == 201)
        let path = "/v1/\(account.split(separator: "/").last!)/forms/up/"
        let expires = Int64(h.clock.now()) + 600
        let redirect = "https://example.com/done"
        let message = "\(path)\n\(redirect)\n1000\n2\n\(expires)"
        let sig = Hex.encode(Digests.hmac(.sha1, key: Array("k".utf8), message: Array(message.utf8)))
        func form(_ fields: [(String, String)], files: [(String, String)]) -> [UInt8] {
            var body = ""
            for (k, v) in fields { body += "--B\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n" }
            for (name, content) in files {
                body += "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: text/plain\r\n\r\n\(content)\r\n"
            }
            return Array((body + "--B--\r\n").utf8)
        }
        let fields = [("redirect", redirect), ("max_file_size", "1000"), ("max_file_count", "2"), ("expires", String(expires)), ("signature", sig)]
        let ok = try await h.request("POST", path, headers: [("Content-Type", "multipart/form-data; boundary=B")],
                                     body: form(fields, files: [("a.txt", "alpha"), ("b.txt", "beta")]))
        #expect(ok.status == 303)
        #expect(ok.headers.first(name: "location") == "\(redirect)?status=201&message=")
        #expect(String(buffer: try await h.request("GET", "\(account)/forms/up/b.txt", headers: auth).body) == "beta")
        let forged = fields.map { $0.0 == "signature" ? ($0.0, String(repeating: "0", count: 40)) : $0 }
        let denied = try await h.request("POST", path, headers: [("Content-Type", "multipart/form-data; boundary=B")],
                                         body: form(forged, files: [("c.txt", "gamma")]))
        #expect(denied.status == 401)
        #expect(try await h.request("HEAD", "\(account)/forms/up/c.txt", headers: auth).status == 404)
        let big = try await h.request("POST", path, headers: [("Content-Type", "multipart/form-data; boundary=B")],
                                      body: form(fields, files: [("d.txt", String(repeating: "x", count: 2000))]))
        #expect(big.status == 400)
        #expect(try await h.request("HEAD", "\(account)/forms/up/d.txt", headers: auth).status == 404)
    }
}
