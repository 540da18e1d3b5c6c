import NIOCore
import NimbusCore

/// The pieces covering a byte range of a static large object, walked lazily through nested
/// manifests: one manifest per nesting level is held (plus the last few read, so a manifest
/// listed many times in its parent is fetched once), never the flattened list — a GET of a
/// million-segment SLO costs what one manifest costs.
struct SLOSegmentWalk: SegmentPlan {
    /// Position in one manifest: the next entry and the wanted range relative to it.
    private struct Frame {
        let entries: [SLOManifest.Entry]
        var index = 0
        var first: Int64
        var last: Int64
        let depth: Int
    }

    /// Manifests kept for reuse within one request.
    static let cachedManifests = 4

    let proxy: ObjectProxy
    let account: String
    let referer: String?
    let txid: String
    private var stack: [Frame]
    private var recent: [(name: String, manifest: SLOManifest)] = []

    init(proxy: ObjectProxy, account: String, referer: String?, txid: String, entries: [SLOManifest.Entry], range: ClosedRange<Int64>) {
        self.proxy = proxy
        self.account = account
        self.referer = referer
        self.txid = txid
        stack = [Frame(entries: entries, first: range.lowerBound, last: range.upperBound, depth: 1)]
    }

    mutating func next() async throws -> SegmentPiece? {
        while var frame = stack.popLast() {
            guard frame.index < frame.entries.count, frame.last >= 0 else { continue }
            let entry = frame.entries[frame.index]
            let (first, last) = (frame.first, frame.last)
            let length: Int64
            switch entry {
            case .data(let bytes): length = Int64(bytes.count)
            case .object(let o): length = o.length
            }
            frame.index += 1
            frame.first = first.clampedSubtracting(length)
            frame.last = last.clampedSubtracting(length)
            stack.append(frame)
            guard length > 0, first < length else { continue }
            switch entry {
            case .data(let bytes):
                let lo = Int(Swift.max(0, first)), hi = Int(Swift.min(length - 1, last))
                return .data(ByteBuffer(bytes: bytes[lo...hi]))
            case .object(let o):
                let rangeStart = o.range?.lowerBound ?? 0
                let rangeEnd = o.range?.upperBound ?? (o.bytes - 1)
                let lo = rangeStart.clampedAdding(Swift.max(0, first))
                let hi = Swift.min(rangeEnd, rangeStart.clampedAdding(last))
                guard lo <= hi else { throw SegmentError(description: "bad range in manifest entry \(o.name)") }
                if o.subSLO {
                    guard frame.depth < ObjectProxy.maxSLORecursion else {
                        throw SegmentError(description: "max recursion depth of manifests exceeded")
                    }
                    let sub = try await manifest(o.name)
                    stack.append(Frame(entries: sub.entries, first: lo, last: hi, depth: frame.depth + 1))
                    continue
                }
                guard let (c, obj) = SLOManifest.split(o.name) else { throw SegmentError(description: "bad segment name \(o.name)") }
                let whole = lo == 0 && hi == o.bytes - 1
                return .object(ObjectPath(account: account, container: c, object: obj), range: whole ? nil : lo...hi,
                               etag: o.hash, size: o.bytes)
            }
        }
        return nil
    }

    private mutating func manifest(_ name: String) async throws -> SLOManifest {
        if let hit = recent.first(where: { $0.name == name }) { return hit.manifest }
        let m: SLOManifest
        do {
            m = try await proxy.fetchManifest(name, account: account, referer: referer, txid: txid)
        } catch {
            throw SegmentError(description: "while fetching submanifest \(name): \(error)")
        }
        if recent.count >= Self.cachedManifests { recent.removeFirst() }
        recent.append((name, m))
        return m
    }
}
