import ArgumentParser
import Foundation
import NIOHTTP1
import NimbusClient

/// `st stat [CONTAINER [OBJECT]]`
struct Stat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show an account, container or object.")

    @Argument var container: String?
    @Argument var object: String?

    func run() async throws {
        try await Session.run { client in
            let r = try await client.request("HEAD", SwiftClient.path(container, object))
            guard (200..<300).contains(r.status) else {
                throw ClientError.http(r.status, [container, object].compactMap { $0 }.joined(separator: "/").isEmpty ? "account" :
                                        [container, object].compactMap { $0 }.joined(separator: "/"))
            }
            let (url, _) = try await client.authenticate()
            var rows: [(String, String)] = [("Account", url.split(separator: "/").last.map(String.init) ?? "")]
            let h = r.headers
            if let container {
                rows.append(("Container", container))
                if let object {
                    rows += [("Object", object), ("Content Type", h.first(name: "content-type") ?? ""),
                             ("Content Length", h.first(name: "content-length") ?? ""), ("Last Modified", h.first(name: "last-modified") ?? ""),
                             ("ETag", h.first(name: "etag") ?? "")]
                    if let m = h.first(name: "x-object-manifest") { rows.append(("Manifest", m)) }
                } else {
                    rows += [("Objects", h.first(name: "x-container-object-count") ?? ""), ("Bytes", h.first(name: "x-container-bytes-used") ?? ""),
                             ("Read ACL", h.first(name: "x-container-read") ?? ""), ("Write ACL", h.first(name: "x-container-write") ?? "")]
                }
            } else {
                rows += [("Containers", h.first(name: "x-account-container-count") ?? ""), ("Objects", h.first(name: "x-account-object-count") ?? ""),
                         ("Bytes", h.first(name: "x-account-bytes-used") ?? "")]
            }
            for (name, value) in h {
                let l = name.lowercased()
                for prefix in ["x-account-meta-", "x-container-meta-", "x-object-meta-"] where l.hasPrefix(prefix) {
                    rows.append(("Meta " + name.dropFirst(prefix.count), value))
                }
            }
            let width = rows.map(\.0.count).max() ?? 0
            for (k, v) in rows { print(String(repeating: " ", count: width - k.count + 2) + "\(k): \(v)") }
            return true
        }
    }
}

/// `st list [CONTAINER]`
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List containers, or the objects of a container.")

    @Argument var container: String?
    @Option(name: [.customShort("p"), .long]) var prefix: String?
    @Option(name: [.customShort("d"), .long]) var delimiter: String?
    @Flag(name: [.customShort("l"), .long], help: "Size, date and name.") var long = false
    @Flag(help: "Like --long, sizes in K/M/G.") var lh = false
    @Flag(name: [.customShort("t"), .long], help: "Totals line (with --long).") var totals = false

    func run() async throws {
        try await Session.run { client in
            let rows = try await client.list(container, prefix: prefix, delimiter: delimiter)
            var count = 0
            var bytes: Int64 = 0
            for row in rows {
                let name = (row["name"] as? String) ?? (row["subdir"] as? String) ?? ""
                let size = (row["bytes"] as? NSNumber)?.int64Value ?? 0
                count += 1
                bytes += size
                guard long || lh else {
                    if !totals { print(name) }
                    continue
                }
                let sizeText = lh ? Human.short(size) : String(size)
                let date = ((row["last_modified"] as? String) ?? "").replacingOccurrences(of: "T", with: " ").prefix(19)
                let padded = String(repeating: " ", count: max(0, 12 - sizeText.count)) + sizeText
                if row["subdir"] != nil {
                    print(String(repeating: " ", count: 12) + " " + String(repeating: " ", count: 19) + " \(name)")
                } else {
                    print("\(padded) \(date.padding(toLength: 19, withPad: " ", startingAt: 0)) \(name)")
                }
            }
            if totals || long || lh {
                let sizeText = lh ? Human.short(bytes) : String(bytes)
                print(String(repeating: " ", count: max(0, 12 - sizeText.count)) + sizeText + "  \(count) " + (container == nil ? "containers" : "objects"))
            }
            return true
        }
    }
}

