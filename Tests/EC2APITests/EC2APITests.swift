@testable import AWSAuth
import ControlPlane
import Digest
import EC2API
import Foundation
import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// The EC2 Query API end to end over HTTP: credentials from the control plane, SigV4 (the
/// signer below uses the verified `SigV4` functions: they pass the 44 captured requests),
/// EC2's XML and error documents.
@Suite struct EC2APITests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ec2-\(UUID().uuidString)").path

    struct Cloud {
        let server: EC2APIServer
        let task: Task<Void, Never>
        let credential: EC2Credential
        let client = BackendClient()

        /// POSTs a form call signed as botocore signs it.
        func call(_ form: String, secret: String? = nil, accessKey: String? = nil, at date: Date = Date()) async throws -> (Int, String) {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let amzDate = formatter.string(from: date)
            let host = "127.0.0.1:\(server.port)"
            let contentType = "application/x-www-form-urlencoded; charset=utf-8"
            let request = SignedRequest(method: "POST", path: "/", query: "",
                                        headers: [("Host", host), ("Content-Type", contentType), ("X-Amz-Date", amzDate)])
            var auth = SigV4.Authorization(accessKey: accessKey ?? credential.accessKey, date: String(amzDate.prefix(8)),
                                           region: "nimbus", service: "ec2", signedHeaders: ["content-type", "host", "x-amz-date"],
                                           signature: "", amzDate: amzDate, expires: nil)
            let canonical = SigV4.canonicalRequest(request, auth: auth, payloadHash: Digests.sha256Hex(Array(form.utf8)), encodePath: true)
            auth.signature = SigV4.signature(secret: secret ?? credential.secretKey, auth: auth,
                                             stringToSign: SigV4.stringToSign(canonical, auth: auth))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "X-Amz-Date", value: amzDate)
            headers.add(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=\(auth.accessKey)/\(auth.scope), "
                        + "SignedHeaders=content-type;host;x-amz-date, Signature=\(auth.signature)")
            let r = try await client.request(host: "127.0.0.1", port: server.port, method: "POST", uri: "/", headers: headers,
                                             // Generous: under a loaded CI run a call may wait on the store for seconds.
                                             body: ByteBuffer(string: form), timeout: .seconds(120))
            return (r.status, String(buffer: r.body))
        }

        func stop() async {
            client.shutdown()
            server.close()
            await task.value
        }
    }

    /// - Parameter compute: also runs instances: a compute host reported, a kernel and a machine
    ///   image `ami-0000000b` available.
    /// - Parameter issuing: also issues credentials bundles (a cloud key made in `dir`).
    func cloud(compute: Bool = false, issuing: Bool = false) async throws -> Cloud {
        let store = try ControlPlaneSQLStore.sqlite(path: "\(dir)/control.db", keyFile: "\(dir)/control.key")
        try await store.migrate()
        _ = try await store.createUser("soren", admin: false)
        _ = try await store.createProject("lab", manager: "soren")
        let credential = try await store.credentials(user: "soren", project: "lab")
        var logger = Logger(label: "ec2")
        logger.logLevel = .critical
        var settings = EC2Settings(region: "nimbus", zones: ["nimbus-1a"], floatingPool: EC2Settings.addresses(inCIDR: "198.51.100.0/29") ?? [])
        if compute {
            settings.compute = ComputeSettings(fixedRange: (2...30).map { "10.9.0.\($0)" }, reserved: ["10.9.0.1"])
            try await store.reportHost(ComputeHost(name: "h1", zone: "nimbus-1a", vcpus: 16, memoryMiB: 16384, diskGiB: 500, heartbeat: 0), worker: "w")
            for (id, type) in [("aki-0000000a", "kernel"), ("ami-0000000b", "machine")] {
                try await store.addImage(ImageRecord(id: id, project: "lab", location: "b/\(id).manifest.xml", name: id, imageType: type,
                                                     architecture: "x86_64", kernelID: type == "machine" ? "aki-0000000a" : nil))
                try await store.setImageState(id, .available, reason: nil, size: 1)
            }
        }
        if issuing {
            settings.credentials = CredentialsIssuing(authority: try CloudAuthority.open(directory: dir), endpoints: .standard)
        }
        let server = try await EC2APIServer.start(host: "127.0.0.1", port: 0, store: store, settings: settings, logger: logger)
        return Cloud(server: server, task: Task { try? await server.run() }, credential: credential)
    }

    @Test func describeRegionsAndZonesAnswerEC2sXML() async throws {
        let c = try await cloud()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, body) = try await c.call("Action=DescribeRegions&Version=2016-11-15")
        #expect(status == 200)
        #expect(body.contains("<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"))
        #expect(body.contains("<regionInfo><item><regionName>nimbus</regionName>"))
        let (zs, zones) = try await c.call("Action=DescribeAvailabilityZones&Version=2016-11-15")
        #expect(zs == 200 && zones.contains("<zoneName>nimbus-1a</zoneName><zoneState>available</zoneState>"))
        let (bad, badBody) = try await c.call("Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=mars")
        #expect(bad == 400 && badBody.contains("<Code>InvalidParameterValue</Code>"))
        await c.stop()
    }

    @Test func authenticationFailuresAreEC2sErrorCodes() async throws {
        let c = try await cloud()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let form = "Action=DescribeRegions&Version=2016-11-15"
        let (s1, b1) = try await c.call(form, secret: "wrong")
        #expect(s1 == 403 && b1.contains("<Code>SignatureDoesNotMatch</Code>") && b1.contains("<RequestID>"))
        let (s2, b2) = try await c.call(form, accessKey: "NIMBUNKNOWNKEY000000")
        #expect(s2 == 401 && b2.contains("<Code>AuthFailure</Code>"))
        let (s3, b3) = try await c.call(form, at: Date().addingTimeInterval(-16 * 60))
        #expect(s3 == 400 && b3.contains("<Code>RequestExpired</Code>"))
        let (s4, b4) = try await c.call("Action=LaunchMissiles&Version=2016-11-15")
        #expect(s4 == 400 && b4.contains("<Code>InvalidAction</Code>"))
        let (s5, b5) = try await c.call("Version=2016-11-15")
        #expect(s5 == 400 && b5.contains("<Code>MissingParameter</Code>"))
        let r = try await c.client.request(host: "127.0.0.1", port: c.server.port, method: "POST", uri: "/",
                                           body: ByteBuffer(string: form))
        #expect(r.status == 401 && String(buffer: r.body).contains("<Code>AuthFailure</Code>"))
        await c.stop()
    }

    /// Older EC2 tools sign with Signature Version 2 (GET query, HmacSHA256 or HmacSHA1).
    @Test func signatureVersion2CallsAreServed() async throws {
        let c = try await cloud()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func call(secret: String, method: String = "HmacSHA256", at date: Date = Date()) async throws -> (Int, String) {
            let formatter = ISO8601DateFormatter()
            var params: [(String, String)] = [("Action", "DescribeRegions"), ("Version", "2010-08-31"), ("AWSAccessKeyId", c.credential.accessKey),
                                              ("SignatureVersion", "2"), ("SignatureMethod", method), ("Timestamp", formatter.string(from: date))]
            let host = "127.0.0.1:\(c.server.port)"
            let toSign = SigV2.stringToSign(method: "GET", host: host, path: "/", params: params)
            params.append(("Signature", SigV2.signature(secret: secret, algorithm: method == "HmacSHA1" ? .sha1 : .sha256, stringToSign: toSign)))
            let query = params.map { "\(FormDecoding.encode($0.0))=\(FormDecoding.encode($0.1))" }.joined(separator: "&")
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host)
            let r = try await c.client.request(host: "127.0.0.1", port: c.server.port, method: "GET", uri: "/?" + query, headers: headers,
                                               timeout: .seconds(120))
            return (r.status, String(buffer: r.body))
        }
        let (ok, body) = try await call(secret: c.credential.secretKey)
        #expect(ok == 200 && body.contains("<regionName>nimbus</regionName>"), "\(body)")
        let (sha1, _) = try await call(secret: c.credential.secretKey, method: "HmacSHA1")
        #expect(sha1 == 200)
        let (bad, badBody) = try await call(secret: "wrong")
        #expect(bad == 403 && badBody.contains("SignatureDoesNotMatch"))
        let (old, oldBody) = try await call(secret: c.credential.secretKey, at: Date().addingTimeInterval(-16 * 60))
        #expect(old == 400 && oldBody.contains("RequestExpired"))
        await c.stop()
    }

    /// Limits and scoping a client cannot get around.
    @Test func limitsAndProjectBoundariesHold() async throws {
        let c = try await cloud()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func call(_ form: String) async throws -> (Int, String) { try await c.call(form + "&Version=2016-11-15") }
        // Five addresses per project, then AddressLimitExceeded (the pool has more).
        for _ in 0..<5 { #expect(try await call("Action=AllocateAddress").0 == 200) }
        let (s1, b1) = try await call("Action=AllocateAddress")
        #expect(s1 == 400 && b1.contains("AddressLimitExceeded"))
        // Release by allocation id, as today's SDKs do.
        let (_, listing) = try await call("Action=DescribeAddresses")
        let id = try #require(listing.range(of: "eipalloc-").map { String(listing[$0.lowerBound...].prefix(26)) })
        #expect(try await call("Action=ReleaseAddress&AllocationId=\(id)").0 == 200)
        // A source group of another project is refused, and no group is made for a made-up project.
        _ = try await call("Action=CreateSecurityGroup&GroupName=web&GroupDescription=d")
        let (s2, b2) = try await call("Action=AuthorizeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpProtocol=tcp"
            + "&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.Groups.1.UserId=ghost&IpPermissions.1.Groups.1.GroupName=default")
        #expect(s2 == 400 && b2.contains("InvalidGroup.NotFound"))
        // Key pairs by id.
        let (_, created) = try await call("Action=CreateKeyPair&KeyName=k&KeyType=ed25519")
        let keyID = try #require(created.range(of: "<keyPairId>").map { String(created[$0.upperBound...].prefix(21)) })
        #expect(try await call("Action=DescribeKeyPairs&KeyPairId.1=\(keyID)").1.contains("<keyName>k</keyName>"))
        #expect(try await call("Action=DeleteKeyPair&KeyPairId=\(keyID)").0 == 200)
        #expect(try await call("Action=DescribeKeyPairs&KeyName.1=k").1.contains("InvalidKeyPair.NotFound"))
        // Too many filters.
        let many = (1...51).map { "&Filter.\($0).Name=key-name&Filter.\($0).Value.1=x" }.joined()
        #expect(try await call("Action=DescribeKeyPairs" + many).1.contains("FilterLimitExceeded"))
        // A key of the wrong shape never reaches the store.
        let (s3, b3) = try await c.call("Action=DescribeRegions&Version=2016-11-15", accessKey: "AKIANOTOURS000000000")
        #expect(s3 == 401 && b3.contains("AuthFailure"))
        await c.stop()
    }
}
