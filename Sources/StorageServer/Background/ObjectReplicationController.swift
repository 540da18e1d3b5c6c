import Foundation
import HTTPServerKit
import NIOCore
import NimbusCore
import ObjectStore

/// The receiving side of object replication (`X-Backend-Replication` requests from peers):
///
/// - `GET /<dev>/<part>` (`hashes`): the partition's suffix hashes as JSON, rehashing the
///   suffixes named in `X-Backend-Suffixes` first;
/// - `GET /<dev>/<part>/<suffix>` (`list`): `{hash: [file names]}` of the suffix;
/// - `PUT /<dev>/<part>/<suffix>/<hash>/<file>` (`push`): one `.data`/`.ts`/`.meta` file as
///   the peer stores it, checked (footer, and the data's MD5 against `X-Backend-Etag`) before
///   it becomes visible.
struct ObjectReplicationController: Sendable {
    let paths: StoragePaths
    let pools: DevicePools
    let reclaimAge: Double
    let clock: any WallClock

    static let header = "x-backend-replication"

    func handle(_ request: HTTPRequest, kind: String) async throws -> HTTPResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 2, let partition = Int(parts[1]) else { throw HTTPError.badRequest("Bad replication path") }
        let device = try PercentCoding.decodeUTF8(parts[0])
        let devicePath = paths.devicePath(device)
        // The device was checked (on its pool) before the request got here.
        switch (kind, request.method, parts.count) {
        case ("hashes", "GET", 2):
            let recalc = (request.header("x-backend-suffixes") ?? "").split(separator: ",").map(String.init)
            let now = clock.now()
            let reclaim = reclaimAge
            let hashes = try await pools.run(device) {
                try SuffixHashes.hashes(devicePath: devicePath, partition: partition, recalculate: recalc, reclaimAge: reclaim, now: now)
            }
            return json(hashes)
        case ("list", "GET", 3):
            let suffix = parts[2]
            guard Self.isSuffix(suffix) else { throw HTTPError.badRequest("Bad suffix") }
            let listing = try await pools.run(device) { SuffixHashes.listing(devicePath: devicePath, partition: partition, suffix: suffix) }
            return json(listing)
        case ("push", "PUT", 5):
            return try await receive(request, device: device, partition: partition, suffix: parts[2], hash: parts[3], name: parts[4])
        default:
            throw HTTPError.badRequest("Unknown replication request \(kind) \(request.method)")
        }
    }

    static func isSuffix(_ s: String) -> Bool { s.count == 3 && s.allSatisfy(\.isHexDigit) }

    private func json<T: Encodable>(_ value: T) -> HTTPResponse {
        let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(ByteBuffer(bytes: data)))
    }

    private func receive(_ request: HTTPRequest, device: String, partition: Int, suffix: String, hash: String,
                         name: String) async throws -> HTTPResponse {
        guard Self.isSuffix(suffix), hash.count == 32, hash.hasSuffix(suffix), hash.allSatisfy(\.isHexDigit),
              let dot = name.lastIndex(of: "."), Timestamp(name[..<dot]) != nil,
              ["data", "ts", "meta"].contains(String(name[name.index(after: dot)...])) else {
            throw HTTPError.badRequest("Bad replicated file name")
        }
        let file = DiskFile(devicePath: paths.devicePath(device), partition: partition, hash: hash)
        let writer = try await pools.run(device) { try WriterBox(file.writer()) }
        let dataLength = request.header("x-backend-data-length").flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
        if let dataLength { writer.writer.hashedLength = dataLength }
        do {
            var pending = ByteBuffer()
            for try await chunk in request.body {
                var c = chunk
                pending.writeBuffer(&c)
                if pending.readableBytes >= ObjectController.writeBatch {
                    let batch = pending
                    pending = ByteBuffer()
                    try await pools.run(device) { try batch.withUnsafeReadableBytes { try writer.write($0) } }
                }
            }
            let batch = pending
            try await pools.run(device) { try batch.withUnsafeReadableBytes { try writer.write($0) } }
            if let len = request.contentLength, writer.bytesWritten != len { throw HTTPError(499, "Client disconnected") }
            if let expected = request.header("x-backend-etag"), dataLength != nil, writer.writer.finalizeETag() != expected {
                writer.abort()
                return HTTPResponse(status: 422)
            }
            do {
                try await pools.run(device) { try writer.writer.commitReplica(fileName: name) }
            } catch DiskFileError.exists {
                return HTTPResponse(status: 201)
            }
            return HTTPResponse(status: 201)
        } catch {
            writer.abort()
            throw error
        }
    }
}
