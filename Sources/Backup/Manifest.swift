import Foundation

/// A set's manifest: where it was made, each volume's first and last path and hash, and the
/// regular files it changed. Parsed leniently and written byte for byte as duplicity does.
public struct Manifest: Equatable, Sendable {
    public struct Volume: Equatable, Sendable {
        public var number: Int
        public var startPath: String
        public var startBlock: Int?
        public var endPath: String
        public var endBlock: Int?
        /// `(algorithm, lowercase hex)`, e.g. `("SHA1", "3c8d…")`.
        public var hash: (String, String)?

        public init(number: Int, startPath: String, startBlock: Int?, endPath: String, endBlock: Int?, hash: (String, String)?) {
            self.number = number
            self.startPath = startPath
            self.startBlock = startBlock
            self.endPath = endPath
            self.endBlock = endBlock
            self.hash = hash
        }

        public static func == (a: Volume, b: Volume) -> Bool {
            a.number == b.number && a.startPath == b.startPath && a.startBlock == b.startBlock && a.endPath == b.endPath
                && a.endBlock == b.endBlock && a.hash?.0 == b.hash?.0 && a.hash?.1 == b.hash?.1
        }
    }

    public var hostname: String?
    public var localdir: String?
    public var volumes: [Volume] = []
    /// `(action, path)`: `new`, `changed` or `deleted`.
    public var files: [(String, String)]?

    public init() {}

    public static func == (a: Manifest, b: Manifest) -> Bool {
        a.hostname == b.hostname && a.localdir == b.localdir && a.volumes == b.volumes
            && a.files?.map { "\($0.0) \($0.1)" } == b.files?.map { "\($0.0) \($0.1)" }
    }

    /// Parses manifest text.
    public init(parsing text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        var current: Volume?
        func flush() {
            if let v = current { volumes.append(v) }
            current = nil
        }
        while let line = lines.popFirst() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let (keyword, rest) = Self.splitKeyword(trimmed)
            switch keyword.lowercased() {
            case "hostname": hostname = rest
            case "localdir": localdir = Self.unquote(rest)
            case "volume":
                flush()
                guard let n = Int(rest.trimmingCharacters(in: CharacterSet(charactersIn: ": "))) else { throw BackupError("bad manifest line: \(line)") }
                current = Volume(number: n, startPath: "", startBlock: nil, endPath: "", endBlock: nil, hash: nil)
            case "startingpath":
                let (p, b) = Self.pathAndBlock(rest)
                current?.startPath = p
                current?.startBlock = b
            case "endingpath":
                let (p, b) = Self.pathAndBlock(rest)
                current?.endPath = p
                current?.endBlock = b
            case "hash":
                let parts = rest.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count == 2 { current?.hash = (parts[0].uppercased(), parts[1].lowercased()) }
            case "filelist":
                flush()
                var entries: [(String, String)] = []
                let count = Int(rest) ?? Int.max
                while entries.count < count, let next = lines.first {
                    let t = next.trimmingCharacters(in: .whitespaces)
                    let (action, path) = Self.splitKeyword(t)
                    guard ["new", "changed", "deleted"].contains(action) else { break }
                    lines.removeFirst()
                    entries.append((action, Self.unquote(path)))
                }
                files = entries
            default:
                continue
            }
        }
        flush()
        // Volumes numbered above the last block read are discarded (a torn write).
        volumes.sort { $0.number < $1.number }
    }

    /// The manifest text, exactly as duplicity writes it.
    public var text: String {
        var out = ""
        if let hostname { out += "Hostname \(hostname)\n" }
        if let localdir { out += "Localdir \(Self.quote(localdir))\n" }
        for v in volumes {
            out += "Volume \(v.number):\n"
            // An absent block number leaves two spaces after the path, as duplicity writes it.
            out += "    StartingPath   \(Self.quote(v.startPath))\(v.startBlock.map { " \($0)" } ?? "  ")\n"
            out += "    EndingPath     \(Self.quote(v.endPath))\(v.endBlock.map { " \($0)" } ?? "  ")\n"
            if let (alg, hex) = v.hash { out += "    Hash \(alg) \(hex)\n" }
        }
        if let files {
            out += "Filelist \(files.count)\n"
            for (action, path) in files {
                out += "    \(action.padding(toLength: 7, withPad: " ", startingAt: 0))  \(Self.quote(path))\n"
            }
        }
        return out
    }

    static func splitKeyword(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (line, "") }
        return (String(line[..<space]), line[space...].trimmingCharacters(in: .whitespaces))
    }

    static func pathAndBlock(_ rest: String) -> (String, Int?) {
        let t = rest.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("\""), let close = t.dropFirst().firstIndex(of: "\"") {
            let path = String(t[t.startIndex...close])
            let block = Int(t[t.index(after: close)...].trimmingCharacters(in: .whitespaces))
            return (unquote(path), block)
        }
        let parts = t.split(separator: " ", omittingEmptySubsequences: true)
        return (parts.first.map(String.init) ?? "", parts.count > 1 ? Int(parts[1]) : nil)
    }

    /// duplicity's `Quote`: paths with whitespace, `\`, `"` or `'` are wrapped in quotes with
    /// those bytes written as `\xNN`.
    public static func quote(_ path: String) -> String {
        let special = path.utf8.contains { $0 == 0x5C || $0 == 0x22 || $0 == 0x27 || $0 == 0x20 || (0x09...0x0D).contains($0) }
        return special ? quoteBytes(path) : path
    }

    static func quoteBytes(_ path: String) -> String {
        var bytes: [UInt8] = [0x22]
        for b in path.utf8 {
            if b == 0x5C || b == 0x22 || b == 0x27 || b == 0x20 || (0x09...0x0D).contains(b) {
                bytes += Array(String(format: "\\x%02x", b).utf8)
            } else {
                bytes.append(b)
            }
        }
        bytes.append(0x22)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reverses `quote`.
    public static func unquote(_ text: String) -> String {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return text }
        let inner = Array(text.utf8.dropFirst().dropLast())
        var out: [UInt8] = []
        var i = 0
        while i < inner.count {
            if inner[i] == 0x5C, i + 3 < inner.count, inner[i + 1] == UInt8(ascii: "x"),
               let v = UInt8(String(decoding: inner[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else if inner[i] == 0x5C, i + 1 < inner.count {
                out.append(inner[i + 1])
                i += 2
            } else {
                out.append(inner[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
