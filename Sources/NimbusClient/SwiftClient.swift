import Digest
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NimbusCore
import Synchronization

/// A client of a Swift-API object store (Nimbus, OpenStack Swift, Rackspace Cloud Files) over
/// HTTP or HTTPS: tempauth v1.0 or Keystone v2.0/v3 (`SwiftClient+Auth.swift`), keep-alive
/// connections, retries with backoff on 5xx and connection errors, one re-authentication on
/// 401, streaming uploads and downloads.
public final class SwiftClient: Sendable {
    struct Session: Sendable {
        var storage: Endpoint
        var token: String
    }

    /// Scheme, host, port and path prefix of an http:// or https:// URL.
    public struct Endpoint: Sendable, Equatable {
        public let secure: Bool
        public let host: String
        public let port: Int
        public let path: String

        public init(_ url: String) throws {
            guard let u = URLComponents(string: url), let scheme = u.scheme?.lowercased(), let host = u.host, !host.isEmpty else {
                throw ClientError("\(url) is not a URL (say http://host:port/… or https://…)")
            }
            guard scheme == "http" || scheme == "https" else { throw ClientError("\(url): only http:// and https:// URLs are supported") }
            secure = scheme == "https"
            self.host = host
            port = u.port ?? (secure ? 443 : 80)
            guard (1...65535).contains(port) else { throw ClientError("\(url): port \(port) is out of range") }
            var p = u.percentEncodedPath
            while p.hasSuffix("/") { p.removeLast() }
            path = p
        }

        /// `scheme://host:port/path`.
        public var url: String { "\(secure ? "https" : "http")://\(authority)\(path)" }
        /// `host:port` (IPv6 literals in brackets), for messages and the Host header.
        public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public let credentials: Credentials
    public let retries: Int
    public let http: BackendClient
    /// Told of each retry (`st -v` prints them): what failed and when the next try is.
    let onRetry: (@Sendable (String) -> Void)?
    /// Added to a failure to connect: what the user should check (`check -A`).
    let connectHint: String
    let session = Mutex<Session?>(nil)

    /// - Parameters:
    ///   - group: the event loops to use; nil makes one thread of the client's own (for a
    ///     command-line client). A daemon that makes clients as it goes passes a shared group, so
    ///     no client leaves a thread behind.
    ///   - onRetry: told of each retry, in words.
    ///   - connectHint: what a failure to connect adds after a dash (the option to check).
    public init(credentials: Credentials, retries: Int = 5, group: (any EventLoopGroup)? = nil,
                onRetry: (@Sendable (String) -> Void)? = nil, connectHint: String = "is the server running? check the auth URL") {
        self.credentials = credentials
        self.retries = max(0, min(retries, 20))
        self.onRetry = onRetry
        self.connectHint = connectHint
        // One event-loop thread is plenty for a client and leaves the other cores to the cluster.
        http = BackendClient(group: group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1), connectTimeout: .seconds(10),
                             tls: credentials.tls)
    }

    public func shutdown() { http.shutdown() }

    /// Milliseconds before retry `attempt` (0-based): 250 ms doubling to 8 s, plus jitter. With
    /// the default 5 retries a dead endpoint is given up on after about 8 s.
    static func backoffMilliseconds(_ attempt: Int) -> Int {
        min(8_000, 250 << min(attempt, 6)) + Int.random(in: 0...100)
    }

    func backoff(_ attempt: Int, after failure: String) async throws {
        let ms = Self.backoffMilliseconds(attempt)
        onRetry?("\(failure); retry \(attempt + 1) of \(retries) in \(String(format: "%.1f", Double(ms) / 1000)) s")
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
            let r = try await self.http.request(host: endpoint.host, port: endpoint.port, secure: endpoint.secure, method: method, uri: uri, headers: headers,
                                                body: body.map { ByteBuffer(bytes: $0) }, timeout: .seconds(120))
            return (r, r.status)
        }
    }

    /// Runs `body` on a connection to the storage host with auth headers prepared, retrying
    /// the whole exchange on connection errors and 5xx (`body` must be repeatable).
    func exchange<T>(_ method: String, _ path: String, query: String = "", headers extra: [(String, String)],
                     _ body: (BackendConnection, HTTPHeaders, String) async throws -> (T, status: Int)) async throws -> T {
        try await retrying(method, path, query: query, headers: extra) { endpoint, headers, uri, attempt in
            let conn = try await self.http.connect(host: endpoint.host, port: endpoint.port, fresh: attempt > 0, secure: endpoint.secure)
            return try await body(conn, headers, uri)
        }
    }

    /// The retry policy of every request: backoff on connection errors and 5xx (but 507),
    /// one re-authentication on 401; the last answer is returned as it is. Failures that
    /// another try cannot fix (an untrusted certificate, a refused TLS handshake) are not retried.
    private func retrying<T>(_ method: String, _ path: String, query: String, headers extra: [(String, String)],
                             _ perform: (Endpoint, HTTPHeaders, String, Int) async throws -> (T, status: Int)) async throws -> T {
        var attempt = 0
        var reauthed = false
        let started = ContinuousClock.now
        while true {
            let (url, token) = try await authenticate()
            let endpoint = try Endpoint(url)
            var headers = HTTPHeaders()
            headers.add(name: "X-Auth-Token", value: token)
            headers.add(name: "Host", value: endpoint.authority)
            for (k, v) in extra { headers.replaceOrAdd(name: k, value: v) }
            let uri = endpoint.path + path + (query.isEmpty ? "" : "?" + query)
            do {
                let (value, status) = try await perform(endpoint, headers, uri, attempt)
                if status == 401 && !reauthed && credentials.canAuthenticate {
                    reauthed = true
                    try await authenticate(force: true)
                    continue
                }
                if status >= 500 && status != 507 && attempt < retries {
                    try await backoff(attempt, after: "\(method) \(path): HTTP \(status)")
                    attempt += 1
                    continue
                }
                return value
            } catch let e as ClientError {
                throw e
            } catch {
                let failure = ConnectionFailure(error, endpoint: endpoint)
                guard failure.retryable, attempt < retries else {
                    throw ClientError(failure.message(attempts: attempt + 1, since: started, hint: connectHint))
                }
                try await backoff(attempt, after: failure.reason)
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
                try await conn.sendRequest(method: "GET", uri: uri, headers: headers)
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
