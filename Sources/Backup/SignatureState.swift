import Foundation
import Tar

/// What the previous sets recorded of each path: its metadata and librsync signature (the
/// full signatures overlaid by each incremental's new signatures).
///
/// Signatures are spilled into one scratch file and read back only for files that changed:
/// a chain's signatures run to ~3 % of the source, too much to hold in memory.
struct SignatureState {
    var entries: [String: TarEntry] = [:]
    private var signatures: [String: (offset: Int64, length: Int)] = [:]
    private var spill: FileHandle?

    /// Paths in duplicity's order.
    var paths: [String] {
        entries.keys.map { (Restorer.components($0), $0) }.sorted { Restorer.less($0.0, $1.0) }.map(\.1)
    }

    /// The recorded librsync signature of `path`, if it was a regular file.
    func signature(for path: String) throws -> [UInt8]? {
        guard let (offset, length) = signatures[path], let spill else { return nil }
        try spill.seek(toOffset: UInt64(offset))
        return Array(try spill.read(upToCount: length) ?? Data())
    }

    static func load(chain: BackupChain, backend: any BackupBackend, work: String, gpg: GPG? = nil,
                     cache: ArchiveCache? = nil) async throws -> SignatureState {
        var state = SignatureState()
        let spillPath = "\(work)/prev-signatures"
        FileManager.default.createFile(atPath: spillPath, contents: nil)
        guard let spill = FileHandle(forUpdatingAtPath: spillPath) else { throw BackupError("cannot write \(spillPath)") }
        state.spill = spill
        var spillOffset: Int64 = 0
        for set in chain.sets {
            guard let name = set.signatures else { throw BackupError("set \(DuplicityTime.format(set.time)) has no signatures") }
            let reader = TarReader()
            var current: (kind: String, path: String, entry: TarEntry)?
            var bytes: [UInt8] = []
            func handle(_ events: [TarReader.Event]) throws {
                for event in events {
                    switch event {
                    case .entry(let e):
                        guard let (kind, path, _) = Restorer.parse(e.name) else { current = nil; continue }
                        if kind == "deleted" {
                            state.entries[path] = nil
                            state.signatures[path] = nil
                            current = nil
                        } else {
                            current = (kind, path, e)
                            bytes.removeAll(keepingCapacity: true)
                            state.entries[path] = e
                            if kind == "snapshot" { state.signatures[path] = nil }
                        }
                    case .data(let d):
                        if current?.kind == "signature" { bytes += d }
                    case .entryEnd:
                        if let c = current, c.kind == "signature" {
                            spill.write(Data(bytes))
                            state.signatures[c.path] = (spillOffset, bytes.count)
                            spillOffset += Int64(bytes.count)
                            // The signature member carries the file's metadata; its type is the file's.
                            var meta = c.entry
                            meta.type = .regular
                            state.entries[c.path] = meta
                        }
                        current = nil
                    case .end: break
                    }
                }
            }
            // The cache's copy (gzipped, decrypted) saves fetching and decrypting the target's.
            if let cached = cache?.path(of: name) {
                try Restorer.forEachBlock(of: cached, gunzip: true) { try handle(try reader.feed($0)) }
                continue
            }
            var local = "\(work)/prev-sigtar"
            try await backend.get(name, to: local)
            if name.hasSuffix(".gpg") {
                guard let gpg else { throw BackupError("the backup is encrypted: set PASSPHRASE") }
                try await gpg.decrypt(local, to: local + ".plain")
                unlink(local)
                local += ".plain"
            }
            defer { unlink(local) }
            try Restorer.forEachBlock(of: local, gunzip: name.hasSuffix(".gz") || name.hasSuffix(".gz.gpg")) { try handle(try reader.feed($0)) }
        }
        return state
    }
}
