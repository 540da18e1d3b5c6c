import Ring

/// The nodes one partition's requests go to: its primaries, then, only when one is needed and
/// in the ring's order, its handoffs. Object PUTs, object reads and the fan-out of in-memory
/// requests all choose their nodes through it.
struct ReplicaPlan {
    let partition: Int
    let primaries: [RingDevice]
    /// How many handoffs a read may try after the primaries.
    let replicas: Int
    private var handoffs: HandoffSequence.Iterator

    init(ring: Ring, partition: Int) {
        self.partition = partition
        primaries = ring.primaries(partition: partition)
        replicas = ring.replicas
        handoffs = ring.handoffs(partition: partition).makeIterator()
    }

    /// The next handoff not yet given out.
    mutating func nextHandoff() -> RingDevice? { handoffs.next() }

    /// A read's nodes in order: the primaries, then up to `replicas` handoffs (ordered only
    /// once every primary has been tried).
    var readNodes: ReadNodes { ReadNodes(primaries: primaries, handoffs: handoffs, limit: replicas) }

    struct ReadNodes: Sequence, IteratorProtocol {
        var primaries: [RingDevice]
        var handoffs: HandoffSequence.Iterator
        var limit: Int
        private var index = 0

        init(primaries: [RingDevice], handoffs: HandoffSequence.Iterator, limit: Int) {
            self.primaries = primaries
            self.handoffs = handoffs
            self.limit = limit
        }

        mutating func next() -> RingDevice? {
            if index < primaries.count {
                index += 1
                return primaries[index - 1]
            }
            guard limit > 0 else { return nil }
            limit -= 1
            return handoffs.next()
        }
    }

    /// Gives each failed slot of a write the next handoff that takes it, slot by slot, each
    /// handoff tried for one slot only. `attempt` writes slot `i` to one node.
    mutating func replaceFailures<T>(_ results: inout [T], failed: (T) -> Bool,
                                     attempt: (_ slot: Int, _ node: RingDevice) async -> T) async {
        for i in results.indices where failed(results[i]) {
            while let node = nextHandoff() {
                let outcome = await attempt(i, node)
                if !failed(outcome) {
                    results[i] = outcome
                    break
                }
            }
        }
    }
}
