import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1

extension SwiftClient {
    /// Authenticates (or uses the given storage URL and token); answers URL and token.
    /// tempauth v1.0 is a GET with `X-Auth-User`/`X-Auth-Key`; Keystone v2.0/v3 a POST of JSON
    /// whose answer's catalog names the object store. Only connection failures and 5xx are
    /// retried: a 4xx answer is final and says what to check.
    @discardableResult
    public func authenticate(force: Bool = false) async throws -> (storageURL: String, token: String) {
        if !force, let s = session.withLock({ $0 }) { return (s.storage.url, s.token) }
        if !force || !credentials.canAuthenticate, let url = credentials.storageURL, let token = credentials.token {
            let endpoint = try Endpoint(url)
            session.withLock { $0 = Session(storage: endpoint, token: token) }
            return (url, token)
        }
        guard let authURL = credentials.authURL else {
            throw ClientError("no credentials: give -A/-U/-K (or ST_AUTH/ST_USER/ST_KEY), Keystone's --os-auth-url and friends, "
                              + "or OS_STORAGE_URL and OS_AUTH_TOKEN")
        }
        let version = credentials.effectiveAuthVersion
        let request: (endpoint: Endpoint, method: String, headers: HTTPHeaders, body: [UInt8]?)
        switch version {
        case "1.0":
            guard let user = credentials.user, let key = credentials.key else {
                throw ClientError("tempauth needs a user and key: give -U ACCOUNT:USER and -K KEY (or ST_USER, ST_KEY)")
            }
            let endpoint = try Endpoint(authURL)
            var headers = HTTPHeaders()
            headers.add(name: "X-Auth-User", value: user)
            headers.add(name: "X-Auth-Key", value: key)
            request = (endpoint, "GET", headers, nil)
        case "2.0", "3":
            let r = try KeystoneAuth.request(credentials, version: version)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Accept", value: "application/json")
            headers.add(name: "Content-Length", value: String(r.body.count))
            request = (try Endpoint(r.url), "POST", headers, r.body)
        default:
            throw ClientError("auth version \(version) is not one of 1.0, 2.0 and 3")
        }
        var headers = request.headers
        headers.add(name: "Host", value: request.endpoint.authority)
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            let r: BackendResponse
            do {
                let e = request.endpoint
                r = try await http.request(host: e.host, port: e.port, secure: e.secure, method: request.method,
                                           uri: e.path.isEmpty ? "/" : e.path, headers: headers,
                                           body: request.body.map { ByteBuffer(bytes: $0) }, timeout: .seconds(30))
            } catch let error as TLSSetupError {
                throw ClientError("\(error)")
            } catch {
                let failure = ConnectionFailure(error, endpoint: request.endpoint)
                guard failure.retryable, attempt < retries else {
                    throw ClientError("authentication: " + failure.message(attempts: attempt + 1, since: started, hint: connectHint))
                }
                try await backoff(attempt, after: "authentication: \(failure.reason)")
                attempt += 1
                continue
            }
            if r.status >= 500 && attempt < retries {
                try await backoff(attempt, after: "authentication: HTTP \(r.status)")
                attempt += 1
                continue
            }
            var (url, token) = try Self.readAuthAnswer(r, version: version, credentials: credentials, at: request.endpoint)
            // A storage URL given with credentials overrides the catalog's (swiftclient's --os-storage-url).
            if let given = credentials.storageURL { url = given }
            let endpoint = try Endpoint(url)
            session.withLock { $0 = Session(storage: endpoint, token: token) }
            return (url, token)
        }
    }

    /// Storage URL and token from an auth answer, or the reason there are none.
    static func readAuthAnswer(_ r: BackendResponse, version: String, credentials c: Credentials,
                               at endpoint: Endpoint) throws -> (String, String) {
        let who = c.user ?? c.applicationCredentialID ?? c.userID ?? "?"
        switch r.status {
        case 200, 201:
            break
        case 401, 403:
            throw ClientError("authentication as \(who) at \(endpoint.url) refused (HTTP \(r.status)): check the user, key or password"
                              + (version == "1.0" ? "" : ", the project and the domains"), status: r.status)
        case 404, 405:
            let advice = version == "1.0"
                ? "a tempauth URL ends in /auth/v1.0; for Keystone give --auth-version 3 (or 2.0) and its URL"
                : "a Keystone URL ends in /v3 or /v2.0; for tempauth use --auth-version 1.0"
            throw ClientError("authentication at \(endpoint.url): HTTP \(r.status), no such auth service — \(advice)", status: r.status)
        default:
            throw ClientError.http(r.status, "authentication at \(endpoint.url)", body: String(buffer: r.body))
        }
        if version == "1.0" {
            guard let url = r.headers.first(name: "x-storage-url"),
                  let token = r.headers.first(name: "x-auth-token") ?? r.headers.first(name: "x-storage-token") else {
                throw ClientError("authentication at \(endpoint.url): the answer has no X-Storage-Url/X-Auth-Token (is it a Swift auth URL?)")
            }
            return (url, token)
        }
        let t = try KeystoneAuth.token(version: version, subjectToken: r.headers.first(name: "x-subject-token"),
                                       body: Array(r.body.readableBytesView), region: c.regionName, interface: c.interface)
        return (t.storageURL, t.token)
    }
}
