import Foundation

/// The data of a volume could not be read (gunzip, tar) after part of it was applied.
struct VolumeReadFailure: Error {
    let error: Error
    /// The backup path of the member that was being written when the data went bad.
    let abandoned: String?
}

/// Writing the target failed while a volume was read: never ignored, never blamed on the volume.
struct TargetWriteFailure: Error {
    let error: Error
}

/// A volume that cannot be fetched, checked, decrypted or read (duplicity's `--ignore-errors`).
///
/// The files whose data lay in it — the manifest's file list within the volume's path range,
/// and a multivol file spanning into or out of it — are incomplete: none of them is left in
/// the target, neither partly written nor as an older version a delta would have changed.
/// A volume that goes bad half-way (possible only when its manifest has no hash) is lost
/// whole: what was written from it cannot be trusted, as gzip checks its CRC only at the
/// end of a member.
/// Without `ignoreErrors` the restore stops there with an error naming them; with it the
/// restore goes on and `Result` lists them.
extension Restorer {
    /// How many lost files an error names before "and N more".
    static let namedFiles = 20

    /// Handles a volume that failed (`partlyRead`: after some of it was applied): throws the
    /// error naming it and the lost files, or with `ignoreErrors` records them and returns.
    func volumeFailed(_ volume: Manifest.Volume, name: String?, manifest: Manifest, reason: Error, partlyRead: Bool,
                      abandoned: String?) throws {
        var lost: [String] = abandoned.map { [$0] } ?? []
        if partlyRead {
            lost += restoredInVolume
            result.files -= restoredInVolume.count
            restoredInVolume = []
        }
        if let p = pending {
            // The file being assembled continues into this volume, or was being read from it.
            let start = volume.startPath == "." ? "" : volume.startPath
            if partlyRead || p.path == start {
                try discardPending()
                lost.append(p.path)
            } else {
                try finishPending()
            }
        }
        if let files = manifest.files {
            for (action, path) in files where Self.volume(volume, holds: path) {
                guard let dest = destination(path) else { continue }
                if action == "deleted" {
                    // Its deletion was in this volume: at this time it is gone anyway.
                    unlink(dest)
                    incomplete.remove(path)
                } else {
                    lost.append(path)
                }
            }
        }
        lost = Set(lost).filter { destination($0) != nil }.sorted(by: SourceTree.precedes)
        for path in lost { markIncomplete(path) }
        try? writers.drain()
        let what = name.map { "cannot read \($0): \(reason)" } ?? "\(reason)"
        var losses: String
        if manifest.files == nil {
            losses = "the files from \(Self.shown(volume.startPath)) to \(Self.shown(volume.endPath)) in it were not restored"
            if !lost.isEmpty { losses += " (\(Self.list(lost)) among them)" }
        } else {
            losses = lost.isEmpty ? "no file was lost with it" : "not restored as a result: \(Self.list(lost))"
        }
        guard options.ignoreErrors else {
            throw BackupError("""
                \(what); \(losses); \(result.files) files restored before the error are in \(target), the rest of the backup \
                was not restored: rerun with --ignore-errors to restore everything else
                """)
        }
        result.unreadableVolumes.append("\(what) (\(losses))")
    }

    /// Whether a volume's path range holds `path` (a file spanning volumes is in both).
    static func volume(_ v: Manifest.Volume, holds path: String) -> Bool {
        let p = components(path)
        return !less(p, components(v.startPath)) && !less(components(v.endPath), p)
    }

    /// Records a file as not restored and removes what the target holds of it.
    func markIncomplete(_ path: String) {
        guard let dest = destination(path) else { return }
        incomplete.insert(path)
        // Neither a partial file nor an older version may look like the restored file.
        var st = stat()
        if lstat(dest, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR { unlink(dest) }
        knownDirectories.remove(dest)
    }

    /// Drops the multivol file being assembled (its scratch file, never the destination).
    func discardPending() throws {
        guard let p = pending else { return }
        pending = nil
        let file = p.file
        try writers.submit(lane: p.lane) { close(file.fd) }
        try writers.drain()
        unlink(p.temp)
    }

    /// Closes and removes the member that was being written when its volume went bad;
    /// answers its backup path (multivol chunks are the pending file's, handled by the caller).
    func abandon(_ member: Member?) -> String? {
        guard let m = member, !m.multivol, let (_, path, _) = Self.parse(m.entry.name) else { return nil }
        let file = m.file, written = m.path, inPlace = m.inPlace
        try? writers.submit(lane: m.lane) {
            close(file.fd)
            if inPlace { unlink(written) }
        }
        try? writers.drain()
        return path
    }

    static func list(_ paths: [String]) -> String {
        let shown = paths.prefix(namedFiles).map(Self.shown).joined(separator: ", ")
        return paths.count > namedFiles ? "\(shown) and \(paths.count - namedFiles) more" : shown
    }

    static func shown(_ path: String) -> String { path.isEmpty || path == "." ? "." : path }
}
