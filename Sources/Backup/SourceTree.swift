import Foundation
import Tar

/// One path of the source tree, as a backup sees it (lstat, never following links).
struct SourceEntry {
    /// Relative path (`""` for the root).
    let path: String
    let type: TarEntryType
    let mode: UInt32
    let uid: Int
    let gid: Int
    let mtime: Int64
    let size: Int64
    let linkTarget: [UInt8]
    let major: Int
    let minor: Int

    /// The tar header fields every member of this path carries (duplicity's rules: symlinks
    /// 0777, uname/gname from the local databases, empty when unknown).
    func header(name: String, size: Int64) -> TarEntry {
        var e = TarEntry(path: Array(name.utf8), type: type, mode: type == .symlink ? 0o777 : mode, uid: uid, gid: gid, size: size,
                         mtime: Double(mtime), linkName: linkTarget, userName: SourceTree.userName(uid), groupName: SourceTree.groupName(gid),
                         deviceMajor: major, deviceMinor: minor)
        if type == .directory || type == .symlink || type == .fifo { e.size = 0 }
        return e
    }

    /// duplicity's change test: type, then mode/uid/gid/integer mtime (symlinks: target).
    func differs(from old: TarEntry) -> Bool {
        if old.type != type { return true }
        switch type {
        case .symlink: return old.linkName != linkTarget
        case .characterDevice, .blockDevice:
            return old.mode & 0o7777 != mode || old.deviceMajor != major || old.deviceMinor != minor
        default:
            return old.mode & 0o7777 != mode || old.uid != uid || old.gid != gid || Int64(old.mtime) != mtime
        }
    }
}

/// Walks a source directory depth-first, each directory's entries in byte order of their
/// names (duplicity's order), skipping sockets.
enum SourceTree {
    /// Visits the root and, depth-first, every path `selection` keeps; `warn` hears of
    /// directories that cannot be read (their contents are skipped).
    static func walk(_ root: String, selection: Selection? = nil, warn: (String) -> Void = { _ in },
                     visit: (SourceEntry) throws -> Void) throws {
        guard let rootEntry = stat(root, relative: "") else { throw BackupError("cannot read the source \(root)") }
        try visit(rootEntry)
        try walkDirectory(root, relative: "", selection: selection, warn: warn, visit: visit)
    }

    private static func walkDirectory(_ root: String, relative: String, selection: Selection?, warn: (String) -> Void,
                                      visit: (SourceEntry) throws -> Void) throws {
        let dir = relative.isEmpty ? root : "\(root)/\(relative)"
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            let reason = opendir(dir).map { closedir($0); return "unreadable" } ?? String(cString: strerror(errno))
            warn("cannot read the directory \(dir): \(reason)")
            return
        }
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let rel = relative.isEmpty ? name : "\(relative)/\(name)"
            guard let entry = stat(root, relative: rel) else { continue }
            if let selection, !selection.includes(rel, isDirectory: entry.type == .directory) { continue }
            try visit(entry)
            if entry.type == .directory { try walkDirectory(root, relative: rel, selection: selection, warn: warn, visit: visit) }
        }
    }

    static func stat(_ root: String, relative: String) -> SourceEntry? {
        let full = relative.isEmpty ? root : "\(root)/\(relative)"
        var st = Glibc.stat()
        guard lstat(full, &st) == 0 else { return nil }
        let fmt = st.st_mode & S_IFMT
        let type: TarEntryType
        switch fmt {
        case S_IFREG: type = .regular
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        case S_IFIFO: type = .fifo
        case S_IFCHR: type = .characterDevice
        case S_IFBLK: type = .blockDevice
        default: return nil  // sockets are skipped, as duplicity does
        }
        var target: [UInt8] = []
        if type == .symlink {
            var buf = [Int8](repeating: 0, count: 4096)
            let n = readlink(full, &buf, buf.count)
            if n > 0 { target = buf[0..<n].map { UInt8(bitPattern: $0) } }
        }
        let rdev = UInt64(st.st_rdev)
        return SourceEntry(path: relative, type: type, mode: UInt32(st.st_mode) & 0o7777, uid: Int(st.st_uid), gid: Int(st.st_gid),
                           mtime: max(0, Int64(st.st_mtim.tv_sec)), size: type == .regular ? Int64(st.st_size) : 0, linkTarget: target,
                           major: Int(((rdev >> 32) & 0xFFFF_F000) | ((rdev >> 8) & 0xFFF)),
                           minor: Int(((rdev >> 12) & 0xFFFF_FF00) | (rdev & 0xFF)))
    }

    static func userName(_ uid: Int) -> String { OwnerNames.shared.user(uid) }

    static func groupName(_ gid: Int) -> String { OwnerNames.shared.group(gid) }

    /// Member names: directories end in `/`; the root is `<kind>/./` in volumes.
    static func memberName(_ kind: String, _ path: String, isDirectory: Bool, inSigtar: Bool = false) -> String {
        if path.isEmpty { return inSigtar ? "\(kind)/" : "\(kind)/./" }
        return "\(kind)/\(path)" + (isDirectory ? "/" : "")
    }

    /// Paths in duplicity's order: component by component, bytes within a component.
    static func precedes(_ a: String, _ b: String) -> Bool {
        Restorer.less(Restorer.components(a), Restorer.components(b))
    }
}
