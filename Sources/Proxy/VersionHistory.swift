import Foundation
import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Legacy object versioning (Swift's `versioned_writes`): a container with
/// `X-Versions-Location: other` keeps every overwritten object in `other` as
/// `<3 hex digits of the name's byte length><name>/<timestamp>`. A DELETE then restores the
/// newest copy (`stack` mode); with `X-History-Location` instead, a DELETE keeps the last
/// copy plus a delete marker and removes the object (`history` mode).
enum VersionHistory {
    static let locationSysmeta = "X-Container-Sysmeta-Versions-Location"
    static let modeSysmeta = "X-Container-Sysmeta-Versions-Mode"
    static let deleteMarkerType = "application/x-deleted;swift_versions_deleted=1"

    /// The versioning part of a container PUT/POST: the client's headers to store (without
    /// the location headers) and the system metadata that replaces them.
    static func containerWrite(_ headers: HTTPHeaders) throws -> (HTTPHeaders, [(String, String)]) {
        var h = headers
        var sysmeta: [(String, String)] = []
        if h.contains(name: "x-versions-location") && h.contains(name: "x-history-location") {
            if h.first(name: "x-history-location")?.isEmpty == true {
                h.remove(name: "x-history-location")
            } else if h.first(name: "x-versions-location")?.isEmpty == false {
                throw HTTPError(400, "Only one of x-versions-location or x-history-location may be specified",
                                headers: [("Content-Type", "text/plain")])
            } else {
                h.remove(name: "x-versions-location")
            }
        }
        var remove = ["x-remove-versions-location", "x-remove-history-location"].contains { !(h.first(name: $0) ?? "").isEmpty }
        if let value = h.first(name: "x-versions-location") ?? h.first(name: "x-history-location") {
            let mode = h.contains(name: "x-versions-location") ? "stack" : "history"
            if value.isEmpty {
                remove = true
            } else {
                let location = try PercentCoding.decodeUTF8(value)
                if NameBytes.splitOnce(location, "/") != nil {
                    throw HTTPError(412, "Container name cannot contain slashes", headers: [("Content-Type", "text/plain")])
                }
                sysmeta = [(locationSysmeta, location), (modeSysmeta, mode)]
                remove = false
            }
        }
        if remove { sysmeta = [(locationSysmeta, ""), (modeSysmeta, "")] }
        for name in ["x-versions-location", "x-history-location", "x-remove-versions-location", "x-remove-history-location"] {
            h.remove(name: name)
        }
        if !sysmeta.isEmpty { h.add(name: "X-Versions-Location", value: "") }
        return (h, sysmeta)
    }

    /// Shows a container's versioning to clients (its system metadata is hidden).
    static func clientHeaders(_ client: inout HTTPHeaders, backend: HTTPHeaders) {
        client.remove(name: "x-versions-location")
        guard let location = backend.first(name: locationSysmeta), !location.isEmpty else { return }
        let history = backend.first(name: modeSysmeta) == "history"
        client.add(name: history ? "X-History-Location" : "X-Versions-Location", value: PercentCoding.encodePath(location))
    }

    /// The versions container and mode of a container, if versioning is on.
    static func location(_ info: ContainerInfo) -> (container: String, history: Bool)? {
        func value(_ name: String) -> String? { info.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        guard let location = value(locationSysmeta), !location.isEmpty else { return nil }
        return (location, value(modeSysmeta) == "history")
    }

    /// `%03x` of the name's UTF-8 length, the name, and a slash.
    static func prefix(_ object: String) -> String {
        let hex = String(object.utf8.count, radix: 16)
        return String(repeating: "0", count: max(0, 3 - hex.count)) + hex + object + "/"
    }
}

extension ObjectProxy {
    /// Before a PUT into a versioned container: keeps the current object in the versions container.
    func archiveBeforeWrite(_ path: ObjectPath, txid: String) async throws {
        let info = await context.containerInfo(account: path.account, container: path.container, txid: txid)
        guard let (versions, _) = VersionHistory.location(info) else { return }
        try await archiveCurrent(path, versions: versions, txid: txid)
    }

    /// A DELETE in a versioned container; nil when the container is not versioned.
    func versionedDelete(_ request: HTTPRequest, _ path: ObjectPath) async throws -> HTTPResponse? {
        let txid = request.transactionID
        let info = await context.containerInfo(account: path.account, container: path.container, txid: txid)
        guard let (versions, history) = VersionHistory.location(info) else { return nil }
        if history {
            try await archiveCurrent(path, versions: versions, txid: txid)
            let marker = ObjectPath(account: path.account, container: versions,
                                   object: VersionHistory.prefix(path.object) + context.timestamp().normal)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: VersionHistory.deleteMarkerType)
            let r = try await store(marker, headers: headers, length: 0, txid: txid) { nil }
            try Self.checkVersionStep(r.status)
            return nil
        }
        return try await popVersion(request, path, versions: versions)
    }

    /// Stack mode: the newest saved version replaces the object (and leaves the versions
    /// container); a delete marker on top means the object was deleted before.
    private func popVersion(_ request: HTTPRequest, _ path: ObjectPath, versions: String) async throws -> HTTPResponse? {
        let txid = request.transactionID
        var items = try await versionListing(account: path.account, container: versions, prefix: VersionHistory.prefix(path.object),
                                             txid: txid)[...]
        guard let newest = items.popFirst() else { return nil }
        var target: ObjectPath
        if newest.contentType == VersionHistory.deleteMarkerType {
            // The object was deleted and written again since: delete it as usual.
            if case .found(_, let conn) = await openRead(path, method: "HEAD", headers: context.backendHeaders(txid: txid)) {
                _ = try? await conn.readFullBody()
                context.client.release(conn)
                return nil
            }
            for item in items {
                if item.contentType == VersionHistory.deleteMarkerType { break }
                let saved = ObjectPath(account: path.account, container: versions, object: item.name)
                guard try await copyRaw(from: saved, to: path, txid: txid) else { continue }
                let status = try await deleteObject(saved, txid: txid)
                if status != 404 { try Self.checkVersionStep(status) }
                break
            }
            target = ObjectPath(account: path.account, container: versions, object: newest.name)
        } else {
            target = ObjectPath(account: path.account, container: versions, object: newest.name)
            var restored = false
            for item in [newest] + items where item.contentType != VersionHistory.deleteMarkerType {
                target = ObjectPath(account: path.account, container: versions, object: item.name)
                if try await copyRaw(from: target, to: path, txid: txid) {
                    restored = true
                    break
                }
            }
            if !restored { return nil }
        }
        let status = try await deleteObject(target, txid: txid)
        return status == 404 ? .error(404) : HTTPResponse(status: status)
    }

    /// Copies the current object (if any) to `<versions>/<prefix><its timestamp>`.
    private func archiveCurrent(_ path: ObjectPath, versions: String, txid: String) async throws {
        switch await openRead(path, method: "HEAD", headers: context.backendHeaders(txid: txid)) {
        case .notFound: return
        case .unavailable: throw HTTPError.serviceUnavailable("Service Unavailable")
        case .found(let head, let conn):
            _ = try? await conn.readFullBody()
            context.client.release(conn)
            guard head.status.code == 200, let ts = head.headers.first(name: "x-timestamp") else {
                throw HTTPError.standard(412)
            }
            let name = VersionHistory.prefix(path.object) + (Timestamp(ts)?.normal ?? ts)
            _ = try await copyRaw(from: path, to: ObjectPath(account: path.account, container: versions, object: name), txid: txid)
        }
    }

    /// Copies an object as stored (a manifest stays a manifest, a symlink a symlink), with its
    /// metadata. False when the source is gone.
    func copyRaw(from source: ObjectPath, to dest: ObjectPath, txid: String) async throws -> Bool {
        let head: HTTPResponseHead
        let conn: BackendConnection
        switch await openRead(source, method: "GET", headers: context.backendHeaders(txid: txid)) {
        case .notFound: return false
        case .unavailable: throw HTTPError.serviceUnavailable("Service Unavailable")
        case .found(let h, let c):
            head = h
            conn = c
        }
        guard head.status.code == 200 else {
            conn.close()
            throw HTTPError.standard(412)
        }
        var headers = HTTPHeaders()
        var sysmeta: [(String, String)] = []
        for (name, value) in head.headers {
            let l = name.lowercased()
            if l.hasPrefix("x-object-sysmeta-") || l == "x-static-large-object" {
                sysmeta.append((name, value))
            } else if UserMetadata.isStoredObjectHeader(l) || l == "content-type" || l == "etag" {
                headers.add(name: name, value: value)
            }
        }
        let length = head.headers.first(name: "content-length").flatMap { Int64($0) }
        do {
            let r = try await store(dest, headers: headers, length: length, txid: txid, sysmeta: sysmeta) { try await conn.readBodyPart() }
            context.client.release(conn)
            try Self.checkVersionStep(r.status)
        } catch {
            conn.close()
            throw error
        }
        return true
    }

    /// A failed step of versioning fails the request: 412 for client errors, else 503.
    static func checkVersionStep(_ status: Int) throws {
        if (200..<300).contains(status) { return }
        if (400..<500).contains(status) { throw HTTPError.standard(412) }
        throw HTTPError.standard(503)
    }

    struct VersionItem {
        let name: String
        let contentType: String
    }

    /// Every saved version of an object, newest first.
    func versionListing(account: String, container: String, prefix: String, txid: String) async throws -> [VersionItem] {
        let (part, _) = context.rings.container.nodes(account: account, container: container)
        var out: [VersionItem] = []
        var marker = ""
        while true {
            var query = "format=json&reverse=true&prefix=\(PercentCoding.encodePath(prefix, keepSlash: false))"
            if !marker.isEmpty { query += "&marker=\(PercentCoding.encodePath(marker, keepSlash: false))" }
            let reply = await context.fanout.read(ring: context.rings.container, partition: part, method: "GET",
                                                  path: "/\(account)/\(container)", query: query, headers: context.backendHeaders(txid: txid))
            guard let r = reply?.response else { throw HTTPError.standard(503) }
            if r.status == 404 || r.status == 204 { break }
            guard r.status == 200, let rows = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]] else {
                throw HTTPError.standard(503)
            }
            for row in rows {
                guard let name = row["name"] as? String else { continue }
                out.append(VersionItem(name: name, contentType: row["content_type"] as? String ?? ""))
            }
            guard rows.count >= context.constraints.containerListingLimit, let last = out.last else { break }
            marker = last.name
        }
        return out
    }
}
