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
struct DLOManifest {
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
    /// Most segments one DLO GET lists (10 listing pages; memory per request stays bounded).
    static let maxSegments = 100_000

    /// The concatenation's length (400 when the listed sizes — a client can make them up with
    /// `;swift_bytes=` — do not fit in Int64).
    func totalLength() throws -> Int64 { try segments.reduce(0) { try ObjectProxy.addSizes($0, $1.bytes) } }

    /// Swift's DLO ETag: the quoted MD5 of the segments' ETags joined.
    var etag: String { "\"" + Digests.md5Hex(segments.map(\.etag).joined()) + "\"" }

    /// Lists the segments named by a manifest header, checking the requester may list them.
    static func load(manifest: String, account: String, proxy: ObjectProxy, referer: String?, txid: String) async throws -> DLOManifest {
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
                let bytes = (row["bytes"] as? NSNumber).flatMap { $0.doubleValue >= 0 && $0.doubleValue < 9.2e18 ? $0.int64Value : nil } ?? 0
                segments.append(Segment(name: name, bytes: bytes, etag: row["hash"] as? String ?? ""))
                guard segments.count <= Self.maxSegments else {
                    throw HTTPError.badRequest("More than \(Self.maxSegments) segments in this dynamic large object")
                }
            }
            guard rows.count >= context.constraints.containerListingLimit, let last = segments.last else { break }
            marker = last.name
        }
        return DLOManifest(proxy: proxy, account: account, container: container, prefix: prefix, segments: segments)
    }

    /// The pieces of `range` of the concatenation (the whole object when nil).
    func pieces(range: ClosedRange<Int64>?) -> [SegmentPiece] {
        var plan: [SegmentPiece] = []
        var offset: Int64 = 0
        for s in segments {
            defer { offset = offset.clampedAdding(s.bytes) }
            guard s.bytes > 0 else { continue }
            let path = ObjectPath(account: account, container: container, object: s.name)
            guard let range else {
                plan.append(.object(path, range: nil, etag: nil, size: nil))
                continue
            }
            let start = max(range.lowerBound, offset)
            let end = min(range.upperBound, offset.clampedAdding(s.bytes - 1))
            if start > end { continue }
            let local = (start - offset)...(end - offset)
            plan.append(.object(path, range: local.count == Int(s.bytes) ? nil : local, etag: nil, size: nil))
        }
        return plan
    }
}
