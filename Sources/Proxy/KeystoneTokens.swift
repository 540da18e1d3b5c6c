import Foundation
import HTTPClientKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Logging
import NimbusCore

/// Where Keystone is and how its tokens map to accounts (Swift's `authtoken` + `keystoneauth`
/// middleware settings: `operator_roles`, `reseller_admin_role`, `reseller_prefix`).
public struct KeystoneAuthConfig: Codable, Sendable, Equatable {
    /// Keystone's v3 endpoint, e.g. `http://127.0.0.1:5000/v3`.
    public var url: String
    /// Roles that make a user the owner of their project's account.
    public var operatorRoles: [String] = ["admin", "member", "swiftoperator"]
    public var resellerAdminRole = "ResellerAdmin"
    /// A project's account is this prefix plus the project id.
    public var resellerPrefix = "AUTH_"
    /// Seconds a validated token is trusted before Keystone is asked again (its expiry wins).
    public var cacheSeconds: Double = 300
    /// CA file for an https:// Keystone (the system's trust store otherwise).
    public var caFile: String?

    public init(url: String) { self.url = url }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        operatorRoles = try c.decodeIfPresent([String].self, forKey: .operatorRoles) ?? operatorRoles
        resellerAdminRole = try c.decodeIfPresent(String.self, forKey: .resellerAdminRole) ?? resellerAdminRole
        resellerPrefix = try c.decodeIfPresent(String.self, forKey: .resellerPrefix) ?? resellerPrefix
        cacheSeconds = try c.decodeIfPresent(Double.self, forKey: .cacheSeconds) ?? cacheSeconds
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
    }
}

/// Validates tokens Keystone issued, as Swift's `authtoken` middleware does, and turns them into
/// identities as `keystoneauth` does: the account `AUTH_<project id>`, owned by users holding an
/// operator role on the project. A token validates itself (`GET /v3/auth/tokens` with the token
/// as both `X-Auth-Token` and `X-Subject-Token`, which Keystone's policy allows its subject),
/// so the proxy needs no service credentials. Answers, good and bad, are cached for a while.
final class KeystoneTokens: Sendable {
    let config: KeystoneAuthConfig
    private let client: BackendClient
    private let clock: any WallClock
    private let cache = NIOLockedValueBox([String: (identity: Identity?, until: Double)]())
    private static let maxCached = 10_000
    /// Seconds a refused token stays refused without asking Keystone again.
    private static let negativeSeconds = 10.0

    init(config: KeystoneAuthConfig, clock: any WallClock) {
        self.config = config
        self.clock = clock
        client = BackendClient(connectTimeout: .seconds(3), tls: ClientTLS(caFile: config.caFile))
    }

    func shutdown() { client.shutdown() }

    /// The identity of a Keystone token; nil when Keystone refuses it or cannot be asked.
    func validate(_ token: String, logger: Logger? = nil) async -> Identity? {
        let now = clock.now()
        if let hit = cache.withLockedValue({ $0[token] }), hit.until > now { return hit.identity }
        guard let url = URLComponents(string: config.url), let host = url.host else { return nil }
        let secure = url.scheme == "https"
        let port = url.port ?? (secure ? 443 : 80)
        var path = url.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        var headers = HTTPHeaders()
        headers.add(name: "X-Auth-Token", value: token)
        headers.add(name: "X-Subject-Token", value: token)
        headers.add(name: "Accept", value: "application/json")
        let answer: BackendResponse
        do {
            answer = try await client.request(host: host, port: port, secure: secure, method: "GET", uri: path + "/auth/tokens",
                                              headers: headers, timeout: .seconds(10))
        } catch {
            logger?.warning("keystone at \(config.url) unreachable: \(error)")
            return nil
        }
        guard answer.status == 200 else {
            if answer.status == 401 || answer.status == 404 || answer.status == 403 { remember(token, nil, until: now + Self.negativeSeconds) }
            else { logger?.warning("keystone at \(config.url) answered \(answer.status) validating a token") }
            return nil
        }
        let root = Self.tokenObject(Array(answer.body.readableBytesView))
        guard let identity = root.flatMap({ Self.identity(fromToken: $0, config: config) }) else {
            remember(token, nil, until: now + Self.negativeSeconds)  // unscoped: no project, no account
            return nil
        }
        let expires = root.flatMap(Self.expiry(fromToken:)) ?? (now + config.cacheSeconds)
        remember(token, identity, until: min(expires, now + config.cacheSeconds))
        return identity
    }

    private func remember(_ token: String, _ identity: Identity?, until: Double) {
        cache.withLockedValue { c in
            if c.count >= Self.maxCached {
                let now = clock.now()
                c = c.filter { $0.value.until > now }
                if c.count >= Self.maxCached { c.removeAll() }
            }
            c[token] = (identity, until)
        }
    }

    /// keystoneauth's mapping of a v3 token body (scoped to a project) to an identity.
    static func identity(fromTokenBody body: [UInt8], config: KeystoneAuthConfig) -> Identity? {
        tokenObject(body).flatMap { identity(fromToken: $0, config: config) }
    }

    /// The `token` object of a v3 token answer (parsed once per validation).
    static func tokenObject(_ body: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["token"] as? [String: Any]
    }

    static func identity(fromToken token: [String: Any], config: KeystoneAuthConfig) -> Identity? {
        guard let project = token["project"] as? [String: Any], let projectID = project["id"] as? String,
              let user = token["user"] as? [String: Any], let userID = user["id"] as? String else { return nil }
        let projectName = project["name"] as? String ?? projectID
        let userName = user["name"] as? String ?? userID
        let roles = Set((token["roles"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }.map { $0.lowercased() })
        let storageAccount = config.resellerPrefix + projectID
        // ACLs name Keystone users as project:user, by id or by name.
        var groups: Set<String> = [projectID, "\(projectID):\(userID)", "\(projectName):\(userName)", "\(projectID):*", "*:\(userID)"]
        if !roles.isDisjoint(with: config.operatorRoles.map { $0.lowercased() }) { groups.insert(storageAccount) }
        if roles.contains(config.resellerAdminRole.lowercased()) { groups.insert(".reseller_admin") }
        return Identity(account: projectName, user: userName, storageAccount: storageAccount, groups: groups)
    }

    /// `token.expires_at` as seconds since the epoch.
    static func expiry(fromTokenBody body: [UInt8]) -> Double? {
        tokenObject(body).flatMap(expiry(fromToken:))
    }

    static func expiry(fromToken token: [String: Any]) -> Double? {
        guard let text = token["expires_at"] as? String else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)?.timeIntervalSince1970
    }
}
