import Digest
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NimbusCore
import Synchronization

/// A client of a Swift-API object store (Nimbus, OpenStack Swift, Rackspace Cloud Files):
/// tempauth v1.0, keep-alive connections, retries with backoff on 5xx and connection errors,
/// one re-authentication on 401, streaming uploads and downloads.
public final class SwiftClient: Sendable {
    /// How to reach the cluster: an auth URL with user and key, or a storage URL and token.
    public struct Credentials: Sendable {
        public var authURL: String?
        public var user: String?
        public var key: String?
        public var storageURL: String?
        public var token: String?

        public init(authURL: String? = nil, user: String? = nil, key: String? = nil, storageURL: String? = nil, token: String? = nil) {
            self.authURL = authURL
            self.user = user
            self.key = key
            self.storageURL = storageURL
            self.token = token
        }
    }

    struct Session: Sendable {
        var storage: Endpoint
        var token: String
    }

    /// Host, port and path prefix of an http URL.
    public struct Endpoint: Sendable, Equatable {
        public let host: String
        public let port: Int
        public let path: String

        public init(_ url: String) throws {
            guard let u = URLComponents(string: url), u.scheme == "http", let host = u.host else {
                throw ClientError("unsupported URL \(url) (http:// only)")
            }
            self.host = host
            port = u.port ?? 80
            var p = u.percentEncodedPath
            while p.hasSuffix("/") { p.removeLast() }
            path = p
        }
    }

    public let credentials: Credentials
    public let retries: Int
    public let http: BackendClient
    private let session = Mutex<Session?>(nil)

