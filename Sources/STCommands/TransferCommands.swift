import ArgumentParser
import Foundation
import NimbusClient

/// `st upload CONTAINER FILE_OR_DIR…`
struct Upload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Upload files and directories (large files in segments, resumable).")

    @Argument var container: String
    @Argument(help: "Files or directories.") var paths: [String]
    @Option(name: [.customShort("S"), .long], help: "Segment files larger than this many bytes (e.g. 1073741824, 100M, 1G).")
    var segmentSize: String?
    @Flag(help: "Dynamic large objects (X-Object-Manifest) instead of static ones.") var useDLO = false
    @Option(help: "Files uploaded at once.") var objectThreads = 24
    @Option(help: "Segments of one file uploaded at once.") var segmentThreads = 10
    @Flag(name: [.customShort("c"), .long], help: "Only upload files whose size or mtime differ from the stored object.")
    var changed = false
    @Flag(help: "Skip files whose bytes are already stored (MD5 against the ETag; SLO segments too).") var skipIdentical = false
    @Flag(help: "Keep the old segments of an object being replaced.") var leaveSegments = false
    @Option(help: "Object name for a single file, or the prefix replacing a directory's name.") var objectName: String?
    @Option(name: [.customShort("H"), .long], help: "Extra header, Name:Value (repeatable).") var header: [String] = []

    func run() async throws {
        var options = Uploader.Options()
        options.segmentSize = try segmentSize.map(Self.size)
        options.useDLO = useDLO
        options.objectThreads = objectThreads
        options.segmentThreads = segmentThreads
        options.changed = changed
        options.skipIdentical = skipIdentical
        options.leaveSegments = leaveSegments
        options.objectName = objectName
        options.headers = try Session.headers(header)
        // Each object's name as it is stored, as `swift upload` prints them (-q: none).
        if !Session.quiet { options.report = { print($0) } }
        Interruption.advise("interrupted: rerun the same command to resume (stored objects and segments are kept and not sent again)")
        try await Session.run { client in
            let summary = await Uploader(client: client, options: options, progress: Session.progress()).upload(container: container, paths: paths)
            if Session.verbose {
                print("uploaded \(summary.uploaded.count), skipped \(summary.skipped.count), segments sent \(summary.segmentsUploaded), "
                      + "segments reused \(summary.segmentsReused)")
            }
            return Session.fail(summary.errors)
        }
    }

    /// `1048576`, `64K`, `100M`, `2G`.
    static func size(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let last = text.uppercased().last, let unit = units[last], let n = Double(text.dropLast()) { return Int64(n * Double(unit)) }
        guard let n = Int64(text), n > 0 else { throw ValidationError("bad size \(text)") }
        return n
    }
}

/// `st download CONTAINER [OBJECT…]`, `st download --all`
struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Download objects (a container, some objects, or --all).")

    @Argument var container: String?
    @Argument var objects: [String] = []
    @Flag(name: [.customShort("a"), .long], help: "Every container of the account (into <container>/ directories).") var all = false
    @Option(name: [.customShort("p"), .long], help: "Only objects whose names start with this.") var prefix: String?
    @Option(name: [.customShort("D"), .long], help: "Directory to download into.") var outputDir: String?
    @Option(name: [.customShort("o"), .long], help: "File to write a single object to.") var output: String?
    @Flag(help: "Skip objects whose bytes the local file already has.") var skipIdentical = false
    @Option(help: "Objects downloaded at once.") var objectThreads = 24

    func run() async throws {
        guard all || container != nil else { throw ValidationError("name a container, or give --all") }
        if output != nil && objects.count != 1 { throw ValidationError("-o needs exactly one object") }
        var options = Downloader.Options()
        options.objectThreads = objectThreads
        options.outputDirectory = outputDir
        options.outputFile = output
        options.skipIdentical = skipIdentical
        options.prefix = prefix
        options.containerDirectories = all
        if !Session.quiet { options.report = { print($0) } }
        Interruption.advise("interrupted: rerun the same command with --skip-identical to fetch only what is missing")
        try await Session.run { client in
            var containers = container.map { [$0] } ?? []
            if all { containers = try await client.list(nil).compactMap { $0["name"] as? String } }
            let summary = await Downloader(client: client, options: options, progress: Session.progress())
                .download(containers: containers, objects: objects)
            return Session.fail(summary.errors)
        }
    }
}

