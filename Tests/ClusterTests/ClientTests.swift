import Foundation
import NIOCore
import NimbusClient
import Testing

/// The client library (`st`'s engine) against the in-process cluster.
@Suite(.serialized, .cluster) final class ClientTests {
    let h: ClusterHarness
    let client: SwiftClient
    let dir: String

    init() async throws {
        h = try ClusterHarness.scoped()
        client = SwiftClient(credentials: .init(authURL: "http://127.0.0.1:\(h.proxyPort)/auth/v1.0", user: "test:tester", key: "testing"))
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/src/nested", withIntermediateDirectories: true)
    }

    deinit {
        client.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func write(_ name: String, _ count: Int) throws -> [UInt8] {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ count) }
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        return bytes
    }

    @Test func uploadedTreeDownloadsIdenticalAndSkipIdenticalSendsNothing() async throws {
        let small = try write("src/a.txt", 100)
        let big = try write("src/nested/big.bin", 3 * 1024 * 1024 + 5)
        var options = Uploader.Options()
        options.segmentSize = 1024 * 1024
        let up = Uploader(client: client, options: options, progress: TransferProgress(enabled: false))
        let first = await up.upload(container: "tree", paths: ["\(dir)/src"])
        #expect(first.errors.isEmpty)
        #expect(first.segmentsUploaded == 4)
        var again = options
        again.skipIdentical = true
        let second = await Uploader(client: client, options: again, progress: TransferProgress(enabled: false))
            .upload(container: "tree", paths: ["\(dir)/src"])
        #expect(second.uploaded.isEmpty && second.skipped.count == 2)

        var dl = Downloader.Options()
        dl.outputDirectory = "\(dir)/out"
        let got = await Downloader(client: client, options: dl, progress: TransferProgress(enabled: false)).download(containers: ["tree"], objects: [])
        #expect(got.errors.isEmpty)
        let prefix = String(dir.drop { $0 == "/" })
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out/\(prefix)/src/a.txt"))) == small)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out/\(prefix)/src/nested/big.bin"))) == big)
    }

    @Test func rerunAfterAnInterruptedUploadSendsOnlyTheMissingSegments() async throws {
        let bytes = try write("resume.bin", 5 * 1024 * 1024)
        let path = "\(dir)/resume.bin"
        // An earlier run stored segments 0 and 2 (named as the uploader names them), then died.
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        let mtime = String(format: "%.6f", (attrs[.modificationDate] as! Date).timeIntervalSince1970)
        let prefix = "\(String(path.drop { $0 == "/" }))/slo/\(mtime)/\(bytes.count)/1048576/"
        try await client.ensureContainer("res_segments")
        for i in [0, 2] {
            _ = try await client.putObject("res_segments", prefix + String(format: "%08d", i), file: path,
                                           offset: Int64(i) * 1048576, length: 1048576)
        }
        #expect(try await client.request("HEAD", SwiftClient.path("res", String(path.drop { $0 == "/" }))).status == 404)
        var options = Uploader.Options()
        options.segmentSize = 1024 * 1024
        let run = await Uploader(client: client, options: options, progress: TransferProgress(enabled: false)).upload(container: "res", paths: [path])
        #expect(run.errors.isEmpty)
        #expect(run.segmentsReused == 2 && run.segmentsUploaded == 3)
        let out = "\(dir)/resume.out"
        _ = try await client.getObject("res", String(path.drop { $0 == "/" }), to: out)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: out))) == bytes)
    }

    @Test func failuresAreClearErrors() async throws {
        let bad = SwiftClient(credentials: .init(authURL: "http://127.0.0.1:\(h.proxyPort)/auth/v1.0", user: "test:tester", key: "nope"), retries: 0)
        defer { bad.shutdown() }
        await #expect(throws: ClientError.self) { try await bad.authenticate() }
        let missing = await Uploader(client: client, options: .init(), progress: TransferProgress(enabled: false))
            .upload(container: "x", paths: ["\(dir)/no-such-file"])
        #expect(missing.errors.first?.contains("no such file") == true)
        await #expect(throws: ClientError.self) { _ = try await client.getObject("x", "absent", to: "\(dir)/absent") }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/absent"))
    }
}
