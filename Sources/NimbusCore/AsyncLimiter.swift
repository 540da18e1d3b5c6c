/// At most `limit` holders at once; the rest wait in arrival order (image registrations, and
/// any other heavy background work a daemon must not run unboundedly in parallel).
public actor AsyncLimiter {
    private let limit: Int
    private var holders = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `body` once a place is free.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if holders < limit {
            holders += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            holders -= 1
        } else {
            // The place passes straight to the next waiter.
            waiting.removeFirst().resume()
        }
    }
}
