import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import CloudNetwork
import Testing

/// The metadata service over HTTP: answers by the caller's address, EC2's paths and listings.
@Suite struct MetadataServiceTests {
    struct Source: InstanceMetadataSource {
        let byIP: [String: InstanceMetadata]
        func metadata(forFixedIP ip: String) async throws -> InstanceMetadata? { byIP[ip] }
    }

    static let me = InstanceMetadata(
        instanceID: "i-0a1b2c3d", imageID: "ami-12345678", reservationID: "r-1", instanceType: "m1.tiny", localIPv4: "10.0.0.5",
        publicIPv4: "203.0.113.9", availabilityZone: "nimbus-1a", securityGroups: ["default", "web"],
        publicKeys: [("mykey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQG mykey")], userData: Array("#!/bin/sh\necho hi\n".utf8))

    func serve(_ byIP: [String: InstanceMetadata], _ body: (Int) async throws -> Void) async throws {
        var logger = Logger(label: "metadata")
        logger.logLevel = .critical
        let server = try await HTTPServer.bind(host: "127.0.0.1", port: 0, handler: MetadataHandler(source: Source(byIP: byIP)), logger: logger)
        let task = Task { try? await server.run() }
        do { try await body(server.port) } catch {
            server.close()
            await task.value
            throw error
        }
        server.close()
        await task.value
    }

    @Test func anInstanceReadsItsOwnMetadata() async throws {
        let client = BackendClient()
        defer { client.shutdown() }
        try await serve(["127.0.0.1": Self.me]) { port in
            func get(_ path: String) async throws -> (Int, String) {
                let r = try await client.request(host: "127.0.0.1", port: port, method: "GET", uri: path)
                return (r.status, String(buffer: r.body))
            }
            #expect(try await get("/latest/meta-data/instance-id") == (200, "i-0a1b2c3d"))
            #expect(try await get("/latest/meta-data/local-ipv4") == (200, "10.0.0.5"))
            #expect(try await get("/latest/meta-data/public-ipv4") == (200, "203.0.113.9"))
            #expect(try await get("/2009-04-04/meta-data/public-keys/") == (200, "0=mykey"))
            #expect(try await get("/latest/meta-data/public-keys/0/openssh-key") == (200, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQG mykey\n"))
            #expect(try await get("/latest/meta-data/placement/availability-zone") == (200, "nimbus-1a"))
            #expect(try await get("/latest/user-data") == (200, "#!/bin/sh\necho hi\n"))
            let listing = try await get("/latest/meta-data/").1.split(separator: "\n")
            #expect(listing.contains("instance-id") && listing.contains("public-keys/") && listing == listing.sorted())
            #expect(try await get("/latest/meta-data/public-keys/1/openssh-key").0 == 404)
            #expect(try await get("/latest/meta-data/nothing").0 == 404)
            #expect(try await get("/secret").0 == 404)
        }
    }

    @Test func anUnknownCallerLearnsNothing() async throws {
        let client = BackendClient()
        defer { client.shutdown() }
        try await serve(["10.0.0.5": Self.me]) { port in
            let r = try await client.request(host: "127.0.0.1", port: port, method: "GET", uri: "/latest/meta-data/instance-id")
            #expect(r.status == 404 && !String(buffer: r.body).contains("i-0a1b2c3d"))
        }
    }
}
