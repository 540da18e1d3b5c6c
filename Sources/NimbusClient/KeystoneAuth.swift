import Foundation

/// Keystone's token requests (v2.0 and v3) and the pick of the object-store endpoint from the
/// catalog that comes back, as python-swiftclient (through keystoneclient) makes and reads them.
public enum KeystoneAuth {
    /// The token request: where to POST and what.
    public struct Request: Equatable, Sendable {
        public let url: String
        public let body: [UInt8]
    }

    /// What a successful answer gives.
    public struct Token: Equatable, Sendable {
        public let token: String
        public let storageURL: String

        public init(token: String, storageURL: String) {
            self.token = token
            self.storageURL = storageURL
        }
    }

    /// The POST for `credentials` (version `2.0` or `3`).
    public static func request(_ c: SwiftClient.Credentials, version: String) throws -> Request {
        guard let authURL = c.authURL else { throw ClientError("no auth URL (give --os-auth-url or OS_AUTH_URL)") }
        var base = authURL
        while base.hasSuffix("/") { base.removeLast() }
        let body: [String: Any]
        if version == "2.0" {
            if !base.hasSuffix("/v2.0") { base += "/v2.0" }
            guard let user = c.user, let password = c.key else {
                throw ClientError("Keystone v2.0 needs a user name and password (--os-username, --os-password)")
            }
            var auth: [String: Any] = ["passwordCredentials": ["username": user, "password": password]]
            if let id = c.projectID { auth["tenantId"] = id } else if let name = c.projectName { auth["tenantName"] = name }
            body = ["auth": auth]
            return Request(url: base + "/tokens", body: try json(body))
        }
        if !base.hasSuffix("/v3") { base += "/v3" }
        var auth: [String: Any] = [:]
        if let secret = c.applicationCredentialSecret {
            var cred: [String: Any] = ["secret": secret]
            if let id = c.applicationCredentialID {
                cred["id"] = id
            } else if let name = c.applicationCredentialName, let user = c.user ?? c.userID {
                cred["name"] = name
                cred["user"] = userObject(c, name: user)
            } else {
                throw ClientError("an application credential needs its id (--os-application-credential-id), or its name and the user")
            }
            // An application credential carries its own project: no scope may be asked for.
            auth["identity"] = ["methods": ["application_credential"], "application_credential": cred]
        } else {
            guard let password = c.key, let user = c.user ?? c.userID else {
                throw ClientError("Keystone v3 needs a user and password (--os-username, --os-password) or an application credential")
            }
            var u = userObject(c, name: user)
            u["password"] = password
            auth["identity"] = ["methods": ["password"], "password": ["user": u]]
            if let id = c.projectID {
                auth["scope"] = ["project": ["id": id]]
            } else if let name = c.projectName {
                var project: [String: Any] = ["name": name]
                if let id = c.projectDomainID { project["domain"] = ["id": id] }
                else { project["domain"] = ["name": c.projectDomainName ?? "Default"] }
                auth["scope"] = ["project": project]
            }
        }
        return Request(url: base + "/auth/tokens", body: try json(["auth": auth]))
    }

    private static func userObject(_ c: SwiftClient.Credentials, name: String) -> [String: Any] {
        if c.user == nil, let id = c.userID { return ["id": id] }
        var u: [String: Any] = ["name": name]
        if let id = c.userDomainID { u["domain"] = ["id": id] } else { u["domain"] = ["name": c.userDomainName ?? "Default"] }
        return u
    }

    private static func json(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// Reads a token answer: the token (v3: the `X-Subject-Token` header; v2.0: the body) and
    /// the object-store endpoint of the asked region and interface.
    public static func token(version: String, subjectToken: String?, body: [UInt8], region: String?, interface: String?) throws -> Token {
        guard let root = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw ClientError("Keystone's answer is not JSON (is the auth URL a Keystone endpoint?)")
        }
        let wanted = normalizedInterface(interface)
        if version == "2.0" {
            guard let access = root["access"] as? [String: Any], let t = access["token"] as? [String: Any], let id = t["id"] as? String else {
                throw ClientError("Keystone's v2.0 answer has no access.token.id")
            }
            let catalog = access["serviceCatalog"] as? [[String: Any]] ?? []
            var candidates: [(region: String?, url: String)] = []
            for service in catalog where service["type"] as? String == "object-store" {
                for e in service["endpoints"] as? [[String: Any]] ?? [] {
                    if let url = e["\(wanted)URL"] as? String { candidates.append((e["region"] as? String, url)) }
                }
            }
            return Token(token: id, storageURL: try pick(candidates, region: region, interface: wanted))
        }
        guard let token = subjectToken, !token.isEmpty else { throw ClientError("Keystone's v3 answer has no X-Subject-Token header") }
        let t = root["token"] as? [String: Any] ?? [:]
        var candidates: [(region: String?, url: String)] = []
        for service in t["catalog"] as? [[String: Any]] ?? [] where service["type"] as? String == "object-store" {
            for e in service["endpoints"] as? [[String: Any]] ?? [] where e["interface"] as? String == wanted {
                if let url = e["url"] as? String { candidates.append(((e["region_id"] as? String) ?? (e["region"] as? String), url)) }
            }
        }
        return Token(token: token, storageURL: try pick(candidates, region: region, interface: wanted))
    }

    /// `publicURL` → `public`, as keystoneclient accepts both spellings.
    static func normalizedInterface(_ interface: String?) -> String {
        var i = (interface ?? "public").lowercased()
        if i.hasSuffix("url") { i.removeLast(3) }
        return i
    }

    private static func pick(_ candidates: [(region: String?, url: String)], region: String?, interface: String) throws -> String {
        if let region {
            guard let hit = candidates.first(where: { $0.region == region }) else {
                let regions = Set(candidates.compactMap(\.region)).sorted()
                throw ClientError("the catalog has no \(interface) object-store endpoint in region \(region)"
                                  + (regions.isEmpty ? "" : " (it has: \(regions.joined(separator: ", ")))"))
            }
            return hit.url
        }
        guard let first = candidates.first else {
            throw ClientError("the catalog has no \(interface) object-store endpoint (is Swift registered in this Keystone? try --os-interface)")
        }
        return first.url
    }
}
