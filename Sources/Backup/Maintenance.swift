import Digest
import Foundation

/// Pruning, cleanup, and moving a backup between targets.
public enum Maintenance {
    /// Every file name of the given chains' sets.
    static func files(of chains: [BackupChain]) -> [String] {
        chains.flatMap { c in c.sets.flatMap { s in Array(s.volumes.values) + [s.manifest, s.signatures].compactMap { $0 } } }
    }

    /// `remove-older-than T`: chains whose last set is older than T (never one with a set at or
    /// after T). Answers the files removed (or that would be, without `force`).
    public static func removeOlderThan(_ time: Int64, backend: any BackupBackend, force: Bool) async throws -> [String] {
        let collection = BackupCollection(names: try await backend.list())
        // The newest chain always stays: it is what the next incremental builds on.
        let old = collection.chains.dropLast().filter { $0.end < time }
        return try await remove(files(of: Array(old)), backend: backend, force: force)
    }

    /// `remove-all-but-n-full N`: keeps the newest N chains.
    public static func removeAllButNFull(_ n: Int, backend: any BackupBackend, force: Bool) async throws -> [String] {
        guard n >= 1 else { throw BackupError("remove-all-but-n-full needs N ≥ 1") }
        let chains = BackupCollection(names: try await backend.list()).chains
        return try await remove(files(of: Array(chains.dropLast(n))), backend: backend, force: force)
    }

    /// `cleanup`: backup-named files that belong to no complete set (interrupted runs).
    public static func cleanup(backend: any BackupBackend, force: Bool) async throws -> [String] {
        let names = try await backend.list()
        let collection = BackupCollection(names: names)
        let kept = Set(files(of: collection.chains))
        let stray = names.filter { BackupFileName.parse($0) != nil && !kept.contains($0) }.sorted()
        return try await remove(stray, backend: backend, force: force)
    }

    private static func remove(_ names: [String], backend: any BackupBackend, force: Bool) async throws -> [String] {
        if force { for n in names { try await backend.delete(n) } }
        return names.sorted()
    }

    /// `copy FROM TO`: copies every file of every complete chain, resumably (a file already on
    /// the target with the manifest's SHA1, or the same bytes, is not sent again) and checking
    /// each volume's SHA1 against its manifest on the way. Answers (copied, skipped).
    public static func copy(from source: any BackupBackend, to target: any BackupBackend, work: String,
                            gpg: GPG? = nil) async throws -> (copied: [String], skipped: [String]) {
        let collection = BackupCollection(names: try await source.list())
        let present = Set(try await target.list())
        var copied: [String] = [], skipped: [String] = []
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        for chain in collection.chains {
            for set in chain.sets {
                guard let manifestName = set.manifest else { continue }
                let manifestPath = "\(work)/manifest"
                try await source.get(manifestName, to: manifestPath)
                var manifestText = manifestPath
                if manifestName.hasSuffix(".gpg") {
                    guard let gpg else { throw BackupError("the backup is encrypted: set PASSPHRASE to check its volumes") }
                    try await gpg.decrypt(manifestPath, to: manifestPath + ".plain")
                    manifestText = manifestPath + ".plain"
                }
                let manifest = try Manifest(parsing: String(decoding: try Data(contentsOf: URL(fileURLWithPath: manifestText)), as: UTF8.self))
                var hashes: [String: String] = [:]
                for v in manifest.volumes { if let name = set.volumes[v.number], let (alg, hex) = v.hash, alg == "SHA1" { hashes[name] = hex } }
                // Volumes and signatures first, the manifest last: the set appears only when whole.
                for name in set.volumes.keys.sorted().compactMap({ set.volumes[$0] }) + [set.signatures].compactMap({ $0 }) {
                    let local = "\(work)/file"
                    try await source.get(name, to: local)
                    if present.contains(name) {
                        // Already there with the same bytes (a resumed copy): not sent again.
                        let want = try hashes[name] ?? Restorer.sha1(local)
                        try await target.get(name, to: "\(work)/there")
                        if try Restorer.sha1("\(work)/there") == want {
                            skipped.append(name)
                            continue
                        }
                    }
                    if let want = hashes[name], try Restorer.sha1(local) != want {
                        throw BackupError("SHA1 mismatch in \(name) on the source: not copied")
                    }
                    try await target.put(local, as: name)
                    copied.append(name)
                }
                if present.contains(manifestName) {
                    skipped.append(manifestName)
                } else {
                    try await target.put(manifestPath, as: manifestName)
                    copied.append(manifestName)
                }
            }
        }
        return (copied, skipped)
    }

    /// `migrate-cache FROM TO`: after checking that TO holds every set of FROM's chains with
    /// the same names and volume SHA1s, copies (never moves) the archive cache directory of
    /// FROM to TO's name. Answers what it did, line by line.
    public static func migrateCache(from fromURL: String, to toURL: String, source: any BackupBackend, target: any BackupBackend,
                                    archiveDir: String?, work: String) async throws -> [String] {
        let fromCache = Backends.cacheDirectory(url: fromURL, archiveDir: archiveDir, name: nil)
        let toCache = Backends.cacheDirectory(url: toURL, archiveDir: archiveDir, name: nil)
        guard FileManager.default.fileExists(atPath: fromCache) else { throw BackupError("no archive cache for \(fromURL) at \(fromCache)") }
        let from = BackupCollection(names: try await source.list())
        let targetNames = Set(try await target.list())
        var lines: [String] = []
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        for name in files(of: from.chains) {
            guard targetNames.contains(name) else { throw BackupError("\(toURL) lacks \(name): copy the backup first (nimbus backup copy)") }
        }
        // Same bytes: each volume's SHA1 on the target matches the manifest in the cache.
        for chain in from.chains {
            for set in chain.sets {
                guard let manifestName = set.manifest else { continue }
                let cached = "\(fromCache)/\(manifestName.replacingOccurrences(of: ".gpg", with: ""))"
                guard let text = try? String(contentsOfFile: cached, encoding: .utf8) else { continue }
                for v in try Manifest(parsing: text).volumes {
                    guard let name = set.volumes[v.number], let (alg, hex) = v.hash, alg == "SHA1" else { continue }
                    try await target.get(name, to: "\(work)/check")
                    guard try Restorer.sha1("\(work)/check") == hex else { throw BackupError("\(toURL): \(name) differs from the manifest (SHA1)") }
                    lines.append("verified \(name)")
                }
            }
        }
        if FileManager.default.fileExists(atPath: toCache) { throw BackupError("\(toCache) exists already: not overwritten") }
        try FileManager.default.createDirectory(atPath: (toCache as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fromCache, toPath: toCache)
        try? FileManager.default.removeItem(atPath: "\(toCache)/lockfile")
        lines.append("copied \(fromCache) to \(toCache)")
        return lines
    }
}