    /// - Parameter group: the event loops to use; nil makes one thread of the client's own (for a
    ///   command-line client). A daemon that makes clients as it goes passes a shared group, so
    ///   no client leaves a thread behind.
    public init(credentials: Credentials, retries: Int = 5, group: (any EventLoopGroup)? = nil) {
        self.credentials = credentials
        self.retries = retries
        // One event-loop thread is plenty for a client and leaves the other cores to the cluster.
        http = BackendClient(group: group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1), connectTimeout: .seconds(10))
    }

    public func shutdown() { http.shutdown() }

    /// Authenticates (or uses the given storage URL and token); answers URL and token.
    @discardableResult
    public func authenticate(force: Bool = false) async throws -> (storageURL: String, token: String) {
        if !force, let s = session.withLock({ $0 }) { return ("http://\(s.storage.host):\(s.storage.port)\(s.storage.path)", s.token) }
        if !force, let url = credentials.storageURL, let token = credentials.token {
            let endpoint = try Endpoint(url)
            session.withLock { $0 = Session(storage: endpoint, token: token) }
            return (url, token)
        }
        guard let authURL = credentials.authURL, let user = credentials.user, let key = credentials.key else {
            throw ClientError("no credentials: give -A/-U/-K (or ST_AUTH/ST_USER/ST_KEY), or OS_STORAGE_URL and OS_AUTH_TOKEN")
        }
        let auth = try Endpoint(authURL)
        var headers = HTTPHeaders()
        headers.add(name: "X-Auth-User", value: user)
        headers.add(name: "X-Auth-Key", value: key)
        headers.add(name: "Host", value: "\(auth.host):\(auth.port)")
        var lastError: Error = ClientError("authentication failed")
        for attempt in 0...retries {
            do {
                let r = try await http.request(host: auth.host, port: auth.port, method: "GET", uri: auth.path.isEmpty ? "/" : auth.path,
                                               headers: headers, timeout: .seconds(30))
                if r.status == 401 || r.status == 403 { throw ClientError.http(r.status, "authentication as \(user)") }
                guard r.status == 200, let url = r.headers.first(name: "x-storage-url"),
                      let token = r.headers.first(name: "x-auth-token") ?? r.headers.first(name: "x-storage-token") else {
                    throw ClientError.http(r.status, "authentication")
                }
                let endpoint = try Endpoint(url)
                session.withLock { $0 = Session(storage: endpoint, token: token) }
                return (url, token)
            } catch let e as ClientError where e.status == 401 || e.status == 403 {
                throw e
            } catch {
                lastError = error
                if attempt < retries { try await Self.backoff(attempt) }
            }
        }
        throw lastError
    }

    static func backoff(_ attempt: Int) async throws {
        let ms = min(10_000, 250 << attempt) + Int.random(in: 0...100)
        try await Task.sleep(for: .milliseconds(ms))
    }

    /// The encoded path of an account, container or object below the storage URL.
    public static func path(_ container: String? = nil, _ object: String? = nil) -> String {
        var p = ""
        if let container { p += "/" + PercentCoding.encodePath(container, keepSlash: false) }
        if let object { p += "/" + PercentCoding.encodePath(object) }
        return p
    }

    /// A whole request (small bodies), with retries and one re-authentication on 401.
    public func request(_ method: String, _ path: String, query: String = "", headers extra: [(String, String)] = [],
                        body: [UInt8]? = nil) async throws -> BackendResponse {
        let length = body.map { [("Content-Length", String($0.count))] } ?? []
        return try await retrying(method, path, query: query, headers: extra + length) { endpoint, headers, uri, _ in
            let r = try await self.http.request(host: endpoint.host, port: endpoint.port, method: method, uri: uri, headers: headers,
                                                body: body.map { ByteBuffer(bytes: $0) }, timeout: .seconds(120))
            return (r, r.status)
        }
    }

    /// Runs `body` on a connection to the storage host with auth headers prepared, retrying
    /// the whole exchange on connection errors and 5xx (`body` must be repeatable).
    func exchange<T>(_ method: String, _ path: String, query: String = "", headers extra: [(String, String)],
                     _ body: (BackendConnection, HTTPHeaders, String) async throws -> (T, status: Int)) async throws -> T {
        try await retrying(method, path, query: query, headers: extra) { endpoint, headers, uri, attempt in
            let conn = try await self.http.connect(host: endpoint.host, port: endpoint.port, fresh: attempt > 0)
            return try await body(conn, headers, uri)
        }
    }

    /// The retry policy of every request: backoff on connection errors and 5xx (but 507),
    /// one re-authentication on 401; the last answer is returned as it is.
    private func retrying<T>(_ method: String, _ path: String, query: String, headers extra: [(String, String)],
                             _ perform: (Endpoint, HTTPHeaders, String, Int) async throws -> (T, status: Int)) async throws -> T {
        var attempt = 0
        var reauthed = false
        while true {
            let (url, token) = try await authenticate()
            let endpoint = try Endpoint(url)
            var headers = HTTPHeaders()
            headers.add(name: "X-Auth-Token", value: token)
            headers.add(name: "Host", value: "\(endpoint.host):\(endpoint.port)")
            for (k, v) in extra { headers.replaceOrAdd(name: k, value: v) }
            let uri = endpoint.path + path + (query.isEmpty ? "" : "?" + query)
            do {
                let (value, status) = try await perform(endpoint, headers, uri, attempt)
                if status == 401 && !reauthed && credentials.authURL != nil {
                    reauthed = true
                    try await authenticate(force: true)
                    continue
                }
                if status >= 500 && status != 507 && attempt < retries {
                    try await Self.backoff(attempt)
                    attempt += 1
                    continue
                }
                return value
            } catch let e as ClientError {
                throw e
            } catch {
                guard attempt < retries else { throw ClientError("\(method) \(path): \(error)") }
                try await Self.backoff(attempt)
                attempt += 1
            }
        }
    }

    /// Uploads `length` bytes of the file at `offset` (the whole file when nil) as an object.
    /// Answers the ETag the cluster stored (checked against the MD5 of what was sent).
    public func putObject(_ container: String, _ object: String, file: String, offset: Int64 = 0, length: Int64? = nil,
                          headers: [(String, String)] = [], progress: (@Sendable (Int) -> Void)? = nil) async throws -> String {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClientError("cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = length ?? (Int64(st.st_size) - offset)
        return try await exchange("PUT", Self.path(container, object),
                                  headers: headers + [("Content-Length", String(size))]) { conn, headers, uri in
            do {
                try await conn.sendHead(method: "PUT", uri: uri, headers: headers)
                let md5 = LocalMD5()
                var sent: Int64 = 0
                let chunk = 1024 * 1024
                while sent < size {
                    let want = Int(min(Int64(chunk), size - sent))
                    var buffer = ByteBufferAllocator().buffer(capacity: want)
                    let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        max(0, pread(fd, raw.baseAddress, want, off_t(offset + sent)))
                    }
                    if n == 0 { throw ClientError("\(file) changed while it was read (it is shorter now)") }
                    buffer.withUnsafeReadableBytes { md5.update($0) }
                    // Sequential: keeping a write in flight while hashing the next chunk measured no
                    // faster (the cluster's write path is the bottleneck) and is harder to follow.
                    try await conn.sendBody(buffer)
                    sent += Int64(n)
                    progress?(n)
                }
                try await conn.sendEnd()
                let head = try await conn.readHead()
                let body = try await conn.readFullBody()
                http.release(conn)
                let status = Int(head.status.code)
                if status == 201 {
                    let etag = (head.headers.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
                    let local = md5.hex()
                    if etag != local { throw ClientError("\(container)/\(object): stored ETag \(etag) differs from the MD5 sent \(local)") }
                    return (etag, status)
                }
                if status >= 500 && status != 507 { return ("", status) }
                throw ClientError.http(status, "upload of \(container)/\(object)", body: String(buffer: body))
            } catch {
                conn.close()
                throw error
            }
        }
    }

    /// Downloads an object into `file` (through a temp file renamed at the end), checking the
    /// MD5 of plain objects against their ETag. Answers the response headers.
    public func getObject(_ container: String, _ object: String, to file: String, query: String = "",
                          progress: (@Sendable (Int) -> Void)? = nil) async throws -> HTTPHeaders {
        let dir = (file as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let tmp = "\(file).st-\(UInt32.random(in: 0...UInt32.max)).part"
        defer { unlink(tmp) }
        let headers: HTTPHeaders = try await exchange("GET", Self.path(container, object), query: query, headers: []) { conn, headers, uri in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ClientError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            do {
                try await conn.sendHead(method: "GET", uri: uri, headers: headers)
                try await conn.sendEnd()
                let head = try await conn.readHead()
                let status = Int(head.status.code)
                guard status == 200 else {
                    let body = try await conn.readFullBody()
                    http.release(conn)
                    if status >= 500 && status != 507 { return (head.headers, status) }
                    throw ClientError.http(status, "download of \(container)/\(object)", body: String(buffer: body))
                }
                let md5 = LocalMD5()
                var received: Int64 = 0
                while let part = try await conn.readBodyPart() {
                    try part.withUnsafeReadableBytes { raw in
                        md5.update(raw)
                        var done = 0
                        while done < raw.count {
                            let n = write(fd, raw.baseAddress! + done, raw.count - done)
                            if n < 0 { throw ClientError("cannot write \(file): \(String(cString: strerror(errno)))") }
                            done += n
                        }
                    }
                    received += Int64(part.readableBytes)
                    progress?(part.readableBytes)
                }
                http.release(conn)
                if let len = head.headers.first(name: "content-length").flatMap({ Int64($0) }), len != received {
                    throw ClientError("\(container)/\(object): got \(received) of \(len) bytes")
                }
                let isLarge = head.headers.contains(name: "x-object-manifest") || head.headers.contains(name: "x-static-large-object")
                let etag = (head.headers.first(name: "etag") ?? "").trimmingCharacters(in: ["\""])
                if !isLarge && query.isEmpty && etag != md5.hex() {
                    throw ClientError("\(container)/\(object): downloaded bytes do not match the ETag \(etag)")
                }
                return (head.headers, status)
            } catch {
                conn.close()
                throw error
            }
        }
        guard rename(tmp, file) == 0 else { throw ClientError("cannot create \(file): \(String(cString: strerror(errno)))") }
        return headers
    }

    /// Every entry of a container (or, with nil, account) listing, following markers.
    public func list(_ container: String?, prefix: String? = nil, delimiter: String? = nil) async throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        var marker = ""
        while true {
            var query = "format=json"
            if let prefix { query += "&prefix=" + PercentCoding.encodePath(prefix, keepSlash: false) }
            if let delimiter { query += "&delimiter=" + PercentCoding.encodePath(delimiter, keepSlash: false) }
            if !marker.isEmpty { query += "&marker=" + PercentCoding.encodePath(marker, keepSlash: false) }
            let r = try await request("GET", Self.path(container), query: query)
            if r.status == 204 { break }
            guard r.status == 200 else { throw ClientError.http(r.status, container.map { "listing of \($0)" } ?? "account listing") }
            guard let page = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]], !page.isEmpty else { break }
            out += page
            guard let last = page.last, let name = (last["name"] as? String) ?? (last["subdir"] as? String) else { break }
            marker = name
        }
        return out
    }

    /// Creates a container (if needed).
    public func ensureContainer(_ container: String, headers: [(String, String)] = []) async throws {
        let r = try await request("PUT", Self.path(container), headers: headers)
        guard (200..<300).contains(r.status) else { throw ClientError.http(r.status, "creating container \(container)") }
    }
}

/// MD5 over streamed chunks, owned by one transfer.
final class LocalMD5 {
    private var digest = MessageDigest(.md5)
    func update(_ raw: UnsafeRawBufferPointer) { digest.update(raw) }
    func hex() -> String { digest.finalizeHexAndReset() }
}
