import Digest
import Foundation
import NIOPosix

/// The compute host's local copies of registered images (kernel, ramdisk, machine image), each
/// fetched once however many instances of it start together: concurrent requests for one image
/// wait for the same download; a copy is published (renamed into place) only after its SHA-256
/// matched, so a half-written or corrupt file is never used.
public actor ImageCache {
    /// Writes the image `id` to the given path (e.g. a GET from the registry container).
    public typealias Fetch = @Sendable (_ id: String, _ path: String) async throws -> Void

    public struct Mismatch: Error, CustomStringConvertible {
        public let id: String
        public var description: String { "the downloaded copy of \(id) does not match its digest" }
    }

    /// The image cannot be had.
    public struct Unavailable: Error, CustomStringConvertible {
        public let id: String
        public let reason: String

        public init(id: String, reason: String) {
            self.id = id
            self.reason = reason
        }

        public var description: String { "image \(id) cannot be fetched: \(reason)" }
    }

    let directory: String
    let fetch: Fetch
    private let pool: NIOThreadPool
    private var inFlight: [String: Task<String, any Error>] = [:]
    /// Downloads started (for tests and metrics).
    public private(set) var downloads = 0

    public init(directory: String, fetch: @escaping Fetch) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = directory
        self.fetch = fetch
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit { pool.shutdownGracefully { _ in } }

    /// The local path of image `id`, fetching it if needed; `sha256` (hex) is checked when given.
    public func path(for id: String, sha256: String?) async throws -> String {
        guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else { throw Mismatch(id: id) }
        let final = (directory as NSString).appendingPathComponent(id)
        // Registered before any suspension: callers arriving while this one waits share its task.
        if let running = inFlight[id] { return try await running.value }
        let task = Task { [fetch, pool] () throws -> String in
            if try await pool.runIfActive({ FileManager.default.fileExists(atPath: final) }) { return final }
            self.countDownload()
            let tmp = final + ".part-\(UUID().uuidString)"
            do {
                try await fetch(id, tmp)
                try await pool.runIfActive {
                    if let sha256 {
                        guard Digests.sha256Hex(ofFile: tmp) == sha256.lowercased() else { throw Mismatch(id: id) }
                    }
                    guard rename(tmp, final) == 0 else { throw CocoaError(.fileWriteUnknown) }
                }
                return final
            } catch {
                unlink(tmp)
                throw error
            }
        }
        inFlight[id] = task
        defer { inFlight[id] = nil }
        return try await task.value
    }

    private func countDownload() { downloads += 1 }
}
