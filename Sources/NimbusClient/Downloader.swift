import Foundation
import NimbusCore

/// Downloads objects to files, in parallel; `skipIdentical` leaves files whose bytes already
/// match the object (ETag, or each SLO segment's ETag).
public final class Downloader: Sendable {
    public struct Options: Sendable {
        public var objectThreads = 24
        public var outputDirectory: String?
        /// Download a single object to this file (`-o`).
        public var outputFile: String?
        public var skipIdentical = false
        public var prefix: String?
        /// With `--all`: objects go under `<container>/`.
        public var containerDirectories = false
        /// Told of each file done (`st -v` prints these lines).
        public var report: (@Sendable (String) -> Void)?

        public init() {}
    }

    public struct Summary: Sendable {
        public var downloaded: [String] = []
        public var skipped: [String] = []
        public var errors: [String] = []
    }

    let client: SwiftClient
    let options: Options
    let progress: TransferProgress

    public init(client: SwiftClient, options: Options, progress: TransferProgress) {
        self.client = client
        self.options = options
        self.progress = progress
    }

    struct Job: Sendable {
        let container: String
        let object: String
        let bytes: Int64
        let isDirectory: Bool
    }

    /// Downloads `objects` of `container` (all of it, or those under `prefix`, when empty).
    public func download(containers: [String], objects: [String]) async -> Summary {
        var summary = Summary()
        var jobs: [Job] = []
        for container in containers {
            do {
                if objects.isEmpty {
                    for row in try await client.list(container, prefix: options.prefix) {
                        guard let name = row["name"] as? String else { continue }
                        let bytes = (row["bytes"] as? NSNumber)?.int64Value ?? 0
                        jobs.append(Job(container: container, object: name, bytes: bytes,
                                        isDirectory: (row["content_type"] as? String) == "application/directory"))
                    }
                } else {
                    jobs += objects.map { Job(container: container, object: $0, bytes: 0, isDirectory: false) }
                }
            } catch {
                summary.errors.append("\(error)")
            }
        }
        for j in jobs { progress.expect(bytes: j.bytes) }
        let results = await boundedParallel(jobs, limit: options.objectThreads) { await self.one($0) }
        for r in results {
            summary.downloaded += r.downloaded
            summary.skipped += r.skipped
            summary.errors += r.errors
        }
        progress.finish()
        return summary
    }

    /// Where an object is written: below the output directory (or the current one), its name
    /// with leading slashes taken off as python-swiftclient does. A name with a `..` component
    /// would land outside: it is refused (swiftclient writes it there).
    func localPath(_ j: Job) throws -> String {
        if let file = options.outputFile { return file }
        var name = Substring(j.object)
        while name.hasPrefix("/") { name = name.dropFirst() }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw ClientError("\(j.container)/\(j.object): refused, the name would write outside the output directory (it has a .. part); "
                              + "fetch it alone with -o FILE")
        }
        if options.containerDirectories && (j.container == "." || j.container == "..") {
            throw ClientError("container \(j.container): refused, its directory would be outside the output directory")
        }
        guard !name.isEmpty else { throw ClientError("\(j.container)/\(j.object): the name gives no local file name; fetch it with -o FILE") }
        var path = options.containerDirectories ? "\(j.container)/\(name)" : String(name)
        if let dir = options.outputDirectory { path = "\(dir)/\(path)" }
        return path
    }

    private func one(_ j: Job) async -> Summary {
        var s = Summary()
        do {
            let path = try localPath(j)
            if j.isDirectory {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                s.downloaded.append(j.object)
                return s
            }
            if options.skipIdentical, FileManager.default.fileExists(atPath: path) {
                let head = try await client.request("HEAD", SwiftClient.path(j.container, j.object))
                if head.status == 200, let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64 {
                    let uploader = Uploader(client: client, options: Uploader.Options(), progress: progress)
                    let segments = try await uploader.segmentsOf(container: j.container, object: j.object, head: head.headers)
                    if try await uploader.identical(path, size: size, head: head.headers, segments: segments) {
                        progress.add(Int(j.bytes))
                        s.skipped.append(j.object)
                        return s
                    }
                }
            }
            _ = try await client.getObject(j.container, j.object, to: path) { self.progress.add($0) }
            progress.fileDone()
            s.downloaded.append(j.object)
            options.report?(j.object)
        } catch {
            s.errors.append("\(error)")
        }
        return s
    }
}
