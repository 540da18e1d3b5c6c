/// One element of a small XML document: name, attributes, children and its own text.
public struct XMLTreeNode: Sendable {
    public var name: String
    public var attributes: [String: String]
    public var children: [XMLTreeNode] = []
    /// The text without leading and trailing whitespace.
    public var text = ""
    /// The text as written (an S3 key may be all spaces).
    public var rawText = ""

    public func child(_ name: String) -> XMLTreeNode? { children.first { $0.name == name } }
}

/// A strict reader for small, simple XML documents such as bundle manifests: an optional
/// declaration, elements with quoted attributes, text with the predefined and numeric entities,
/// comments. No DTDs, CDATA or processing instructions — a manifest has none — and limits on
/// depth and size. Hand-written because Foundation's XMLParser traps on some malformed input
/// (found by the bundle-manifest fuzz target: `<part index0">`), and manifests come from users —
/// as do the S3 API's request documents (DeleteObjects, CreateBucket's location).
public enum XMLTree {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    static let maxDepth = 32
    static let maxElements = 200_000

    public static func parse(_ bytes: [UInt8]) throws -> XMLTreeNode {
        var reader = Reader(bytes: bytes)
        return try reader.document()
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0
        var elements = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ why: String) -> ParseError { ParseError(description: "\(why) at byte \(at)") }

        var atEnd: Bool { at >= bytes.count }

        func peek(_ offset: Int = 0) -> UInt8? { at + offset < bytes.count ? bytes[at + offset] : nil }

        func starts(with text: String) -> Bool {
            let t = Array(text.utf8)
            guard bytes.count - at >= t.count else { return false }
            return bytes[at..<(at + t.count)].elementsEqual(t)
        }

        mutating func skipSpace() {
            while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { at += 1 }
        }

        /// Moves past `terminator`; fails if it never comes.
        mutating func skip(past terminator: String, _ what: String) throws {
            let t = Array(terminator.utf8)
            while !atEnd {
                if starts(with: terminator) {
                    at += t.count
                    return
                }
                at += 1
            }
            throw fail("unterminated \(what)")
        }

        /// Comments and whitespace between elements.
        mutating func skipMisc() throws {
            while true {
                skipSpace()
                if starts(with: "<!--") {
                    try skip(past: "-->", "comment")
                } else {
                    return
                }
            }
        }

        mutating func document() throws -> XMLTreeNode {
            if starts(with: "\u{FEFF}") { at += 3 }
            if starts(with: "<?xml") { try skip(past: "?>", "XML declaration") }
            try skipMisc()
            guard peek() == UInt8(ascii: "<") else { throw fail("no root element") }
            let root = try element(depth: 1)
            try skipMisc()
            guard atEnd else { throw fail("content after the root element") }
            return root
        }

        static func isNameStart(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
        }

        static func isName(_ c: UInt8) -> Bool {
            isNameStart(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
        }

        mutating func name() throws -> String {
            guard let c = peek(), Self.isNameStart(c) else { throw fail("a name was expected") }
            let start = at
            while let c = peek(), Self.isName(c) { at += 1 }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        mutating func element(depth: Int) throws -> XMLTreeNode {
            guard depth <= XMLTree.maxDepth else { throw fail("elements nested deeper than \(XMLTree.maxDepth)") }
            elements += 1
            guard elements <= XMLTree.maxElements else { throw fail("more than \(XMLTree.maxElements) elements") }
            at += 1  // "<"
            if starts(with: "!") || starts(with: "?") { throw fail("DTDs, CDATA and processing instructions are not accepted") }
            var node = XMLTreeNode(name: try name(), attributes: [:])
            while true {
                skipSpace()
                guard let c = peek() else { throw fail("unterminated start tag <\(node.name)>") }
                if c == UInt8(ascii: ">") {
                    at += 1
                    break
                }
                if c == UInt8(ascii: "/") {
                    guard peek(1) == UInt8(ascii: ">") else { throw fail("'/' must end the tag") }
                    at += 2
                    return node
                }
                let key = try name()
                skipSpace()
                guard peek() == UInt8(ascii: "=") else { throw fail("attribute \(key) has no value") }
                at += 1
                skipSpace()
                guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                    throw fail("attribute \(key)'s value is not quoted")
                }
                at += 1
                let value = try text(until: quote)
                at += 1  // closing quote
                guard node.attributes[key] == nil else { throw fail("attribute \(key) is given twice") }
                node.attributes[key] = value
            }
            // Content: text, children, comments, then the matching end tag.
            var text = ""
            while true {
                guard !atEnd else { throw fail("<\(node.name)> is never closed") }
                if starts(with: "</") {
                    at += 2
                    let end = try name()
                    skipSpace()
                    guard end == node.name, peek() == UInt8(ascii: ">") else { throw fail("</\(end)> does not close <\(node.name)>") }
                    at += 1
                    node.text = text.trimmingSpace()
                    node.rawText = text
                    return node
                }
                if starts(with: "<!--") {
                    try skip(past: "-->", "comment")
                } else if peek() == UInt8(ascii: "<") {
                    node.children.append(try element(depth: depth + 1))
                } else {
                    text += try self.text(until: UInt8(ascii: "<"))
                }
            }
        }

        /// Characters up to (not including) `terminator`, entities decoded; `<` is never text.
        mutating func text(until terminator: UInt8) throws -> String {
            var out: [UInt8] = []
            while let c = peek(), c != terminator {
                if c == UInt8(ascii: "<") { throw fail("'<' inside a value") }
                if c == UInt8(ascii: "&") {
                    out += try entity()
                } else {
                    out.append(c)
                    at += 1
                }
            }
            guard peek() == terminator else { throw fail("unterminated text") }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("text is not UTF-8") }
            return s
        }

        mutating func entity() throws -> [UInt8] {
            let start = at
            at += 1
            while let c = peek(), c != UInt8(ascii: ";") {
                guard at - start < 12 else { throw fail("unterminated entity") }
                at += 1
            }
            guard peek() == UInt8(ascii: ";") else { throw fail("unterminated entity") }
            let body = String(decoding: bytes[(start + 1)..<at], as: UTF8.self)
            at += 1
            switch body {
            case "lt": return [UInt8(ascii: "<")]
            case "gt": return [UInt8(ascii: ">")]
            case "amp": return [UInt8(ascii: "&")]
            case "quot": return [UInt8(ascii: "\"")]
            case "apos": return [UInt8(ascii: "'")]
            default:
                var value: UInt32?
                if body.hasPrefix("#x") { value = UInt32(body.dropFirst(2), radix: 16) } else if body.hasPrefix("#") { value = UInt32(body.dropFirst()) }
                guard let v = value, v != 0, let scalar = Unicode.Scalar(v) else { throw fail("unknown entity &\(body);") }
                return Array(String(Character(scalar)).utf8)
            }
        }
    }
}

extension String {
    /// Without leading and trailing XML whitespace.
    func trimmingSpace() -> String {
        // On scalars: "\r\n" is one Character and would not match either.
        let space: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r"]
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !space.contains($0) }), let last = scalars.lastIndex(where: { !space.contains($0) }) else {
            return ""
        }
        return String(scalars[first...last])
    }
}
