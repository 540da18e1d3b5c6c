import Digest
import Foundation
import Logging
import NimbusCore
import ObjectStore
import SQLite

/// Reads every object at a bounded rate and checks its bytes against its ETag and its
/// metadata for sense; a bad object is quarantined (moved to `quarantined/objects/`) so that
/// replication brings a good copy back. DBs get SQLite's `quick_check`. As Swift's auditors.
actor Auditor: PeriodicService {
    let env: NodeServices
    /// Upper bounds of the reading rate.
    let bytesPerSecond: Double
    let filesPerSecond: Double

    init(env: NodeServices, bytesPerSecond: Double, filesPerSecond: Double) {
        self.env = env
        self.bytesPerSecond = bytesPerSecond
        self.filesPerSecond = filesPerSecond
    }

    func runPass() async { _ = await pass() }

    /// One full pass; answers (objects checked, quarantined).
    @discardableResult
    func pass() async -> (checked: Int, quarantined: Int) {
        var checked = 0, quarantined = 0
        var bytes: Int64 = 0
        let started = ContinuousClock.now
        for device in env.devices {
            let devicePath = env.paths.devicePath(device)
            let walk = DeviceWalk(pools: env.pools, device: device)
            // One object: checked on the device's pool, counted, throttled.
            func check(_ file: DiskFile) async {
                let (ok, read) = (try? await env.pools.run(device) { try Self.audit(file) }) ?? (true, 0)
                checked += 1
                bytes += read
                if !ok {
                    quarantined += 1
                    env.logger.error("auditor: \(file.directory) failed its check; quarantined")
                }
                await throttle(started: started, files: checked, bytes: bytes)
            }
            await walk.hashDirectories(under: "\(devicePath)/objects") { partition, dir in
                await check(DiskFile(devicePath: devicePath, partition: partition, hash: (dir as NSString).lastPathComponent))
                return true
            }
            // Files kept in volumes have no hash directory of their own to walk.
            for (partition, hash) in VolumeStore.registered(devicePath)?.allHashes() ?? [] {
                if Task.isCancelled { break }
                await check(DiskFile(devicePath: devicePath, partition: partition, hash: hash))
            }
            for dir in ["containers", "accounts"] {
                await walk.databases(under: "\(devicePath)/\(dir)") { _, db in
                    let good = (try? await env.pools.run(device) { try Self.checkDB(db) }) ?? true
                    if !good {
                        quarantined += 1
                        let target = "\(devicePath)/quarantined/\(dir)"
                        _ = try? await env.pools.run(device) {
                            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                            let from = (db as NSString).deletingLastPathComponent
                            rename(from, "\(target)/\((from as NSString).lastPathComponent)-\(UInt32.random(in: 0...UInt32.max))")
                        }
                        env.logger.error("auditor: \(db) failed its integrity check; quarantined")
                    }
                    return true
                }
            }
        }
        await env.stats.recordAudit(objects: checked, bytes: bytes, at: env.clock.now())
        if quarantined > 0 { await env.stats.countQuarantined(quarantined) }
        return (checked, quarantined)
    }

    /// Sleeps as long as it takes to stay under the configured rates.
    private func throttle(started: ContinuousClock.Instant, files: Int, bytes: Int64) async {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let needed = max(Double(files) / filesPerSecond, Double(bytes) / bytesPerSecond)
        if needed > seconds { try? await Task.sleep(for: .milliseconds(Int64((needed - seconds) * 1000))) }
    }

    /// Checks one object; answers whether it is sound and how many bytes were read.
    static func audit(_ file: DiskFile) throws -> (Bool, Int64) {
        let reader: ObjectReader
        do {
            guard case .present(let r) = try file.open() else { return (true, 0) }
            reader = r
        } catch DiskFileError.corrupt {
            try? file.quarantine()
            return (false, 0)
        } catch {
            return (true, 0)  // replaced or unreadable for now: the next pass looks again
        }
        var md5 = MessageDigest(.md5)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < reader.contentLength {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: offset) }
            if n == 0 { break }
            md5.update(buffer[0..<n])
            offset += Int64(n)
        }
        let sound = offset == reader.contentLength && md5.finalizeHexAndReset() == reader.etag
        if !sound { try? file.quarantine() }
        return (sound, offset)
    }

    static func checkDB(_ path: String) throws -> Bool {
        let db = try Database(path: path)
        let rows = try db.query("PRAGMA quick_check")
        return rows.first?.first?.text == "ok"
    }
}
