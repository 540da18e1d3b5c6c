import HTTPClientKit
import NIOCore
import NimbusCore

/// One piece of a large object's body: (part of) a segment object, or bytes already in hand
/// (SLO inline data, multipart separators).
enum SegmentPiece: Sendable {
    /// A segment; `etag` and `size` (when known) are checked against what the object server sends.
    case object(ObjectPath, range: ClosedRange<Int64>?, etag: String?, size: Int64?)
    case data(ByteBuffer)
}

/// A segment that is missing, unreadable or no longer what the manifest says.
struct SegmentError: Error, CustomStringConvertible {
    let description: String
}

/// Reads planned pieces one after another, pulling each segment from its replicas with the
/// requester's rights on the segment's container (as Swift's subrequests carry the token).
/// Segments are opened at the pace `LargeObjectLimits` allows.
final class SegmentReader: @unchecked Sendable {
    // @unchecked: used by one task at a time (the response writer or a copy), never concurrently.
    let proxy: ObjectProxy
    private var plan: any SegmentPlan
    /// A piece taken from the plan by `prime()` and not sent yet.
    private var pending: SegmentPiece?
    let txid: String
    let referer: String?
    private var current: BackendConnection?
    private var authorized: Set<String> = []
    private var opened = 0
    private let started = ContinuousClock.now
    private var nextSlowOpen = ContinuousClock.now

    init(proxy: ObjectProxy, plan: any SegmentPlan, txid: String, referer: String?) {
        self.proxy = proxy
        self.plan = plan
        self.txid = txid
        self.referer = referer
    }

    /// Opens the first segment, so that a large object whose first segment is gone is answered
    /// with an error status (409) instead of a truncated 200.
    func prime() async throws {
        guard current == nil, pending == nil, let first = try await plan.next() else { return }
        guard case .object = first else {
            pending = first
            return
        }
        try await open(first)
    }

    /// The next chunk of the body, nil at the end.
    func next() async throws -> ByteBuffer? {
        while true {
            if let conn = current {
                if let part = try await conn.readBodyPart(timeout: proxy.context.nodeTimeout) { return part }
                proxy.context.client.release(conn)
                current = nil
            }
            let piece: SegmentPiece
            if let p = pending {
                piece = p
                pending = nil
            } else if let p = try await plan.next() {
                piece = p
            } else {
                return nil
            }
            if case .data(let bytes) = piece { return bytes }
            try await open(piece)
        }
    }

    /// Swift's `RateLimitedIterator` and `max_get_time` for segment requests: an SLO's segments
    /// count when smaller than the limit size, a DLO's (size unknown) always.
    private func pace(size: Int64?) async throws {
        let limits = proxy.context.config.largeObjects
        if ContinuousClock.now - started > .seconds(limits.maxGetTime) {
            throw SegmentError(description: "max LO GET time of \(Int(limits.maxGetTime))s exceeded")
        }
        opened += 1
        guard opened > limits.rateLimitAfterSegment, limits.rateLimitSegmentsPerSecond > 0,
              (size ?? 0) < limits.rateLimitUnderSize else { return }
        let now = ContinuousClock.now
        if nextSlowOpen > now { try await Task.sleep(until: nextSlowOpen, clock: .continuous) }
        nextSlowOpen = max(now, nextSlowOpen) + .seconds(1 / limits.rateLimitSegmentsPerSecond)
    }

    private func open(_ piece: SegmentPiece) async throws {
        guard case .object(let path, let range, let etag, let size) = piece else { return }
        let container = path.container
        let object = path.object
        try await pace(size: size)
        let containerKey = "\(path.account)/\(container)"
        if !authorized.contains(containerKey) {
            do {
                _ = try await Authorizer(context: proxy.context).authorize(proxy.identity, method: "GET", path: path,
                                                                          referer: referer, txid: txid)
            } catch {
                throw SegmentError(description: "segment \(containerKey)/\(object): access denied")
            }
            authorized.insert(containerKey)
        }
        var headers = proxy.context.backendHeaders(txid: txid)
        if let range { headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)") }
        headers.add(name: "X-Backend-Ignore-Range-If-Metadata-Present", value: ObjectProxy.symlinkTarget)
        // A segment may be a symlink to the bytes.
        let resolved: ObjectProxy.ResolvedRead
        do {
            resolved = try await proxy.openFollowingSymlinks(path, method: "GET", headers: headers, referer: referer, txid: txid)
        } catch {
            throw SegmentError(description: "segment \(container)/\(object): \(error)")
        }
        switch resolved.read {
        case .found(let head, let conn) where head.status.code == 200 || head.status.code == 206:
            let gotETag = (head.headers.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
            let gotSize: Int64? = head.status.code == 200
                ? head.headers.first(name: "content-length").flatMap { Int64($0) }
                : head.headers.first(name: "content-range").flatMap { $0.split(separator: "/").last.flatMap { Int64($0) } }
            if let etag, etag != gotETag || (size != nil && gotSize != size) {
                conn.close()
                throw SegmentError(description: "Object segment no longer valid: \(container)/\(object) "
                                   + "etag: \(gotETag) != \(etag) or \(gotSize ?? -1) != \(size ?? -1)")
            }
            current = conn
        case .found(let head, let conn):
            conn.close()
            throw SegmentError(description: "segment \(container)/\(object) answered \(head.status.code)")
        case .notFound:
            throw SegmentError(description: "segment \(container)/\(object) is missing")
        case .unavailable:
            throw HTTPError.serviceUnavailable("Segment \(object) unavailable")
        }
    }

    /// Drops the segment being read.
    func cancel() {
        current?.close()
        current = nil
    }
}
