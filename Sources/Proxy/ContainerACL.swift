import Foundation
import NimbusCore

/// A container ACL (`X-Container-Read` / `X-Container-Write`) as tempauth reads it:
/// referrer rules (`.r:*`, `.r:.example.com`, `.r:-bad.host`), `.rlistings`, and group names
/// (`account`, `account:user`).
struct ContainerACL: Equatable {
    var referrers: [String] = []
    var groups: Set<String> = []

    /// Parses an ACL header; throws 400 for designators tempauth does not know.
    init(_ text: String?) throws {
        guard let text else { return }
        for raw in text.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            if entry.hasPrefix(".") && entry != ".rlistings" {
                guard let colon = entry.firstIndex(of: ":"),
                      [".r", ".ref", ".referer", ".referrer"].contains(String(entry[..<colon])) else {
                    throw HTTPError.badRequest("Unknown designator \(entry) in ACL")
                }
                var value = entry[entry.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("*.") { value = String(value.dropFirst()) }  // `*.example.com` means `.example.com`
                guard !value.isEmpty, value != "-" else { throw HTTPError.badRequest("No host/domain value after referrer designation in ACL") }
                // Host names are case-insensitive; rules and Referer hosts are compared lowercased.
                referrers.append(value.lowercased())
            } else {
                groups.insert(entry)
            }
        }
    }

    /// Whether a request with this `Referer` passes the referrer rules (later rules win).
    func referrerAllowed(_ referer: String?) -> Bool {
        guard !referrers.isEmpty else { return false }
        let host = referer.flatMap { URLComponents(string: $0)?.host }.flatMap { $0.isEmpty ? nil : $0.lowercased() } ?? "unknown"
        var allowed = false
        for rule in referrers {
            if rule.hasPrefix("-") {
                let h = String(rule.dropFirst())
                if h == host || (h.hasPrefix(".") && host.hasSuffix(h)) { allowed = false }
            } else if rule == "*" || rule == host || (rule.hasPrefix(".") && host.hasSuffix(rule)) {
                allowed = true
            }
        }
        return allowed
    }
}

/// Account ACLs (`X-Account-Access-Control`): JSON with `admin`, `read-write`, `read-only`
/// lists of groups, as tempauth validates and normalises them.
struct AccountACL: Equatable {
    var admin: Set<String> = []
    var readWrite: Set<String> = []
    var readOnly: Set<String> = []

    static let keys = ["admin", "read-write", "read-only"]

    /// Parses a stored ACL; nil or garbage means none.
    init(stored: String?) {
        guard let stored, let data = stored.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: [String]] else { return }
        admin = Set(obj["admin"] ?? [])
        readWrite = Set(obj["read-write"] ?? [])
        readOnly = Set(obj["read-only"] ?? [])
    }

    /// Validates a client's header and returns Swift's normal form (compact JSON, sorted keys),
    /// or "" when it grants nothing (which removes the ACL).
    static func normalize(_ text: String) throws -> String {
        guard let data = text.data(using: .utf8), let any = try? JSONSerialization.jsonObject(with: data),
              let obj = any as? [String: Any] else {
            throw HTTPError.badRequest("X-Account-Access-Control invalid: Syntax error in input (\(text))")
        }
        var clean: [String: [String]] = [:]
        for (key, value) in obj {
            guard keys.contains(key) else { throw HTTPError.badRequest("X-Account-Access-Control invalid: Key \"\(key)\" not recognized") }
            guard let list = value as? [Any] else {
                throw HTTPError.badRequest("X-Account-Access-Control invalid: Value for key \"\(key)\" must be a list")
            }
            guard let strings = list as? [String] else {
                throw HTTPError.badRequest("X-Account-Access-Control invalid: Elements of \"\(key)\" list must be strings")
            }
            clean[key] = strings
        }
        if clean.isEmpty { return "" }
        let out = try JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: out, as: UTF8.self)
    }
}
