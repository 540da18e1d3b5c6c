import HTTPServerKit
import NimbusCore

/// A storage-node request path: `/<device>/<partition>/<account>[/<container>[/<object>]]`.
struct BackendPath {
    let device: String
    let partition: Int
    let account: String
    let container: String?
    let object: String?

    static func parse(_ raw: String) throws -> BackendPath {
        let parts = raw.dropFirst().split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count >= 3 else { throw HTTPError.badRequest("Invalid path: \(raw)") }
        let device = try PercentCoding.decodeUTF8(parts[0])
        guard !device.isEmpty, !device.contains(".."), let partition = Int(parts[1]), partition >= 0 else {
            throw HTTPError.badRequest("Invalid device or partition")
        }
        let account = try PercentCoding.decodeUTF8(parts[2])
        let container = parts.count > 3 ? try PercentCoding.decodeUTF8(parts[3]) : nil
        let object = parts.count > 4 ? try PercentCoding.decodeUTF8(parts[4]) : nil
        if let container, container.isEmpty { throw HTTPError.badRequest("Empty container name") }
        if let object, object.isEmpty { throw HTTPError.badRequest("Empty object name") }
        return BackendPath(device: device, partition: partition, account: account, container: container, object: object)
    }
}

extension HTTPRequest {
    /// The required `X-Timestamp` of a backend write.
    func requiredTimestamp() throws -> Timestamp {
        guard let v = header("x-timestamp"), let ts = Timestamp(v) else {
            throw HTTPError.badRequest("Missing or invalid X-Timestamp header")
        }
        return ts
    }
}
