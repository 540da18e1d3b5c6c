import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore

/// The body Swift's bulk middleware (and SLO's PUT and DELETE, which reuse it) answers with:
/// a summary dictionary and a list of failed names, as text, JSON or XML.
struct BulkResponse {
    /// The formats a client may ask for in `Accept`, in Swift's order of preference.
    static let acceptable = ["text/plain", "application/json", "application/xml", "text/xml"]

    /// Summary entries (`Response Status`, `Number Deleted`…), in insertion order.
    var summary: [(String, PythonJSON)] = []
    /// `[quoted name, status line]` for every failure.
    var errors: [(String, String)] = []

    subscript(key: String) -> PythonJSON? {
        get { summary.first { $0.0 == key }?.1 }
        set {
            if let i = summary.firstIndex(where: { $0.0 == key }) {
                if let newValue { summary[i].1 = newValue } else { summary.remove(at: i) }
            } else if let newValue {
                summary.append((key, newValue))
            }
        }
    }

    /// Adds one to a counter.
    mutating func count(_ key: String) {
        if case .int(let n) = self[key] { self[key] = .int(n + 1) } else { self[key] = .int(1) }
    }

    /// Seconds between the whitespace a long bulk operation sends to keep its client waiting.
    static let yieldFrequency: Duration = .seconds(10)

    /// A 200 response that runs `work`, sending whitespace every `yieldFrequency` meanwhile (as
    /// Swift's bulk middleware does), then the summary in `format`.
    static func streamed(format: String, root: String, _ work: @escaping @Sendable () async -> BulkResponse) -> HTTPResponse {
        let isXML = format.hasSuffix("/xml")
        return HTTPResponse(status: 200, headers: ["Content-Type": format], body: .stream { writer in
            var heartbeats = 0
            let result = try await withThrowingTaskGroup(of: BulkResponse?.self) { group -> BulkResponse in
                group.addTask { await work() }
                group.addTask {
                    try await Task.sleep(for: yieldFrequency)
                    return nil
                }
                while let next = try await group.next() {
                    if let done = next {
                        group.cancelAll()
                        return done
                    }
                    try await writer.write(ByteBuffer(string: heartbeats == 0 && isXML ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : " "))
                    heartbeats += 1
                    group.addTask {
                        try await Task.sleep(for: yieldFrequency)
                        return nil
                    }
                }
                throw HTTPError(500, "bulk operation ended without a result")
            }
            try await writer.write(ByteBuffer(string: (heartbeats > 0 ? "\r\n\r\n" : "") + result.body(format: format, root: root)))
        })
    }

    /// The best format `accept` allows (nil when it allows none of them; an absent header means text).
    static func format(accept: String?) -> String? {
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return "text/plain" }
        var best: (q: Double, index: Int, type: String)?
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let range = parts.first, !range.isEmpty else { continue }
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            guard q > 0 else { continue }
            for (index, type) in acceptable.enumerated() where Self.matches(range, type) {
                if best == nil || q > best!.q || (q == best!.q && index < best!.index) { best = (q, index, type) }
            }
        }
        return best?.type
    }

    private static func matches(_ range: String, _ type: String) -> Bool {
        if range == "*/*" || range == type { return true }
        if range.hasSuffix("/*") { return type.hasPrefix(range.dropLast()) }
        return false
    }

    /// The body in `format` (from `format(accept:)`); `root` names the XML element.
    func body(format: String, root: String) -> String {
        if format == "application/json" {
            var members = summary
            members.append(("Errors", .array(errors.map { .array([.string($0.0), .string($0.1)]) })))
            return PythonJSON.object(members).encoded
        }
        if format.hasSuffix("/xml") {
            var out = "<\(root)>\n"
            for (key, value) in summary.sorted(by: { $0.0 < $1.0 }) {
                let tag = key.replacingOccurrences(of: " ", with: "_").lowercased()
                out += "<\(tag)>\(Self.xmlEscape(Self.text(value)))</\(tag)>\n"
            }
            out += "<errors>\n"
            for (name, status) in errors {
                out += "<object><name>\(Self.xmlEscape(name))</name><status>\(Self.xmlEscape(status))</status></object>\n"
            }
            return out + "</errors>\n</\(root)>\n"
        }
        var out = ""
        for (key, value) in summary.sorted(by: { $0.0 < $1.0 }) { out += "\(key): \(Self.text(value))\n" }
        out += "Errors:\n"
        for (name, status) in errors { out += "\(name), \(status)\n" }
        return out
    }

    private static func text(_ v: PythonJSON) -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        default: return v.encoded
        }
    }

    private static func xmlEscape(_ s: String) -> String { XMLText.escape(s) }
}
