import Digest
import Foundation
import NimbusCore

/// A stored static large object manifest: the JSON list SLO's PUT wrote, one entry per
/// segment (an object, a byte range of one, a nested manifest, or inline data).
struct SLOManifest: Sendable {
    /// One entry of the manifest.
    enum Entry: Sendable {
        case object(ObjectEntry)
        /// Inline bytes (`{"data": base64}`).
        case data([UInt8])
    }

    /// An object-backed entry, as stored.
    struct ObjectEntry: Sendable {
        /// `/container/object`, not percent-encoded.
        var name: String
        /// The segment object's whole length (for a nested manifest: its large object's).
        var bytes: Int64
        var hash: String
        var contentType: String
        var lastModified: String
        /// The part of the segment used, when not all of it.
        var range: ClosedRange<Int64>?
        /// True when the segment is itself an SLO manifest.
        var subSLO: Bool

        /// Bytes this entry contributes.
        var length: Int64 { range.map { Int64($0.count) } ?? bytes }
    }

    var entries: [Entry]

    /// Swift's SLO ETag: the MD5 of the entries' ETags (`hash:first-last;` for ranges, the MD5
    /// of the bytes for inline data), concatenated.
    var etag: String {
        var md5 = MessageDigest(.md5)
        for entry in entries {
            switch entry {
            case .data(let bytes): md5.update(Array(Digests.md5Hex(bytes).utf8))
            case .object(let o):
                let text = o.range.map { "\(o.hash):\($0.lowerBound)-\($0.upperBound);" } ?? o.hash
                md5.update(Array(text.utf8))
            }
        }
        return md5.finalizeHexAndReset()
    }

    /// The large object's length (400 when the entries' sizes do not fit in Int64).
    func totalLength() throws -> Int64 {
        try entries.reduce(0) { sum, e in
            switch e {
            case .data(let b): return try ObjectProxy.addSizes(sum, Int64(b.count))
            case .object(let o): return try ObjectProxy.addSizes(sum, o.length)
            }
        }
    }

    /// Parses a stored manifest.
    init(stored data: Data) throws {
        guard let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw HTTPError(500, "Unable to load SLO manifest")
        }
        entries = try list.map { item in
            if let b64 = item["data"] as? String {
                guard let bytes = Data(base64Encoded: b64) else { throw HTTPError(500, "Bad inline data in SLO manifest") }
                return .data(Array(bytes))
            }
            guard let name = item["name"] as? String else { throw HTTPError(500, "SLO manifest entry without a name") }
            var contentType = item["content_type"] as? String ?? ""
            var bytes = (item["bytes"] as? NSNumber)?.int64Value ?? 0
            let subSLO = (item["sub_slo"] as? Bool) ?? false
            if subSLO, let swiftBytes = ContentTypeParams.swiftBytes(contentType) {
                bytes = swiftBytes
                contentType = ContentTypeParams.clean(contentType)
            }
            var range: ClosedRange<Int64>?
            if let r = item["range"] as? String {
                let parts = r.split(separator: "-")
                guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a <= b, b < Int64.max else {
                    throw HTTPError(500, "Bad range in SLO manifest")
                }
                range = a...b
            }
            return .object(ObjectEntry(name: name, bytes: bytes, hash: item["hash"] as? String ?? "", contentType: contentType,
                                       lastModified: item["last_modified"] as? String ?? "", range: range, subSLO: subSLO))
        }
    }

    init(entries: [Entry]) { self.entries = entries }

    /// The stored form, byte for byte as Swift writes it.
    var stored: PythonJSON {
        .array(entries.map { entry in
            switch entry {
            case .data(let bytes): return .object([("data", .string(Data(bytes).base64EncodedString()))])
            case .object(let o):
                var members: [(String, PythonJSON)] = [
                    ("name", .string(o.name)), ("bytes", .int(o.bytes)), ("hash", .string(o.hash)),
                    ("content_type", .string(o.contentType)), ("last_modified", .string(o.lastModified)),
                ]
                if let r = o.range { members.append(("range", .string("\(r.lowerBound)-\(r.upperBound)"))) }
                if o.subSLO { members.append(("sub_slo", .bool(true))) }
                return .object(members)
            }
        })
    }

    /// `?multipart-manifest=get&format=raw`: the manifest as a client would PUT it.
    var raw: PythonJSON {
        PythonJSON.array(entries.map { entry in
            switch entry {
            case .data(let bytes): return .object([("data", .string(Data(bytes).base64EncodedString()))])
            case .object(let o):
                var members: [(String, PythonJSON)] = [("path", .string(o.name)), ("size_bytes", .int(o.bytes)), ("etag", .string(o.hash))]
                if let r = o.range { members.append(("range", .string("\(r.lowerBound)-\(r.upperBound)"))) }
                return .object(members)
            }
        }).sortedKeys
    }

    /// Splits `/container/object` into its parts.
    static func split(_ name: String) -> (container: String, object: String)? {
        let trimmed = NameBytes.hasPrefix(name, "/") ? NameBytes.dropPrefix(name, bytes: 1) : name
        guard let (c, o) = NameBytes.splitOnce(trimmed, "/"), !c.isEmpty, !o.isEmpty else { return nil }
        return (c, o)
    }
}
