import Foundation
import HTTPClientKit
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore

/// Sends the container update an object write owes (object server → container server), as the
/// proxy's `X-Container-Host/-Device/-Partition` headers direct. An update that cannot be
/// delivered is saved as an async pending under `<device>/async_pending/` for the updater.
struct ContainerUpdateSender: Sendable {
    let client: BackendClient
    let paths: StoragePaths
    /// Async pendings are written on the device's pool, never on a shared thread.
    let pools: DevicePools
    let timeout: TimeAmount
    let clock: any WallClock
    let logger: Logger

    func send(request: HTTPRequest, path p: BackendPath, method: String, timestamp: Timestamp, extra: [String: String]) async {
        guard let hosts = request.header("x-container-host"), let devices = request.header("x-container-device"),
              let partition = request.header("x-container-partition") else { return }
        let hostList = hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let deviceList = devices.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        await deliver(to: zip(hostList, deviceList).map { ($0, $1, partition) }, from: p.device,
                      objectPath: "/\(p.account)/\(p.container!)/\(p.object!)", method: method, timestamp: timestamp,
                      extra: extra, txid: request.transactionID)
    }

    /// Sends one container update to each `(host, device, partition)`; a failed one is saved
    /// as an async pending on `localDevice`.
    func deliver(to targets: [(host: String, device: String, partition: String)], from localDevice: String, objectPath: String,
                 method: String, timestamp: Timestamp, extra: [String: String], txid: String) async {
        var headers = HTTPHeaders()
        headers.add(name: "X-Timestamp", value: timestamp.internalForm)
        headers.add(name: "X-Trans-Id", value: txid)
        headers.add(name: "X-Backend-Server", value: "container")
        for (k, v) in extra { headers.add(name: k, value: v) }
        for (host, device, partition) in targets {
            let uri = "/\(PercentCoding.encodePath(device))/\(partition)" + PercentCoding.encodePath(objectPath)
            let ok: Bool
            if let (h, port) = Self.splitHost(host) {
                do {
                    let r = try await client.request(host: h, port: port, method: method, uri: uri, headers: headers, timeout: timeout)
                    ok = (200..<300).contains(r.status)
                } catch {
                    ok = false
                }
            } else {
                ok = false
            }
            if !ok {
                logger.warning("container update \(method) \(objectPath) to \(host) failed; saved as async pending",
                               metadata: ["txid": "\(txid)"])
                await savePending(device: localDevice, AsyncPending(method: method, host: host, device: device, partition: partition,
                                                              path: objectPath, headers: headers.reduce(into: [:]) { $0[$1.name] = $1.value }))
            }
        }
    }

    static func splitHost(_ s: String) -> (String, Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]) else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func savePending(device: String, _ pending: AsyncPending) async {
        let hash = paths.hashPath.hash(account: pending.path)
        let dir = "\(paths.devicePath(device))/async_pending/\(hash.suffix(3))"
        let ts = pending.headers["X-Timestamp"] ?? Timestamp.now(clock).internalForm
        let file = "\(dir)/\(hash)-\(ts)-\(pending.host.replacingOccurrences(of: ":", with: "_"))"
        do {
            let data = try JSONEncoder().encode(pending)
            try await pools.run(device) {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try AtomicFile.write(data, to: file)
            }
        } catch {
            logger.error("cannot save async pending for \(pending.path): \(error)")
        }
    }
}

/// A container update waiting to be retried.
struct AsyncPending: Codable, Sendable {
    var method: String
    var host: String
    var device: String
    var partition: String
    var path: String
    var headers: [String: String]
}
