import Digest
import Foundation
import HTTPClientKit
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Dynamic large objects (`X-Object-Manifest: container/prefix`): a GET of the manifest
/// returns every object of `container` whose name starts with `prefix`, in name order,
/// concatenated, as OpenStack Swift's `dlo` middleware does.
struct DynamicLargeObject {
    /// One segment from the container listing.
    struct Segment: Sendable {
        let name: String
        let bytes: Int64
        let etag: String
    }

    let proxy: ObjectProxy
    let account: String
    let container: String
    let prefix: String
    let segments: [Segment]

    var totalLength: Int64 { segments.reduce(0) { $0 + $1.bytes } }

    /// Swift's DLO ETag: the quoted MD5 of the segments' ETags joined.
    var etag: String { "\"" + Digests.md5Hex(segments.map(\.etag).joined()) + "\"" }

    /// Lists the segments named by a manifest header, checking the requester may list them.
    static func load(manifest: String, account: String, proxy: ObjectProxy, referer: String?, txid: String) async throws -> DynamicLargeObject {
        let decoded = try PercentCoding.decodeUTF8(manifest)
        guard let (container, prefix) = NameBytes.splitOnce(decoded, "/"), !container.isEmpty else {
            throw HTTPError.badRequest("X-Object-Manifest must be in the format container/prefix")
        }
        let context = proxy.context
        _ = try await Authorizer(context: context).authorize(proxy.identity, method: "GET",
                                                             path: SwiftPath(account: account, container: container),
                                                             referer: referer, txid: txid)
        let (part, _) = context.rings.container.nodes(account: account, container: container)
        var segments: [Segment] = []
        var marker = ""
        while true {
            var query = "format=json&prefix=\(PercentCoding.encodePath(prefix, keepSlash: false))"
            if !marker.isEmpty { query += "&marker=\(PercentCoding.encodePath(marker, keepSlash: false))" }
            let reply = await context.fanout.read(ring: context.rings.container, partition: part, method: "GET",
                                                  path: "/\(account)/\(container)", query: query,
                                                  headers: context.backendHeaders(txid: txid))
            guard let r = reply?.response else { throw HTTPError.serviceUnavailable("Container listing for segments unavailable") }
            if r.status == 404 || r.status == 204 { break }
            guard r.status == 200,
                  let rows = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]] else {
                throw HTTPError.serviceUnavailable("Bad container listing for segments")
            }
            for row in rows {
                guard let name = row["name"] as? String else { continue }
                segments.append(Segment(name: name, bytes: (row["bytes"] as? NSNumber)?.int64Value ?? 0,
                                        etag: row["hash"] as? String ?? ""))
            }
            guard rows.count >= context.constraints.containerListingLimit, let last = segments.last else { break }
            marker = last.name
        }
        return DynamicLargeObject(proxy: proxy, account: account, container: container, prefix: prefix, segments: segments)
    }

    /// A pull source over `range` of the concatenation (the whole object when nil).
    func reader(range: ClosedRange<Int64>?, txid: String) -> SegmentReader {
        var plan: [(Segment, ClosedRange<Int64>?)] = []
        var offset: Int64 = 0
        for s in segments {
            defer { offset += s.bytes }
            guard s.bytes > 0 else { continue }
            guard let range else {
                plan.append((s, nil))
                continue
            }
            let start = max(range.lowerBound, offset)
            let end = min(range.upperBound, offset + s.bytes - 1)
            if start > end { continue }
            let local = (start - offset)...(end - offset)
            plan.append((s, local.count == Int(s.bytes) ? nil : local))
        }
        return SegmentReader(proxy: proxy, account: account, container: container, plan: plan, txid: txid)
    }
}

/// Reads planned segments one after another, pulling each from its replicas.
final class SegmentReader: @unchecked Sendable {
    // @unchecked: used by one task at a time (the response writer or a copy), never concurrently.
    let proxy: ObjectProxy
    let account: String
    let container: String
    var plan: [(DynamicLargeObject.Segment, ClosedRange<Int64>?)]
    let txid: String
    private var current: BackendConnection?

    init(proxy: ObjectProxy, account: String, container: String, plan: [(DynamicLargeObject.Segment, ClosedRange<Int64>?)], txid: String) {
        self.proxy = proxy
        self.account = account
        self.container = container
        self.plan = plan
        self.txid = txid
    }

    /// The next chunk of the concatenation, nil at the end.
    func next() async throws -> ByteBuffer? {
        while true {
            if let conn = current {
                if let part = try await conn.readBodyPart() { return part }
                proxy.context.client.release(conn)
                current = nil
            }
            guard !plan.isEmpty else { return nil }
            let (segment, range) = plan.removeFirst()
            var headers = proxy.context.backendHeaders(txid: txid)
            if let range { headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)") }
            let path = SwiftPath(account: account, container: container, object: segment.name)
            switch await proxy.openRead(path, method: "GET", headers: headers) {
            case .found(let head, let conn) where head.status.code == 200 || head.status.code == 206:
                current = conn
            case .found(_, let conn):
                conn.close()
                throw HTTPError(409, "Segment \(segment.name) could not be read")
            case .notFound:
                throw HTTPError(409, "Segment \(segment.name) is missing")
            case .unavailable:
                throw HTTPError.serviceUnavailable("Segment \(segment.name) unavailable")
            }
        }
    }

    /// Drops the segment being read.
    func cancel() {
        current?.close()
        current = nil
    }
}
