import Foundation

/// duplicity's file selection: `--include` / `--exclude` globs and filelists, tried in order,
/// the first that matches a path deciding; a path no selection matches is included.
///
/// Globs: `*` and `?` stay within one path component, `**` crosses components, `[...]` is a
/// character class. A pattern names a path below the source: absolute (it must start with the
/// source directory, as duplicity requires), `**…`, or relative to the source. An exclude
/// covers everything below what it matches; an include also keeps the directories leading
/// to what it could match, so that the walk reaches it.
public struct Selection: Sendable {
    public enum Rule: Sendable, Equatable {
        case include(String)
        case exclude(String)
    }

    struct Compiled: Sendable {
        let include: Bool
        let components: [[UInt8]]
    }

    private let rules: [Compiled]

    public var isEmpty: Bool { rules.isEmpty }

    /// Compiles `rules` for a backup of `source`.
    public init(_ rules: [Rule], source: String) throws {
        // Absolute patterns are compared with the source's absolute path, as duplicity does.
        let absolute = source.hasPrefix("/") ? source : FileManager.default.currentDirectoryPath + "/" + source
        let root = Self.normalized((absolute as NSString).standardizingPath)
        self.rules = try rules.map { rule in
            let (include, pattern) = switch rule {
            case .include(let p): (true, p)
            case .exclude(let p): (false, p)
            }
            var relative = pattern
            if pattern.hasPrefix("/") {
                let p = Self.normalized(pattern)
                if p == root {
                    relative = ""
                } else if p.hasPrefix(root == "/" ? "/" : root + "/") {
                    relative = String(p.dropFirst(root == "/" ? 1 : root.count + 1))
                } else if !pattern.hasPrefix("**") {
                    throw BackupError("the file specification \(pattern) cannot match any files in the base directory \(source)")
                }
            }
            while relative.hasSuffix("/") && relative.count > 1 { relative.removeLast() }
            let components = relative.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
            return Compiled(include: include, components: components)
        }
    }

    /// Reads a filelist: one pattern per line; `+ ` includes, `- ` excludes, otherwise the
    /// list's own kind; blank lines and `#` comments are skipped.
    public static func filelist(_ path: String, include: Bool) throws -> [Rule] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw BackupError("cannot read the filelist \(path)") }
        return text.split(whereSeparator: \.isNewline).compactMap { raw in
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { return nil }
            if line.hasPrefix("+ ") { return .include(String(line.dropFirst(2))) }
            if line.hasPrefix("- ") { return .exclude(String(line.dropFirst(2))) }
            return include ? .include(line) : .exclude(line)
        }
    }

    /// Whether the relative `path` is backed up.
    public func includes(_ path: String, isDirectory: Bool) -> Bool {
        guard !path.isEmpty, !rules.isEmpty else { return true }
        let components = path.split(separator: "/").map { Array($0.utf8) }
        for rule in rules {
            if Self.matchesSelfOrAncestor(rule.components, components) { return rule.include }
            if rule.include && isDirectory && Self.couldMatchBelow(rule.components, components) { return true }
        }
        return true
    }

    private static func normalized(_ path: String) -> String {
        var p = path
        while p.hasSuffix("/") && p.count > 1 { p.removeLast() }
        return p
    }

    /// The pattern matches the whole path or one of its leading parts.
    static func matchesSelfOrAncestor(_ pattern: [[UInt8]], _ path: [[UInt8]]) -> Bool {
        if pattern.isEmpty { return true }
        return (1...path.count).contains { match(pattern[...], path[..<$0]) }
    }

    /// Some path below `path` could match the pattern (the walk must go in).
    static func couldMatchBelow(_ pattern: [[UInt8]], _ path: [[UInt8]]) -> Bool {
        for (i, component) in path.enumerated() {
            guard i < pattern.count else { return false }
            if containsDoubleStar(pattern[i]) { return true }
            if !glob(pattern[i][...], component[...]) { return false }
        }
        return pattern.count > path.count
    }

    private static func containsDoubleStar(_ c: [UInt8]) -> Bool {
        zip(c, c.dropFirst()).contains { $0 == UInt8(ascii: "*") && $1 == UInt8(ascii: "*") }
    }

    /// Components against components; a component holding `**` may span several.
    static func match(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if containsDoubleStar(first) {
            // Join the rest of the path and match this component's glob across slashes.
            for end in path.startIndex...path.endIndex {
                let joined = Array(path[path.startIndex..<end].joined(separator: [UInt8(ascii: "/")]))
                if globAcross(first[...], joined[...]) && match(pattern.dropFirst(), path[end...]) { return true }
            }
            return false
        }
        guard let head = path.first, glob(first[...], head[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// One component: `*` and `?` never match `/` (there is none inside a component).
    static func glob(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool { globAcross(p, s) }

    /// Glob over bytes where `**` and `*` both match any run, `?` one byte.
    private static func globAcross(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        guard let c = p.first else { return s.isEmpty }
        switch c {
        case UInt8(ascii: "*"):
            var rest = p.dropFirst()
            while rest.first == UInt8(ascii: "*") { rest = rest.dropFirst() }
            if rest.isEmpty { return true }
            var i = s.startIndex
            while true {
                if globAcross(rest, s[i...]) { return true }
                if i == s.endIndex { return false }
                i += 1
            }
        case UInt8(ascii: "?"):
            guard !s.isEmpty else { return false }
            return globAcross(p.dropFirst(), s.dropFirst())
        case UInt8(ascii: "["):
            guard let ch = s.first, let close = p.dropFirst(2).firstIndex(of: UInt8(ascii: "]")) else {
                return s.first == c && globAcross(p.dropFirst(), s.dropFirst())
            }
            var set = p[(p.startIndex + 1)..<close]
            let negate = set.first == UInt8(ascii: "!") || set.first == UInt8(ascii: "^")
            if negate { set = set.dropFirst() }
            var hit = false
            var j = set.startIndex
            while j < set.endIndex {
                if j + 2 < set.endIndex, set[j + 1] == UInt8(ascii: "-") {
                    if set[j] <= ch && ch <= set[j + 2] { hit = true }
                    j += 3
                } else {
                    if set[j] == ch { hit = true }
                    j += 1
                }
            }
            return hit != negate && globAcross(p[(close + 1)...], s.dropFirst())
        default:
            guard s.first == c else { return false }
            return globAcross(p.dropFirst(), s.dropFirst())
        }
    }
}
