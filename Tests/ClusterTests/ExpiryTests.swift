import Foundation
import NIOCore
import NimbusCore
import Testing

/// `X-Delete-At` / `X-Delete-After` and the expirer that really deletes.
@Suite(.serialized, .cluster) final class ExpiryTests {
    let h: ClusterHarness
    let account: String
    let auth: [(String, String)]

    init() async throws {
        (h, account, auth) = try await ClusterHarness.scopedLoggedIn()
        _ = try await h.request("PUT", "\(account)/exp", headers: auth)
    }


    func dataFiles() -> [String] {
        let e = FileManager.default.enumerator(atPath: h.root)
        var out: [String] = []
        while let p = e?.nextObject() as? String { if p.hasSuffix(".data") && p.contains("/objects/") { out.append(p) } }
        return out
    }

    @Test func expiredObjectIsRemovedFromDiskAndListingByTheExpirer() async throws {
        #expect(try await h.request("PUT", "\(account)/exp/soon", headers: auth + [("X-Delete-After", "600")], body: [1, 2, 3]).status == 201)
        #expect(try await h.request("PUT", "\(account)/exp/keep", headers: auth, body: [4]).status == 201)
        // Moved later by a POST: the first expiry time no longer applies.
        #expect(try await h.request("PUT", "\(account)/exp/moved", headers: auth + [("X-Delete-After", "600")], body: [5]).status == 201)
        #expect(try await h.request("POST", "\(account)/exp/moved", headers: auth + [("X-Delete-After", "100000")]).status == 202)
        #expect(dataFiles().count == 9)

        for n in h.aio.nodes { #expect(await n.expireNow() == 0) }
        // Expiry times far enough out that a slow machine cannot reach them in real time.
        h.clock.advance(700)
        #expect(try await h.request("GET", "\(account)/exp/soon", headers: auth).status == 404)
        // The nodes' own periodic pass (every 10 s) may get there first, and may still be
        // under way when we ask (then its count lands a moment later): count both, until the
        // three replicas are gone or a minute has passed.
        var deleted = 0
        for _ in 0..<600 {
            deleted = 0
            for n in h.aio.nodes {
                _ = await n.expireNow()
                deleted += await n.expiredTotal()
            }
            if deleted >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(deleted == 3)
        #expect(dataFiles().count == 6)
        let listing = try await h.request("GET", "\(account)/exp", headers: auth)
        #expect(String(buffer: listing.body).split(separator: "\n") == ["keep", "moved"])
        #expect(try await h.request("GET", "\(account)/exp/moved", headers: auth).status == 200)
    }
}