/// `st post [CONTAINER [OBJECT]]`
struct Post: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Update metadata or ACLs (creates a missing container).")

    @Argument var container: String?
    @Argument var object: String?
    @Option(name: [.customShort("m"), .long], help: "Metadata Name:Value (repeatable; Name: alone removes it).") var meta: [String] = []
    @Option(name: [.customShort("r"), .long], help: "Container read ACL.") var readACL: String?
    @Option(name: [.customShort("w"), .long], help: "Container write ACL.") var writeACL: String?
    @Option(name: [.customShort("H"), .long], help: "Header Name:Value (repeatable).") var header: [String] = []

    func run() async throws {
        let kind = object != nil ? "Object" : container != nil ? "Container" : "Account"
        var headers = try Session.headers(header)
        for m in meta {
            let parts = m.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty else { throw ValidationError("metadata \(m) must be Name:Value") }
            headers.append(parts.count == 2 && !parts[1].isEmpty ? ("X-\(kind)-Meta-\(name)", parts[1]) : ("X-Remove-\(kind)-Meta-\(name)", "x"))
        }
        if let readACL { headers.append(("X-Container-Read", readACL)) }
        if let writeACL { headers.append(("X-Container-Write", writeACL)) }
        try await Session.run { client in
            let path = SwiftClient.path(container, object)
            var r = try await client.request("POST", path, headers: headers)
            if r.status == 404, container != nil, object == nil {
                r = try await client.request("PUT", path, headers: headers)
            }
            guard (200..<300).contains(r.status) else { throw ClientError.http(r.status, "post to \(path.isEmpty ? "account" : path)") }
            return true
        }
    }
}

/// `st copy CONTAINER OBJECT --destination /C/O`
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy an object on the server.")

    @Argument var container: String
    @Argument var objects: [String]
    @Option(name: [.customShort("d"), .long], help: "/container[/object] to copy to (default: the same object, to update metadata).")
    var destination: String?
    @Option(name: [.customShort("m"), .long], help: "Metadata Name:Value for the copy (repeatable).") var meta: [String] = []
    @Flag(help: "Do not carry the source's metadata over.") var freshMetadata = false

    func run() async throws {
        try await Session.run { client in
            var errors: [String] = []
            for object in objects {
                var dest = destination ?? "/\(container)/\(object)"
                if objects.count > 1 || dest.split(separator: "/").count == 1 { dest += "/\(object)" }
                var headers: [(String, String)] = [("Destination", dest.hasPrefix("/") ? dest : "/" + dest)]
                if freshMetadata { headers.append(("X-Fresh-Metadata", "true")) }
                for m in meta {
                    let parts = m.split(separator: ":", maxSplits: 1)
                    if parts.count == 2 { headers.append(("X-Object-Meta-\(parts[0])", String(parts[1]))) }
                }
                let r = try await client.request("COPY", SwiftClient.path(container, object), headers: headers)
                if r.status != 201 { errors.append("\(ClientError.http(r.status, "copy of \(container)/\(object)"))") }
            }
            return Session.fail(errors)
        }
    }
}

/// `st capabilities`: the cluster's `/info`.
struct Capabilities: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the cluster offers (/info).")

    func run() async throws {
        try await Session.run { client in
            let (url, _) = try await client.authenticate()
            let endpoint = try SwiftClient.Endpoint(url)
            let r = try await client.http.request(host: endpoint.host, port: endpoint.port, secure: endpoint.secure, method: "GET", uri: "/info",
                                                  headers: HTTPHeaders([("Host", endpoint.authority)]), timeout: .seconds(30))
            guard r.status == 200, let info = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any] else {
                throw ClientError.http(r.status, "/info")
            }
            for key in info.keys.sorted() {
                print("\(key):")
                if let settings = info[key] as? [String: Any] {
                    for k in settings.keys.sorted() { print("  \(k): \(settings[k]!)") }
                }
            }
            return true
        }
    }
}

/// `st auth`: shell exports of the storage URL and token.
struct Auth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Authenticate and print OS_STORAGE_URL and OS_AUTH_TOKEN exports.")

    func run() async throws {
        try await Session.run { client in
            let (url, token) = try await client.authenticate()
            print("export OS_STORAGE_URL=\(url)")
            print("export OS_AUTH_TOKEN=\(token)")
            return true
        }
    }
}
