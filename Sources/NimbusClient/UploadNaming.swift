import Foundation

/// The objects `upload` makes of a path, exactly as python-swiftclient's `swift upload` makes
/// them, so a tree uploaded by either is the same listing:
/// - a file is one object named by the path as typed; a directory is walked as Python's
///   `os.walk` walks it (symbolic links to files are uploaded as the file they point to, links to
///   directories are not followed), each file named `<dir as typed>/<relative path>`;
/// - an empty directory (the top one too) becomes a directory marker (`application/directory`);
/// - then one leading `./` and every leading `/` are taken off (`st upload c .` stores `a`, not
///   `./a`; `/etc/hosts` becomes `etc/hosts`);
/// - `--object-name NAME` replaces the first occurrence of the typed path in each name.
public enum UploadNaming {
    /// One object to be.
    public struct Entry: Equatable, Sendable {
        /// The local file (the directory, for a marker).
        public var path: String
        /// The object name, before the leading `./` and `/` are taken off.
        public var rawName: String
        public var isDirectoryMarker: Bool

        /// The object name as swiftclient stores it.
        public var object: String { UploadNaming.stripped(rawName) }

        /// swiftclient's `--object-name`: `o.replace(orig_path, object_name, 1)`.
        func renamed(replacing typed: String, with given: String) -> Entry {
            var e = self
            if let r = rawName.range(of: typed) { e.rawName.replaceSubrange(r, with: given) }
            return e
        }
    }

    /// What a walk found, and what it could not read.
    public struct Walk: Sendable {
        public var entries: [Entry] = []
        public var problems: [String] = []
    }

    /// swiftclient's name cleaning: leading slashes (`SwiftUploadObject`), then one `./` and one `/`.
    public static func stripped(_ raw: String) -> String {
        var name = Substring(raw)
        while name.hasPrefix("/") { name = name.dropFirst() }
        if name.hasPrefix("./") { name = name.dropFirst(2) }
        if name.hasPrefix("/") { name = name.dropFirst() }
        return String(name)
    }

    /// The entries for `path` as typed on the command line.
    public static func walk(_ path: String) -> Walk {
        var out = Walk()
        var st = stat()
        guard stat(path, &st) == 0 else {
            out.problems.append("\(path): \(lstat(path, &st) == 0 ? "dangling symbolic link" : "no such file or directory")")
            return out
        }
        if (st.st_mode & S_IFMT) == S_IFREG {
            out.entries.append(Entry(path: path, rawName: path, isDirectoryMarker: false))
        } else if (st.st_mode & S_IFMT) == S_IFDIR {
            descend(path, into: &out)
        } else {
            out.problems.append("\(path): not a regular file or directory")
        }
        return out
    }

    /// `os.walk(top)`: `top`'s files, then each subdirectory (not through links).
    private static func descend(_ dir: String, into out: inout Walk) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        } catch {
            let reason = ((error as? CocoaError)?.underlying as? POSIXError).map { ErrorText.strerrorText($0.code.rawValue) } ?? "\(error)"
            out.problems.append("\(dir): cannot list the directory (\(reason))")
            return
        }
        if names.isEmpty {
            out.entries.append(Entry(path: dir, rawName: dir, isDirectoryMarker: true))
            return
        }
        var subdirectories: [String] = []
        for name in names {
            // os.path.join: no slash doubled only when the directory already ends in one.
            let full = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            var l = stat()
            guard lstat(full, &l) == 0 else { continue }  // gone meanwhile
            var target = stat()
            let resolves = stat(full, &target) == 0
            let isDirectory = resolves && (target.st_mode & S_IFMT) == S_IFDIR
            if isDirectory {
                // A link to a directory counts as one (the parent is not empty) but is not followed.
                if (l.st_mode & S_IFMT) == S_IFDIR { subdirectories.append(full) }
            } else if !resolves {
                out.problems.append("\(full): dangling symbolic link")
            } else if (target.st_mode & S_IFMT) != S_IFREG {
                out.problems.append("\(full): not a regular file (skipped)")
            } else {
                out.entries.append(Entry(path: full, rawName: full, isDirectoryMarker: false))
            }
        }
        for sub in subdirectories { descend(sub, into: &out) }
    }
}
