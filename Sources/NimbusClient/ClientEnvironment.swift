import HTTPClientKit

/// Credentials from the environment variables users already have set for the tools these
/// commands replace: python-swiftclient's (`ST_*`, `OS_*`) for `st`, duplicity's swift backend's
/// (`SWIFT_*`) for `nimbus backup swift://`.
public enum ClientEnvironment {
    /// python-swiftclient's reading: `ST_AUTH`/`ST_USER`/`ST_KEY` for tempauth v1.0; `OS_AUTH_URL`,
    /// `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME` (`OS_TENANT_NAME`), the domain variables,
    /// `OS_REGION_NAME`, `OS_INTERFACE` (`OS_ENDPOINT_TYPE`) and `OS_APPLICATION_CREDENTIAL_*` for
    /// Keystone; `OS_STORAGE_URL` + `OS_AUTH_TOKEN` to skip authentication; `OS_CACERT` and
    /// `SWIFTCLIENT_INSECURE` for HTTPS.
    public static func swiftclient(_ env: [String: String]) -> SwiftClient.Credentials {
        let v = FirstSet(env)
        var c = SwiftClient.Credentials()
        c.authVersion = v("ST_AUTH_VERSION", "OS_AUTH_VERSION", "OS_IDENTITY_API_VERSION")
        c.projectName = v("OS_PROJECT_NAME", "OS_TENANT_NAME")
        c.projectID = v("OS_PROJECT_ID", "OS_TENANT_ID")
        c.userID = v("OS_USER_ID")
        c.userDomainName = v("OS_USER_DOMAIN_NAME")
        c.userDomainID = v("OS_USER_DOMAIN_ID")
        c.projectDomainName = v("OS_PROJECT_DOMAIN_NAME")
        c.projectDomainID = v("OS_PROJECT_DOMAIN_ID")
        c.regionName = v("OS_REGION_NAME")
        c.interface = v("OS_INTERFACE", "OS_ENDPOINT_TYPE")
        c.applicationCredentialID = v("OS_APPLICATION_CREDENTIAL_ID")
        c.applicationCredentialName = v("OS_APPLICATION_CREDENTIAL_NAME")
        c.applicationCredentialSecret = v("OS_APPLICATION_CREDENTIAL_SECRET")
        c.storageURL = v("OS_STORAGE_URL")
        c.token = v("OS_AUTH_TOKEN")
        c.tls = ClientTLS(caFile: v("OS_CACERT"), insecure: isTrue(v("SWIFTCLIENT_INSECURE")))
        // tempauth's variables win unless a Keystone version is asked for, as in swiftclient.
        if c.authVersion == nil, v("ST_AUTH") != nil, v("ST_USER") != nil, v("ST_KEY") != nil { c.authVersion = "1.0" }
        c.authURL = v("OS_AUTH_URL", "ST_AUTH")
        if c.effectiveAuthVersion == "1.0" { c.authURL = v("ST_AUTH", "OS_AUTH_URL") }
        if c.effectiveAuthVersion == "1.0" {
            c.user = v("ST_USER", "OS_USERNAME")
            c.key = v("ST_KEY", "OS_PASSWORD")
        } else {
            c.user = v("OS_USERNAME", "ST_USER")
            c.key = v("OS_PASSWORD", "ST_KEY")
        }
        c.splitTenantFromUser()
        return c
    }

    /// duplicity's swift backend's reading: `SWIFT_AUTHURL`, `SWIFT_USERNAME`, `SWIFT_PASSWORD`,
    /// `SWIFT_AUTHVERSION` (default 1), `SWIFT_TENANTNAME`/`SWIFT_PROJECT_NAME` and their `_ID`
    /// forms, `SWIFT_USER_DOMAIN_*`, `SWIFT_PROJECT_DOMAIN_*`, `SWIFT_REGIONNAME`,
    /// `SWIFT_ENDPOINT_TYPE`, or `SWIFT_PREAUTHURL` + `SWIFT_PREAUTHTOKEN`. Nil when none is set.
    public static func duplicity(_ env: [String: String], tls: ClientTLS = ClientTLS()) -> SwiftClient.Credentials? {
        let v = FirstSet(env)
        var c = SwiftClient.Credentials(authURL: v("SWIFT_AUTHURL"), user: v("SWIFT_USERNAME"), key: v("SWIFT_PASSWORD"),
                                        storageURL: v("SWIFT_PREAUTHURL"), token: v("SWIFT_PREAUTHTOKEN"))
        guard c.authURL != nil || (c.storageURL != nil && c.token != nil) else { return nil }
        c.authVersion = v("SWIFT_AUTHVERSION") ?? "1"
        c.projectName = v("SWIFT_PROJECT_NAME", "SWIFT_TENANTNAME")
        c.projectID = v("SWIFT_PROJECT_ID", "SWIFT_TENANTID")
        c.userID = v("SWIFT_USERID")
        c.userDomainName = v("SWIFT_USER_DOMAIN_NAME")
        c.userDomainID = v("SWIFT_USER_DOMAIN_ID")
        c.projectDomainName = v("SWIFT_PROJECT_DOMAIN_NAME")
        c.projectDomainID = v("SWIFT_PROJECT_DOMAIN_ID")
        c.regionName = v("SWIFT_REGIONNAME")
        c.interface = v("SWIFT_ENDPOINT_TYPE")
        c.tls = tls
        c.splitTenantFromUser()
        return c
    }

    /// The first of some variables that is set and not empty.
    struct FirstSet {
        let env: [String: String]
        init(_ env: [String: String]) { self.env = env }
        func callAsFunction(_ names: String...) -> String? {
            names.lazy.compactMap { env[$0] }.first { !$0.isEmpty }
        }
    }

    static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "true", "yes", "on"].contains(value.lowercased())
    }
}

extension SwiftClient.Credentials {
    /// `tenant:user` in the user name means both, for Keystone, when no project is given
    /// (as python-swiftclient and duplicity read `-U`).
    mutating func splitTenantFromUser() {
        guard effectiveAuthVersion != "1.0", projectName == nil, projectID == nil,
              let u = user, let colon = u.firstIndex(of: ":") else { return }
        projectName = String(u[..<colon])
        user = String(u[u.index(after: colon)...])
    }
}