/// `st delete CONTAINER [OBJECT…]`, `st delete --all`
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete objects (large objects with their segments) and containers.")

    @Argument var container: String?
    @Argument var objects: [String] = []
    @Flag(name: [.customShort("a"), .long], help: "Every container of the account.") var all = false
    @Option(name: [.customShort("p"), .long], help: "Only objects whose names start with this (the container stays).") var prefix: String?
    @Flag(help: "Keep the segments of large objects.") var leaveSegments = false
    @Option(help: "Objects deleted at once.") var objectThreads = 10

    func run() async throws {
        guard all || container != nil else { throw ValidationError("name a container, or give --all") }
        try await Session.run { client in
            var containers = container.map { [$0] } ?? []
            if all { containers = try await client.list(nil).compactMap { $0["name"] as? String } }
            var errors: [String] = []
            for c in containers {
                var names = objects
                if names.isEmpty { names = try await client.list(c, prefix: prefix).compactMap { $0["name"] as? String } }
                let failed = await withTaskGroup(of: String?.self) { group -> [String] in
                    var out: [String] = []
                    var next = names[...]
                    func add(_ name: String) { group.addTask { await deleteObject(client, c, name) } }
                    for _ in 0..<max(1, objectThreads) { if let n = next.popFirst() { add(n) } }
                    for await r in group {
                        if let r { out.append(r) }
                        if let n = next.popFirst() { add(n) }
                    }
                    return out
                }
                errors += failed
                if objects.isEmpty && prefix == nil {
                    let r = try await client.request("DELETE", SwiftClient.path(c))
                    if r.status == 409 {
                        // Listings catch up with deletes a moment later.
                        try await Task.sleep(for: .milliseconds(500))
                        let again = try await client.request("DELETE", SwiftClient.path(c))
                        if !(200..<300).contains(again.status) && again.status != 404 { errors.append("container \(c): HTTP \(again.status)") }
                    } else if !(200..<300).contains(r.status) && r.status != 404 {
                        errors.append("\(ClientError.http(r.status, "deleting container \(c)"))")
                    }
                }
                if !Session.quiet { for n in names { print(n) } }
            }
            return Session.fail(errors)
        }
    }

    func deleteObject(_ client: SwiftClient, _ container: String, _ name: String) async -> String? {
        do {
            let path = SwiftClient.path(container, name)
            let head = try await client.request("HEAD", path)
            if head.status == 404 { return objects.isEmpty ? nil : "\(container)/\(name): not found" }
            var query = ""
            if !leaveSegments && head.headers.first(name: "x-static-large-object")?.lowercased() == "true" {
                query = "multipart-manifest=delete"
            }
            let r = try await client.request("DELETE", path, query: query, headers: [("Accept", "application/json")])
            guard (200..<300).contains(r.status) || r.status == 404 else { return "\(ClientError.http(r.status, "deleting \(container)/\(name)"))" }
            if !leaveSegments, let manifest = head.headers.first(name: "x-object-manifest") {
                let decoded = manifest.removingPercentEncoding ?? manifest
                if let slash = decoded.firstIndex(of: "/") {
                    let segContainer = String(decoded[..<slash])
                    for row in try await client.list(segContainer, prefix: String(decoded[decoded.index(after: slash)...])) {
                        if let seg = row["name"] as? String { _ = try await client.request("DELETE", SwiftClient.path(segContainer, seg)) }
                    }
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
