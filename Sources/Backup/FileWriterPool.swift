import Foundation

/// Threads that write restored files while the restorer goes on decompressing and parsing.
///
/// Copying data into the page cache is most of a restore's cost; done on its own threads it
/// runs on all cores. Each lane runs its jobs in order, so every job of one file goes to one
/// lane; `drain` is the barrier before work that reads what lanes wrote (patching a delta,
/// renaming an assembled file, the next backup set).
final class FileWriterPool: @unchecked Sendable {  // all mutable state is guarded by `condition`
    typealias Job = () throws -> Void

    private struct Lane {
        var jobs: [(job: Job, bytes: Int)] = []
        var head = 0
        var queuedBytes = 0
        var busy = false
        var idle: Bool { head == jobs.count && !busy }
    }

    private let condition = NSCondition()
    private var lanes: [Lane]
    private var failure: Error?
    private var stopping = false
    /// Bytes a lane may hold before `submit` waits (bounds the restore's memory).
    private let maxQueuedBytes = 4 << 20

    init(lanes count: Int) {
        lanes = Array(repeating: Lane(), count: max(1, count))
        for i in lanes.indices {
            let thread = Thread { [self] in run(lane: i) }
            thread.name = "restore-writer-\(i)"
            thread.start()
        }
    }

    var laneCount: Int { lanes.count }

    /// The lane with the least queued work.
    func leastLoadedLane() -> Int {
        condition.withLock { lanes.indices.min { lanes[$0].queuedBytes < lanes[$1].queuedBytes }! }
    }

    /// Queues `job` on `lane`; waits while the lane holds too much; rethrows a lane's failure.
    func submit(lane: Int, bytes: Int = 0, _ job: @escaping Job) throws {
        try condition.withLock {
            while failure == nil && lanes[lane].queuedBytes > 0 && lanes[lane].queuedBytes + bytes > maxQueuedBytes { condition.wait() }
            if let failure { throw failure }
            lanes[lane].jobs.append((job, bytes))
            lanes[lane].queuedBytes += bytes
            condition.broadcast()
        }
    }

    /// Waits until every queued job has run; rethrows the first failure.
    func drain() throws {
        try condition.withLock {
            while failure == nil && !lanes.allSatisfy(\.idle) { condition.wait() }
            if let failure { throw failure }
        }
    }

    /// Stops the threads once their queues are empty.
    func shutdown() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    private func run(lane i: Int) {
        while true {
            condition.lock()
            while lanes[i].head == lanes[i].jobs.count && !stopping { condition.wait() }
            if lanes[i].head == lanes[i].jobs.count {
                condition.unlock()
                return
            }
            let (job, bytes) = lanes[i].jobs[lanes[i].head]
            // Release what the job holds as soon as it has run, not when the lane empties.
            lanes[i].jobs[lanes[i].head] = ({}, 0)
            lanes[i].head += 1
            if lanes[i].head == lanes[i].jobs.count {
                lanes[i].jobs.removeAll(keepingCapacity: true)
                lanes[i].head = 0
            }
            lanes[i].busy = true
            let failed = failure != nil
            condition.unlock()
            var error: Error?
            if !failed {
                do { try job() } catch let e { error = e }
            }
            condition.withLock {
                lanes[i].busy = false
                lanes[i].queuedBytes -= bytes
                if failure == nil, let error { failure = error }
                condition.broadcast()
            }
        }
    }
}

/// A file descriptor opened by one lane job and used by the following jobs of that lane.
final class LaneFile: @unchecked Sendable {  // only the jobs of one lane touch it, one after another
    var fd: Int32 = -1
}
