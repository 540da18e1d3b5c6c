/// Runs `work` on every item, at most `limit` at a time; answers the results in completion order.
func boundedParallel<Item: Sendable, Result: Sendable>(_ items: [Item], limit: Int,
                                                        _ work: @escaping @Sendable (Item) async -> Result) async -> [Result] {
    await withTaskGroup(of: Result.self) { group -> [Result] in
        var out: [Result] = []
        var next = items[...]
        for _ in 0..<max(1, limit) {
            guard let item = next.popFirst() else { break }
            group.addTask { await work(item) }
        }
        for await r in group {
            out.append(r)
            if let item = next.popFirst() { group.addTask { await work(item) } }
        }
        return out
    }
}
