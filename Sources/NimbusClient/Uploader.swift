import Digest
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Uploads files and directory trees, in parallel, segmenting large files into static (or
/// dynamic) large objects.
///
/// Resumable: segment names are derived from the file's size, mtime and the segment size
/// (`<object>/slo/<mtime>/<size>/<segment size>/<index>`, as python-swiftclient names them),
/// so a rerun finds the segments an interrupted run stored, keeps those whose ETag matches the
/// local bytes and sends only the rest. The manifest is written last: nothing on the server
/// ever points at a half-uploaded object.
public final class Uploader: Sendable {
    public struct Options: Sendable {
        public var segmentSize: Int64?
        public var useDLO = false
        public var objectThreads = 24
        public var segmentThreads = 10
        public var changed = false
        public var skipIdentical = false
        public var leaveSegments = false
        public var objectName: String?
        public var headers: [(String, String)] = []
        /// Told of each file done (`st -v` prints these lines).
        public var report: (@Sendable (String) -> Void)?

        public init() {}
    }

    /// What one run did.
    public struct Summary: Sendable {
        public var uploaded: [String] = []
        public var skipped: [String] = []
        public var segmentsUploaded = 0
        public var segmentsReused = 0
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

    /// One local file and the object it becomes.
    struct Item: Sendable {
        let path: String
        let object: String
        let isDirectoryMarker: Bool
    }

    public func upload(container: String, paths: [String]) async -> Summary {
        var summary = Summary()
        do {
            try await client.ensureContainer(container)
        } catch {
            summary.errors.append("\(error)")
            return summary
        }
        var items: [Item] = []
        for path in paths {
            let (found, problems) = expand(path)
            items += found
            summary.errors += problems
        }
        for item in items where !item.isDirectoryMarker {
            if let size = try? FileManager.default.attributesOfItem(atPath: item.path)[.size] as? Int64 { progress.expect(bytes: size) }
        }
        // One listing tells which objects exist already: only those need a HEAD (for old
        // segments, --changed or --skip-identical), not every file of a fresh upload.
        let known = await existing(container: container, objects: items.map(\.object))
        let results = await boundedParallel(items, limit: options.objectThreads) { item in
            await self.uploadOne(container: container, item: item, known: known)
        }
        for r in results {
            summary.uploaded += r.uploaded
            summary.skipped += r.skipped
            summary.segmentsUploaded += r.segmentsUploaded
            summary.segmentsReused += r.segmentsReused
            summary.errors += r.errors
        }
        progress.finish()
        return summary
    }

    /// A file, or every file (and empty directory) below a directory, named as python-swiftclient
    /// names them (`UploadNaming`). Problems a walk meets (unreadable directories, sockets,
    /// dangling links) are reported, where swiftclient's `os.walk` would skip them silently.
    func expand(_ path: String) -> (items: [Item], problems: [String]) {
        var walk = UploadNaming.walk(path)
        if let given = options.objectName { walk.entries = walk.entries.map { $0.renamed(replacing: path, with: given) } }
        var problems = walk.problems
        var items: [Item] = []
        for e in walk.entries {
            guard !e.object.isEmpty else {
                problems.append("\(e.path): gives an empty object name (use --object-name)")
                continue
            }
            items.append(Item(path: e.path, object: e.object, isDirectoryMarker: e.isDirectoryMarker))
        }
        return (items.sorted { $0.object < $1.object }, problems)
    }

    /// The names among `objects` the container already holds (nil when it cannot be listed:
    /// then every object is looked at).
    func existing(container: String, objects: [String]) async -> Set<String>? {
        guard !objects.isEmpty else { return [] }
        var prefix = objects[0]
        for o in objects.dropFirst() {
            while !o.hasPrefix(prefix) { prefix.removeLast() }
        }
        guard let rows = try? await client.list(container, prefix: prefix.isEmpty ? nil : prefix) else { return nil }
        return Set(rows.compactMap { $0["name"] as? String })
    }

    private func uploadOne(container: String, item: Item, known: Set<String>?) async -> Summary {
        var s = Summary()
        do {
            if item.isDirectoryMarker {
                let r = try await client.request("PUT", SwiftClient.path(container, item.object),
                                                 headers: [("Content-Type", "application/directory"), ("Content-Length", "0")], body: [])
                guard r.status == 201 else { throw ClientError.http(r.status, "upload of \(item.object)") }
                s.uploaded.append(item.object)
                options.report?(item.object)
                return s
            }
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: item.path),
                  let size = attrs[.size] as? Int64, let modified = attrs[.modificationDate] as? Date else {
                throw ClientError("\(item.path): cannot read (it vanished or is not readable)")
            }
            guard access(item.path, R_OK) == 0 else { throw ClientError("\(item.path): not readable") }
            let mtime = String(format: "%.6f", modified.timeIntervalSince1970)
            let mayExist = known?.contains(item.object) ?? true
            let existing = mayExist ? try await client.request("HEAD", SwiftClient.path(container, item.object))
                : BackendResponse(status: 404, headers: HTTPHeaders(), body: ByteBuffer())
            let oldSegments = existing.status == 200 ? try await segmentsOf(container: container, object: item.object, head: existing.headers) : []
            if existing.status == 200 {
                if options.changed, existing.headers.first(name: "content-length") == String(size),
                   existing.headers.first(name: "x-object-meta-mtime") == mtime {
                    s.skipped.append(item.object)
                    progress.add(Int(size))
                    return s
                }
                if options.skipIdentical, try await identical(item.path, size: size, head: existing.headers, segments: oldSegments) {
                    s.skipped.append(item.object)
                    progress.add(Int(size))
                    options.report?("skipped identical \(item.object)")
                    return s
                }
            }
            var headers = options.headers + [("X-Object-Meta-Mtime", mtime)]
            var newSegments: Set<String> = []
            if let segmentSize = options.segmentSize, segmentSize > 0, size > segmentSize {
                let (reused, uploaded, names) = try await uploadSegmented(container: container, item: item, size: size, mtime: mtime,
                                                                          segmentSize: segmentSize, headers: &headers)
                s.segmentsReused += reused
                s.segmentsUploaded += uploaded
                newSegments = names
            } else {
                _ = try await client.putObject(container, item.object, file: item.path, headers: headers) { self.progress.add($0) }
            }
            // The segments of the version this upload replaced are garbage now.
            if !options.leaveSegments {
                for seg in oldSegments where !newSegments.contains(seg.path) {
                    let (c, o) = Self.splitSegment(seg.path)
                    _ = try? await client.request("DELETE", SwiftClient.path(c, o))
                }
            }
            progress.fileDone()
            s.uploaded.append(item.object)
            options.report?(item.object)
        } catch {
            s.errors.append("\(error)")
        }
        return s
    }

    static func splitSegment(_ path: String) -> (String, String) {
        let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard let slash = trimmed.firstIndex(of: "/") else { return (trimmed, "") }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
    }

    /// One segment of an existing large object.
    struct Segment {
        let path: String
        let bytes: Int64
        let hash: String
        let ranged: Bool
    }

    /// The segments of an existing large object (none for a plain object).
    func segmentsOf(container: String, object: String, head: HTTPHeaders) async throws -> [Segment] {
        if head.first(name: "x-static-large-object")?.lowercased() == "true" {
            let r = try await client.request("GET", SwiftClient.path(container, object), query: "multipart-manifest=get")
            guard r.status == 200, let list = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]] else { return [] }
            return list.compactMap { seg in
                guard let name = seg["name"] as? String else { return nil }
                return Segment(path: name, bytes: (seg["bytes"] as? NSNumber)?.int64Value ?? -1, hash: seg["hash"] as? String ?? "",
                               ranged: seg["range"] != nil || (seg["sub_slo"] as? Bool) == true)
            }
        }
        if let manifest = head.first(name: "x-object-manifest") {
            let decoded = (try? PercentCoding.decodeUTF8(manifest)) ?? manifest
            let (c, prefix) = Self.splitSegment(decoded)
            return try await client.list(c, prefix: prefix).compactMap { row in
                guard let name = row["name"] as? String else { return nil }
                return Segment(path: "/\(c)/\(name)", bytes: (row["bytes"] as? NSNumber)?.int64Value ?? -1,
                               hash: row["hash"] as? String ?? "", ranged: false)
            }
        }
        return []
    }

    /// True when the object already holds exactly the file's bytes: its ETag for a plain
    /// object, every segment's ETag against the same range of the file for an SLO.
    func identical(_ path: String, size: Int64, head: HTTPHeaders, segments: [Segment]) async throws -> Bool {
        guard head.first(name: "content-length") == String(size) else { return false }
        if head.first(name: "x-static-large-object")?.lowercased() == "true" {
            var offset: Int64 = 0
            for seg in segments {
                guard !seg.ranged, seg.bytes >= 0, try Self.md5(of: path, offset: offset, length: seg.bytes) == seg.hash else { return false }
                offset += seg.bytes
            }
            return offset == size
        }
        if head.first(name: "x-object-manifest") != nil { return false }
        let etag = (head.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
        return try Self.md5(of: path, offset: 0, length: size) == etag
    }

    /// Uploads the segments a previous run did not store, then the manifest.
    private func uploadSegmented(container: String, item: Item, size: Int64, mtime: String, segmentSize: Int64,
                                 headers: inout [(String, String)]) async throws -> (reused: Int, uploaded: Int, names: Set<String>) {
        let segContainer = "\(container)_segments"
        try await client.ensureContainer(segContainer)
        let prefix = "\(item.object)/slo/\(mtime)/\(size)/\(segmentSize)/"
        var stored: [String: (Int64, String)] = [:]
        for row in try await client.list(segContainer, prefix: prefix) {
            if let name = row["name"] as? String, let bytes = (row["bytes"] as? NSNumber)?.int64Value, let hash = row["hash"] as? String {
                stored[name] = (bytes, hash)
            }
        }
        let count = Int((size + segmentSize - 1) / segmentSize)
        struct Done: Sendable {
            let index: Int
            let etag: String
            let length: Int64
            let reused: Bool
        }
        let path = item.path
        let results = try await withThrowingTaskGroup(of: Done.self) { group -> [Done] in
            var out: [Done] = []
            var next = 0
            func add(_ i: Int) {
                let offset = Int64(i) * segmentSize
                let length = min(segmentSize, size - offset)
                let name = prefix + String(format: "%08d", i)
                let previous = stored[name]
                group.addTask {
                    if let (bytes, hash) = previous, bytes == length, try Self.md5(of: path, offset: offset, length: length) == hash {
                        self.progress.add(Int(length))
                        return Done(index: i, etag: hash, length: length, reused: true)
                    }
                    let etag = try await self.client.putObject(segContainer, name, file: path, offset: offset, length: length) {
                        self.progress.add($0)
                    }
                    return Done(index: i, etag: etag, length: length, reused: false)
                }
            }
            while next < min(count, max(1, options.segmentThreads)) {
                add(next)
                next += 1
            }
            for try await d in group {
                out.append(d)
                if next < count {
                    add(next)
                    next += 1
                }
            }
            return out.sorted { $0.index < $1.index }
        }
        let names = Set((0..<count).map { "/\(segContainer)/\(prefix)\(String(format: "%08d", $0))" })
        if options.useDLO {
            headers.append(("X-Object-Manifest", PercentCoding.encodePath("\(segContainer)/\(prefix)")))
            let r = try await client.request("PUT", SwiftClient.path(container, item.object), headers: headers + [("Content-Length", "0")], body: [])
            guard r.status == 201 else { throw ClientError.http(r.status, "manifest of \(item.object)") }
        } else {
            let manifest = results.map { d -> [String: Any] in
                ["path": "/\(segContainer)/\(prefix)\(String(format: "%08d", d.index))", "etag": d.etag, "size_bytes": d.length]
            }
            let body = Array(try JSONSerialization.data(withJSONObject: manifest))
            let r = try await client.request("PUT", SwiftClient.path(container, item.object), query: "multipart-manifest=put",
                                             headers: headers, body: body)
            guard r.status == 201 else {
                throw ClientError.http(r.status, "manifest of \(item.object)", body: String(buffer: r.body))
            }
        }
        let reused = results.filter(\.reused).count
        return (reused, results.count - reused, names)
    }

    /// MD5 hex of a range of a file.
    static func md5(of path: String, offset: Int64, length: Int64) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClientError("cannot read \(path)") }
        defer { close(fd) }
        var digest = MessageDigest(.md5)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(buffer.count), length - done))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset + done)) }
            if n <= 0 { throw ClientError("\(path) changed while it was read") }
            digest.update(buffer[0..<n])
            done += Int64(n)
        }
        return digest.finalizeHexAndReset()
    }
}
