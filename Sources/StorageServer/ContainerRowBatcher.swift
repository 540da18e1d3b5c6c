import DBBroker
import Foundation

/// Group commit for object-row updates: concurrent updates to one container DB are merged in
/// a single SQLite transaction by whichever request arrives first, while the others wait for
/// that commit. This removes the lock contention (and SQLite's busy-wait sleeps) of many
/// writers on one hot container, which is what OpenStack Swift's `.pending` files do.
actor ContainerRowBatcher {
    private struct Waiter {
        let record: ObjectRecord
        let continuation: CheckedContinuation<Void, any Error>
    }

    private var queues: [String: [Waiter]] = [:]
    private var flushing: Set<String> = []
    private let pools: DevicePools

    init(pools: DevicePools) {
        self.pools = pools
    }

    /// Merges `record` into the DB at `db` on `device`; returns once it is committed.
    func merge(_ record: ObjectRecord, db: String, device: String) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            queues[db, default: []].append(Waiter(record: record, continuation: c))
            if !flushing.contains(db) {
                flushing.insert(db)
                Task { await self.flush(db: db, device: device) }
            }
        }
    }

    private func flush(db: String, device: String) async {
        while let batch = queues.removeValue(forKey: db), !batch.isEmpty {
            let records = batch.map(\.record)
            do {
                try await pools.run(device) { try ContainerBroker(path: db).merge(records) }
                for w in batch { w.continuation.resume() }
            } catch {
                for w in batch { w.continuation.resume(throwing: error) }
            }
        }
        flushing.remove(db)
    }
}
