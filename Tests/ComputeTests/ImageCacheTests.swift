import Compute
import Digest
import Foundation
import Testing

@Suite struct ImageCacheTests {
    let dir = NSTemporaryDirectory() + "image-cache-\(UUID().uuidString)"

    /// A slow fetch, counted.
    actor Counter {
        var calls = 0
        func hit() { calls += 1 }
    }

    @Test func tenStartsOfOneImageDownloadItOnce() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let content = Data(repeating: 7, count: 100_000)
        let counter = Counter()
        let cache = try ImageCache(directory: dir) { _, path in
            await counter.hit()
            try await Task.sleep(for: .milliseconds(200))
            try content.write(to: URL(fileURLWithPath: path))
        }
        let digest = Digests.sha256Hex(Array(content))
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await cache.path(for: "ami-12345678", sha256: digest) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let calls = await counter.calls
        #expect(Set(paths).count == 1 && calls == 1)
        #expect(FileManager.default.contents(atPath: paths[0]) == content)
        _ = try await cache.path(for: "ami-12345678", sha256: digest)
        let again = await counter.calls, downloads = await cache.downloads
        #expect(again == 1 && downloads == 1)
    }

    @Test func aCorruptDownloadIsNeverPublished() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try ImageCache(directory: dir) { _, path in try Data("corrupt".utf8).write(to: URL(fileURLWithPath: path)) }
        await #expect(throws: ImageCache.Mismatch.self) { _ = try await cache.path(for: "aki-00000001", sha256: String(repeating: "0", count: 64)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        await #expect(throws: ImageCache.Mismatch.self) { _ = try await cache.path(for: "../etc", sha256: nil) }
    }
}
