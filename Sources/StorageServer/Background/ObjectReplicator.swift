import Foundation
import HTTPClientKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore
import ObjectStore
import Ring

/// Keeps every object on its primaries (OpenStack Swift's object replicator, pushing over
/// HTTP instead of rsync): for each local partition, suffix hashes are compared with each peer;
/// for a differing suffix, the peer lists its files and this node pushes the versions the
/// peer lacks (newer data, tombstones, metadata). A partition this device holds but is not a
/// primary for (a handoff, or after a rebalance) is pushed to all primaries and removed once
/// every one of them has it.
actor ObjectReplicator: PeriodicService {
    let env: NodeServices
    let reclaimAge: Double
    let timeout: TimeAmount = .seconds(30)

    init(env: NodeServices, reclaimAge: Double) {
        self.env = env
        self.reclaimAge = reclaimAge
    }

    func runPass() async { _ = await pass() }

    /// One pass over every local partition.
    @discardableResult
    func pass() async -> ReplicationPassResult {
        let started = ContinuousClock.now
        var result = ReplicationPassResult()
        guard let ring = env.rings.ring(.object) else { return result }
        for device in env.devices {
            let objectsDir = "\(env.paths.devicePath(device))/objects"
            var partitions = Set(await DeviceWalk(pools: env.pools, device: device).list(objectsDir).compactMap(Int.init))
            // A partition whose files are all in volumes may have lost its directory.
            if let volumes = VolumeStore.registered(env.paths.devicePath(device)) { partitions.formUnion(volumes.partitions) }
            for partition in partitions.shuffled() where partition < ring.partitionCount {
                if Task.isCancelled { return result }
                await replicate(device: device, partition: partition, ring: ring, result: &result)
            }
        }
        result.seconds = Double((ContinuousClock.now - started).components.seconds)
            + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        await env.stats.recordObjectReplication(result, at: env.clock.now())
        if result.pushed > 0 || result.handoffsRemoved > 0 || result.failures > 0 {
            env.logger.info("object replication: \(result.partitions) partitions, \(result.pushed) files pushed, \(result.handoffsRemoved) handoff partitions removed, \(result.failures) failures")
        }
        return result
    }

    private func replicate(device: String, partition: Int, ring: Ring, result: inout ReplicationPassResult) async {
        let devicePath = env.paths.devicePath(device)
        let primaries = ring.primaries(partition: partition)
        let isPrimary = primaries.contains { env.node.owns($0, device: device) }
        let targets = primaries.filter { !env.node.owns($0, device: device) }
        let now = env.clock.now()
        let reclaim = reclaimAge
        guard let local = try? await env.pools.run(device, {
            try SuffixHashes.hashes(devicePath: devicePath, partition: partition, reclaimAge: reclaim, now: now)
        }) else {
            result.failures += 1
            return
        }
        result.partitions += 1
        if !isPrimary { result.handoffPartitions += 1 }
        var allSynced = true
        for target in targets {
            do {
                result.pushed += try await sync(device: device, partition: partition, local: local, to: target)
            } catch {
                allSynced = false
                result.failures += 1
                env.logger.debug("replication of \(device)/\(partition) to \(target.address)/\(target.device) failed: \(error)")
            }
        }
        if !isPrimary && allSynced && !targets.isEmpty {
            // Every primary has what this handoff held: it can go.
            let dir = "\(devicePath)/objects/\(partition)"
            _ = try? await env.pools.run(device) {
                // The volumes' removals are flushed first: a crash in between must not leave
                // files whose partition directory (what this walk finds) is gone.
                try VolumeStore.registered(devicePath)?.dropPartition(partition)
                try FileManager.default.removeItem(atPath: dir)
            }
            result.handoffsRemoved += 1
        }
    }

    /// Brings one peer up to date with this partition; answers the number of files pushed.
    private func sync(device: String, partition: Int, local: [String: String], to target: RingDevice) async throws -> Int {
        let remote: [String: String] = try await requestJSON(target, uri: "/\(target.device)/\(partition)", kind: "hashes")
        let differing = local.keys.filter { local[$0] != remote[$0] }.sorted()
        guard !differing.isEmpty else { return 0 }
        var pushed = 0
        for suffix in differing {
            let theirs: [String: [String]] = try await requestJSON(target, uri: "/\(target.device)/\(partition)/\(suffix)", kind: "list")
            let devicePath = env.paths.devicePath(device)
            let ours = try await env.pools.run(device) { SuffixHashes.listing(devicePath: devicePath, partition: partition, suffix: suffix) }
            for (hash, names) in ours.sorted(by: { $0.key < $1.key }) {
                for name in Self.missing(ours: names, theirs: theirs[hash] ?? []) {
                    try await push(device: device, partition: partition, suffix: suffix, hash: hash, name: name, to: target)
                    pushed += 1
                }
            }
        }
        // Let the peer rehash what changed, so the next pass sees the suffixes agree.
        let _: [String: String] = try await requestJSON(target, uri: "/\(target.device)/\(partition)", kind: "hashes",
                                                        suffixes: differing)
        return pushed
    }

    /// The files of ours the peer lacks and would keep: newer data or tombstones than its
    /// newest, and metadata newer than anything it has.
    static func missing(ours: [String], theirs: [String]) -> [String] {
        func parse(_ n: String) -> (Timestamp, String)? {
            guard let dot = n.lastIndex(of: "."), let ts = Timestamp(n[..<dot]) else { return nil }
            return (ts, String(n[n.index(after: dot)...]))
        }
        let remote = theirs.compactMap(parse)
        let remoteNewestData = remote.filter { $0.1 != "meta" }.map(\.0).max()
        let remoteNewestAny = remote.map(\.0).max()
        return ours.compactMap { name -> (Timestamp, String, String)? in
            guard let (ts, ext) = parse(name) else { return nil }
            return (ts, ext, name)
        }.sorted { $0.0 < $1.0 }.filter { ts, ext, name in
            if theirs.contains(name) { return false }
            if ext == "meta" { return remoteNewestAny.map { ts > $0 } ?? true }
            return remoteNewestData.map { ts > $0 } ?? true
        }.map(\.2)
    }

    private func push(device: String, partition: Int, suffix: String, hash: String, name: String, to target: RingDevice) async throws {
        let path = "\(env.paths.devicePath(device))/objects/\(partition)/\(suffix)/\(hash)/\(name)"
        let stored = DiskFile(devicePath: env.paths.devicePath(device), partition: partition, hash: hash).storedFile(name)
        guard let stored else { return }  // replaced meanwhile by a newer version: the next pass sees it
        defer { stored.close() }
        let (fd, base, size) = (stored.fd, stored.base, stored.size)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.address)
        headers.add(name: "X-Backend-Replication", value: "push")
        headers.add(name: "Content-Length", value: String(size))
        if name.hasSuffix(".data"), let (meta, dataLength) = try? MetadataFooter.read(fd: fd, base: base, fileSize: size), let etag = meta["ETag"] {
            // The peer checks the data against its ETag: bit rot here never spreads.
            headers.add(name: "X-Backend-Data-Length", value: String(dataLength))
            headers.add(name: "X-Backend-Etag", value: etag)
        }
        let conn = try await env.client.connect(host: target.ip, port: target.port, fresh: false)
        let deadline = conn.closeAfter(timeout)
        defer { deadline.cancel() }
        do {
            try await conn.sendHead(method: "PUT", uri: "/\(target.device)/\(partition)/\(suffix)/\(hash)/\(name)", headers: headers)
            var offset: Int64 = 0
            while offset < size {
                let want = Int(min(Int64(256 * 1024), size - offset))
                let at = offset
                let buffer: ByteBuffer = try await env.pools.run(device) {
                    var b = ByteBufferAllocator().buffer(capacity: want)
                    let n = b.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        max(0, pread(fd, raw.baseAddress, want, off_t(base + at)))
                    }
                    if n == 0 { throw DiskFileError.io("short read of \(path)") }
                    return b
                }
                offset += Int64(buffer.readableBytes)
                try await conn.sendBody(buffer)
            }
            try await conn.sendEnd()
            let head = try await conn.readHead()
            _ = try await conn.readFullBody()
            env.client.release(conn)
            if head.status.code == 422 {
                // Our copy no longer matches its ETag: quarantine it so a good copy comes back.
                env.logger.error("replication: \(path) failed its MD5 check at \(target.address); quarantining")
                let file = DiskFile(devicePath: env.paths.devicePath(device), partition: partition, hash: hash)
                try? await env.pools.run(device) { try file.quarantine() }
                await env.stats.countQuarantined()
                return
            }
            guard (200..<300).contains(Int(head.status.code)) else { throw ReplicationError("push answered \(head.status.code)") }
        } catch {
            conn.close()
            throw error
        }
    }

    private func requestJSON<T: Decodable>(_ target: RingDevice, uri: String, kind: String, suffixes: [String] = []) async throws -> T {
        var headers = HTTPHeaders()
        headers.add(name: "X-Backend-Replication", value: kind)
        if !suffixes.isEmpty { headers.add(name: "X-Backend-Suffixes", value: suffixes.joined(separator: ",")) }
        let r = try await env.client.request(host: target.ip, port: target.port, method: "GET", uri: uri, headers: headers, timeout: timeout)
        guard r.status == 200 else { throw ReplicationError("\(kind) answered \(r.status)") }
        return try JSONDecoder().decode(T.self, from: Data(r.body.readableBytesView))
    }
}

struct ReplicationError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// What one replication pass did.
struct ReplicationPassResult: Sendable, Codable {
    var partitions = 0
    var handoffPartitions = 0
    var pushed = 0
    var handoffsRemoved = 0
    var failures = 0
    var seconds = 0.0
}

/// Which ring devices are this node's: same port, a device this node serves.
struct NodeIdentity: Sendable {
    let port: Int
    let devices: Set<String>

    func owns(_ d: RingDevice, device: String? = nil) -> Bool {
        d.port == port && devices.contains(d.device) && (device == nil || d.device == device)
    }
}
