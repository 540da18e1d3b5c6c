import HTTPServerKit
import NIOCore
import NimbusCore

/// The EC2 metadata service (`http://169.254.169.254/latest/meta-data/…`): each instance sees
/// its own id, addresses, key and user data, found by the source address of its request. Paths
/// and listings as EC2 serves them; dated versions (`/2009-04-04/…`) answer as `latest`.
public struct MetadataHandler: HTTPHandler {
    let source: any InstanceMetadataSource

    public init(source: any InstanceMetadataSource) { self.source = source }

    public func errorResponse(_ error: HTTPError) -> HTTPResponse {
        .text(error.status, error.reason.isEmpty ? HTTPStatusText.swiftBody(error.status) : error.reason)
    }

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else { throw HTTPError(405, "Method not allowed") }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if parts.isEmpty { return .text(200, "2009-04-04\nlatest") }
        guard parts[0] == "latest" || Self.isVersion(parts[0]) else { throw HTTPError(404, "Not Found") }
        guard let m = try await source.metadata(forFixedIP: Self.ipv4(request.remoteAddress)) else {
            throw HTTPError(404, "Not Found")
        }
        let rest = Array(parts.dropFirst())
        guard let answer = Self.answer(m, rest) else { throw HTTPError(404, "Not Found") }
        switch answer {
        case .text(let t): return .text(200, t)
        case .bytes(let b):
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/octet-stream"], body: .bytes(ByteBuffer(bytes: b)))
        }
    }

    enum Answer: Equatable {
        case text(String)
        case bytes([UInt8])
    }

    /// `yyyy-mm-dd`.
    static func isVersion(_ s: String) -> Bool {
        s.utf8.count == 10 && s.enumerated().allSatisfy { i, c in (i == 4 || i == 7) ? c == "-" : c.isASCII && c.isNumber }
    }

    /// The IPv4 address of a peer, also when it arrived as an IPv4-mapped IPv6 address.
    static func ipv4(_ remote: String) -> String {
        remote.hasPrefix("::ffff:") ? String(remote.dropFirst(7)) : remote
    }

    /// The answer for a path below the version, nil when there is none.
    static func answer(_ m: InstanceMetadata, _ path: [String]) -> Answer? {
        switch path.first {
        case nil: return .text(m.userData == nil ? "meta-data/" : "meta-data/\nuser-data")
        case "user-data": return path.count == 1 ? m.userData.map { .bytes($0) } : nil
        case "meta-data": break
        default: return nil
        }
        let p = Array(path.dropFirst())
        var fields: [(String, String)] = [
            ("ami-id", m.imageID), ("ami-launch-index", "0"), ("hostname", m.instanceID), ("instance-id", m.instanceID),
            ("instance-type", m.instanceType), ("local-hostname", m.instanceID), ("local-ipv4", m.localIPv4),
            ("reservation-id", m.reservationID), ("security-groups", m.securityGroups.joined(separator: "\n")),
        ]
        if let pub = m.publicIPv4 { fields += [("public-hostname", pub), ("public-ipv4", pub)] }
        switch p.count {
        case 0:
            var names = fields.map(\.0) + ["placement/"]
            if !m.publicKeys.isEmpty { names.append("public-keys/") }
            return .text(names.sorted().joined(separator: "\n"))
        case 1:
            if let v = fields.first(where: { $0.0 == p[0] })?.1 { return .text(v) }
            if p[0] == "placement" { return .text("availability-zone") }
            if p[0] == "public-keys", !m.publicKeys.isEmpty {
                return .text(m.publicKeys.enumerated().map { "\($0.offset)=\($0.element.name)" }.joined(separator: "\n"))
            }
            return nil
        case 2 where p[0] == "placement" && p[1] == "availability-zone":
            return .text(m.availabilityZone)
        case 2 where p[0] == "public-keys":
            return key(m, p[1]).map { _ in .text("openssh-key") }
        case 3 where p[0] == "public-keys" && p[2] == "openssh-key":
            return key(m, p[1]).map { .text($0.openssh + "\n") }
        default:
            return nil
        }
    }

    static func key(_ m: InstanceMetadata, _ index: String) -> (name: String, openssh: String)? {
        guard let i = Int(index), i >= 0, i < m.publicKeys.count else { return nil }
        return m.publicKeys[i]
    }
}
