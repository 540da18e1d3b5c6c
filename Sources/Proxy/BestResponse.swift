/// OpenStack Swift's `best_response`: the answer a client gets from several backend statuses.
enum BestResponse {
    /// Majority of `n` replicas.
    static func quorum(_ n: Int) -> Int { n / 2 + 1 }

    /// The highest status of the first class (2xx, 3xx, 4xx) that reaches quorum; 503 if none.
    static func status(_ statuses: [Int], replicas: Int) -> Int {
        let q = quorum(replicas)
        for hundred in [200, 300, 400] {
            let inClass = statuses.filter { $0 >= hundred && $0 < hundred + 100 }
            if inClass.count >= q { return inClass.max()! }
        }
        return 503
    }
}
