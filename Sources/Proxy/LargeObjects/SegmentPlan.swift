import NIOCore

/// Where a `SegmentReader` takes the pieces of a large object's body from, one at a time, so
/// that a response holds the piece being sent and not the whole (possibly million-segment)
/// flattened list.
protocol SegmentPlan: Sendable {
    /// The next piece, nil at the end.
    mutating func next() async throws -> SegmentPiece?
}

/// A plan already in hand (DLO pieces from a listing, separators, tests).
struct ListPlan: SegmentPlan {
    private var pieces: [SegmentPiece]
    private var index = 0

    init(_ pieces: [SegmentPiece]) { self.pieces = pieces }

    mutating func next() async throws -> SegmentPiece? {
        guard index < pieces.count else { return nil }
        defer { index += 1 }
        return pieces[index]
    }
}

/// Several byte ranges of one large object as a `multipart/byteranges` body: each part's
/// header, then that range's pieces, planned only when the part is reached.
struct MultipartRangesPlan: SegmentPlan {
    /// One part: its header bytes and the range it covers.
    typealias Part = (header: ByteBuffer, range: ClosedRange<Int64>)

    private let parts: [Part]
    private let trailer: ByteBuffer
    private let planRange: @Sendable (ClosedRange<Int64>) -> any SegmentPlan
    private var index = 0
    private var current: (any SegmentPlan)?
    private var finished = false

    init(parts: [Part], trailer: ByteBuffer, plan: @escaping @Sendable (ClosedRange<Int64>) -> any SegmentPlan) {
        self.parts = parts
        self.trailer = trailer
        self.planRange = plan
    }

    mutating func next() async throws -> SegmentPiece? {
        while true {
            if var plan = current {
                let piece = try await plan.next()
                current = plan
                if let piece { return piece }
                current = nil
            }
            if index < parts.count {
                let part = parts[index]
                index += 1
                current = planRange(part.range)
                return .data(part.header)
            }
            if finished { return nil }
            finished = true
            return .data(trailer)
        }
    }
}
