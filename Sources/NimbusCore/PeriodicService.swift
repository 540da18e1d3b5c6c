/// A daemon's background service that makes one pass at a time (a node's replicators,
/// auditor, updater and expirer; the compute workers' periodic tasks): a pass, then a pause.
public protocol PeriodicService: Actor {
    /// One full pass.
    func runPass() async
}

extension PeriodicService {
    /// Runs a pass every `interval` until cancelled.
    public func run(interval: Duration) async {
        while !Task.isCancelled {
            await runPass()
            try? await Task.sleep(for: interval)
        }
    }
}
