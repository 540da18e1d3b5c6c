import NIOPosix

/// One bounded thread pool per device for blocking disk work, as OpenStack Swift runs one
/// threadpool per disk: a slow disk stalls only its own requests, never the event loops.
public final class DevicePools: Sendable {
    private let pools: [String: NIOThreadPool]
    private let fallback: NIOThreadPool

    public init(devices: [String], threadsPerDevice: Int = 8) {
        var p: [String: NIOThreadPool] = [:]
        for d in devices {
            let pool = NIOThreadPool(numberOfThreads: threadsPerDevice)
            pool.start()
            p[d] = pool
        }
        pools = p
        fallback = NIOThreadPool(numberOfThreads: 2)
        fallback.start()
    }

    /// Runs blocking work on the device's pool.
    public func run<T: Sendable>(_ device: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await (pools[device] ?? fallback).runIfActive(body)
    }

    /// Stops all pools.
    public func shutdown() async {
        for pool in pools.values { try? await pool.shutdownGracefully() }
        try? await fallback.shutdownGracefully()
    }
}
