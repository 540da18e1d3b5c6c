import HTTPClientKit

extension SwiftClient {
    /// How to reach an object store: an auth URL with user and key (tempauth v1.0) or with
    /// Keystone's user, password and project (v2.0, v3) or application credential (v3); or a
    /// storage URL and token that skip authentication. `ClientEnvironment` fills it from the
    /// variables python-swiftclient and duplicity read.
    public struct Credentials: Sendable {
        public var authURL: String?
        /// tempauth's `account:user`, or Keystone's user name.
        public var user: String?
        /// tempauth's key, or Keystone's password.
        public var key: String?
        public var storageURL: String?
        public var token: String?
        /// `1.0`, `2.0` or `3`; nil: guessed as python-swiftclient guesses it (see `effectiveAuthVersion`).
        public var authVersion: String?
        public var userID: String?
        public var projectName: String?
        public var projectID: String?
        public var userDomainName: String?
        public var userDomainID: String?
        public var projectDomainName: String?
        public var projectDomainID: String?
        /// The catalog region to take the object-store endpoint from (any when nil).
        public var regionName: String?
        /// `public`, `internal` or `admin` (`publicURL` and friends are accepted too).
        public var interface: String?
        public var applicationCredentialID: String?
        public var applicationCredentialName: String?
        public var applicationCredentialSecret: String?
        /// How HTTPS servers are checked.
        public var tls = ClientTLS()

        public init(authURL: String? = nil, user: String? = nil, key: String? = nil, storageURL: String? = nil, token: String? = nil) {
            self.authURL = authURL
            self.user = user
            self.key = key
            self.storageURL = storageURL
            self.token = token
        }

        /// True when there is enough to log in again (after a 401).
        public var canAuthenticate: Bool { authURL != nil }

        /// The auth version in force: the one given; else, as python-swiftclient decides, `3`
        /// when the URL ends in `/v3` or a domain or application credential is given, `2.0`
        /// when it ends in `/v2.0` or a project is given, `1.0` otherwise.
        public var effectiveAuthVersion: String {
            if let v = authVersion?.lowercased() {
                switch v {
                case "1", "1.0", "v1", "v1.0": return "1.0"
                case "2", "2.0", "v2", "v2.0": return "2.0"
                case "3", "3.0", "v3": return "3"
                default: return v
                }
            }
            let path = authURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? ""
            if path.hasSuffix("/v3") { return "3" }
            if [userDomainName, userDomainID, projectDomainName, projectDomainID, applicationCredentialID].contains(where: { $0 != nil }) {
                return "3"
            }
            if path.hasSuffix("/v2.0") || projectName != nil || projectID != nil { return "2.0" }
            return "1.0"
        }
    }
}
