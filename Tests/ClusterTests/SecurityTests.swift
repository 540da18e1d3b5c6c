import Foundation
import NimbusCore
import Testing

/// The security probe's findings (issue 11) that a single in-process cluster can show;
/// `scripts/test-security` replays all of them against `nimbus aio`.
@Suite(.serialized, .cluster) final class SecurityTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
    }

    @Test func listingLimitIsParsedAsSwiftDoesAndNeverTraps() async throws {
        #expect(try await h.request("PUT", "\(account)/pub", headers: auth + [("X-Container-Read", ".r:*,.rlistings")]).status == 201)
        for (limit, status) in [("1e19", 200), ("99999999999999999999", 412), ("10001", 412), ("-1", 200), ("abc", 200)] {
            let r = try await h.request("GET", "\(account)/pub?limit=\(limit)")
            #expect(status == 412 ? r.status == 412 : [200, 204].contains(r.status), "limit=\(limit): \(r.status)")
        }
        #expect(try await h.request("HEAD", account, headers: auth).status == 204)
    }

    @Test func nestedManifestsWhoseSizeOverflowsAreRefused() async throws {
        #expect(try await h.request("PUT", "\(account)/slo", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/slo/seg", headers: auth, body: [1]).status == 201)
        // Each level lists the previous one 1000 times: 1000^7 bytes no longer fit in Int64.
        var previous = "/slo/seg"
        for level in 1...7 {
            let body = "[" + Array(repeating: "{\"path\":\"\(previous)\"}", count: 1000).joined(separator: ",") + "]"
            let r = try await h.request("PUT", "\(account)/slo/L\(level)?multipart-manifest=put", headers: auth, body: Array(body.utf8))
            if level < 7 {
                #expect(r.status == 201, "level \(level): \(r.status)")
            } else {
                #expect(r.status == 400, "1000^7 bytes overflows Int64: \(r.status)")
            }
            previous = "/slo/L\(level)"
        }
        #expect(try await h.request("HEAD", account, headers: auth).status == 204)
    }

    @Test func writeACLsRefuseReferrers() async throws {
        let r = try await h.request("PUT", "\(account)/w", headers: auth + [("X-Container-Write", ".r:*")])
        #expect(r.status == 400)
        #expect(String(buffer: r.body).contains("Referrers not allowed in write ACL"))
        #expect(try await h.request("PUT", "\(account)/w", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/w/o", body: [1]).status == 401)
    }

    @Test func accountsOutsideTheResellerPrefixBelongToNobody() async throws {
        let (t3, _) = try await h.login("test:tester3", "testing3")
        #expect(try await h.request("PUT", "/v1/test/c1", headers: [("X-Auth-Token", t3)]).status == 403)
        #expect(try await h.request("PUT", "/v1/.admin/c", headers: auth).status == 403)
        #expect(try await h.request("PUT", "/v1/test/c1", headers: auth).status == 403)
        let (reseller, _) = try await h.login("test6:tester6", "testing6")
        #expect(try await h.request("PUT", "/v1/AUTH_.dot/c", headers: [("X-Auth-Token", reseller)]).status == 403)
        #expect(try await h.request("PUT", "/v1/AUTH_test/byreseller", headers: [("X-Auth-Token", reseller)]).status == 201)
    }

    @Test func referrerHostsCompareCaseInsensitively() async throws {
        #expect(try await h.request("PUT", "\(account)/ref", headers: auth + [("X-Container-Read", ".r:*,.r:-bad.example.com")]).status == 201)
        #expect(try await h.request("PUT", "\(account)/ref/o", headers: auth, body: [1]).status == 201)
        #expect(try await h.request("GET", "\(account)/ref/o", headers: [("Referer", "http://BAD.Example.com/x")]).status == 401)
        #expect(try await h.request("GET", "\(account)/ref/o", headers: [("Referer", "http://good.example.com/x")]).status == 200)
    }

    @Test func staticWebServesNothingTheRequesterMayNotRead() async throws {
        #expect(try await h.request("PUT", "\(account)/private", headers: auth + [("X-Container-Meta-Web-Error", "e.html")]).status == 201)
        #expect(try await h.request("PUT", "\(account)/private/401e.html", headers: auth, body: Array("SECRET".utf8)).status == 201)
        let page = try await h.request("GET", "\(account)/private/x")
        #expect(page.status == 401 && !String(buffer: page.body).contains("SECRET"))
        #expect(try await h.request("PUT", "\(account)/web", headers: auth + [("X-Container-Read", ".r:*"),
                                                                               ("X-Container-Meta-Web-Listings", "true")]).status == 201)
        #expect(try await h.request("PUT", "\(account)/web/dir/hidden", headers: auth, body: [1]).status == 201)
        let listing = try await h.request("GET", "\(account)/web/dir/")
        #expect(listing.status == 401 && !String(buffer: listing.body).contains("hidden"))
        #expect(try await h.request("GET", "\(account)/web/dir/hidden").status == 200)
    }

    @Test func rangeSetsSwiftCallsEgregiousAre416() async throws {
        #expect(try await h.request("PUT", "\(account)/r", headers: auth).status == 201)
        #expect(try await h.request("PUT", "\(account)/r/o", headers: auth, body: Array(repeating: 7, count: 4096)).status == 201)
        let many = "bytes=" + Array(repeating: "0-", count: 100).joined(separator: ",")
        #expect(try await h.request("GET", "\(account)/r/o", headers: auth + [("Range", many)]).status == 416)
        #expect(try await h.request("GET", "\(account)/r/o", headers: auth + [("Range", "bytes=0-9,5-15,6-16")]).status == 416)
        #expect(try await h.request("GET", "\(account)/r/o", headers: auth + [("Range", "bytes=0-9,20-29")]).status == 206)
    }
}
