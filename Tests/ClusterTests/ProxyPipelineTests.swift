import Digest
import Foundation
import NIOCore
import NimbusCore
import Testing

/// The proxy's stages as an operator configures them, on a running cluster.
@Suite(.serialized) struct ProxyPipelineTests {
    /// Swift's default pipeline without `tempurl`.
    static let withoutTempURL = """
        [pipeline:main]
        pipeline = catch_errors gatekeeper healthcheck proxy-logging cache formpost tempauth bulk staticweb
            copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

        [filter:proxy-logging]
        use = egg:swift#proxy_logging
        """

    @Test func withoutTempurlAValidTempURLIsRefusedAndInfoDoesNotListIt() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-\(UUID()).conf").path
        try Self.withoutTempURL.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await ClusterHarness.with(pipelineFile: file) { h in
            let (token, account) = try await h.login()
            let auth = [("X-Auth-Token", token)]
            #expect(try await h.request("POST", account, headers: auth + [("X-Account-Meta-Temp-URL-Key", "secret")]).status == 204)
            #expect(try await h.request("PUT", "\(account)/t", headers: auth).status == 201)
            #expect(try await h.request("PUT", "\(account)/t/o", headers: auth, body: Array("hi".utf8)).status == 201)
            let expires = Int64(h.clock.now()) + 60
            let path = "/v1/\(account.split(separator: "/").last!)/t/o"
            let sig = Hex.encode(Digests.hmac(.sha256, key: Array("secret".utf8), message: Array("GET\n\(expires)\n\(path)".utf8)))
            // The same signature that the default pipeline honours (MiddlewareTests).
            #expect(try await h.request("GET", "\(path)?temp_url_sig=\(sig)&temp_url_expires=\(expires)").status == 401)
            let info = try await h.request("GET", "/info")
            let keys = try #require(try JSONSerialization.jsonObject(with: Data(info.body.readableBytesView)) as? [String: Any]).keys
            #expect(!keys.contains("tempurl"))
            #expect(keys.contains("formpost") && keys.contains("slo") && keys.contains("tempauth"))
        }
    }
}
