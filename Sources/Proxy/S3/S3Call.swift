import HTTPServerKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NimbusCore

/// One S3 call being served: the request, what it addresses, who signed it, and the way to the
/// stages after `s3api` — every S3 operation is one or more Swift requests made through them,
/// so quotas, versioning, large objects and authorization apply as to Swift's own clients.
// @unchecked Sendable: the request's body is the one part that is not Sendable, and only the
// operation's own task reads it; the concurrent sub-requests of DeleteObjects use its head only.
struct S3Call: @unchecked Sendable {
    let request: HTTPRequest
    let env: RequestEnvironment
    let next: Next
    let target: S3Target
    /// Who signed the request; nil for an anonymous one.
    let identity: Identity?
    let settings: S3Settings
    /// How the signature covers the body.
    let payload: S3Authenticator.Verified
    /// The account the call's bucket is in: the registered owner's, else the signer's.
    var account: String
    /// Set when an ACL lets another account (or anyone) do what this call asks: its Swift
    /// requests are then made as the bucket's owner (`S3Access`).
    var actingAs: Identity? = nil

    var requestID: String { env.txid }

    /// The account that owns what this call writes: the signer's when an ACL let it write in
    /// another account's bucket, else the bucket's.
    var writer: String { actingAs != nil ? (identity?.storageAccount ?? account) : account }
    var method: String { request.method }

    /// Whether the signer owns the account the bucket is in (may read and set its ACLs).
    var isOwner: Bool { identity.map { $0.groups.contains(account) || $0.isResellerAdmin } ?? false }

    /// `/v1/<account>[/<container>[/<object>]][?query]`, encoded.
    func swiftURI(_ container: String? = nil, _ object: String? = nil, query: [(String, String)] = [], account: String? = nil) -> String {
        var uri = "/v1/" + PercentCoding.encodePath(account ?? self.account, keepSlash: false)
        if let container { uri += "/" + PercentCoding.encodePath(container, keepSlash: false) }
        if let object { uri += "/" + PercentCoding.encodePath(object) }
        if !query.isEmpty {
            uri += "?" + query.map { PercentCoding.encodePath($0.0, keepSlash: false) + "=" + PercentCoding.encodePath($0.1, keepSlash: false) }.joined(separator: "&")
        }
        return uri
    }

    /// A Swift request through the stages after `s3api`, as the signer — or as `identity`
    /// (the registry's own, or the bucket owner's where an object's ACL grants what the
    /// bucket's does not), in `account` when given.
    func swift(_ method: String, _ container: String? = nil, _ object: String? = nil, query: [(String, String)] = [],
               headers: HTTPHeaders = HTTPHeaders(), body: RequestBody = RequestBody(),
               as identity: Identity? = nil, account: String? = nil) async throws -> HTTPResponse {
        var h = headers
        if let host = request.header("host") { h.replaceOrAdd(name: "Host", value: host) }
        if method == "PUT" || method == "POST", !h.contains(name: "content-length"), !h.contains(name: "transfer-encoding") {
            h.add(name: "Content-Length", value: "0")
        }
        let sub = request.with(method: method, uri: swiftURI(container, object, query: query, account: account), headers: h, body: body)
        let subEnv = env.rewritten(for: sub)
        if let identity = identity ?? actingAs { subEnv.identity = identity }
        do {
            return try await next(sub, subEnv)
        } catch let error as HTTPError {
            return HTTPResponse(status: error.status, headers: HTTPHeaders(error.headers))
        }
    }

    /// A Swift answer's body, read whole (listings, small documents), at most `limit` bytes.
    static func collect(_ response: HTTPResponse, limit: Int = 16 << 20) async throws -> ByteBuffer {
        switch response.body {
        case .empty: return ByteBuffer()
        case .bytes(let b): return b
        case .stream(let produce):
            let box = CollectBox()
            try await produce(BodyWriter { chunk in
                try box.append(chunk, limit: limit)
            })
            return box.take()
        }
    }

    /// The answer for S3: the same status, S3's request id and no Swift-only headers.
    func s3Response(_ status: Int, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponse.Body = .empty) -> HTTPResponse {
        var h = headers
        h.replaceOrAdd(name: "x-amz-request-id", value: requestID)
        return HTTPResponse(status: status, headers: h, body: body)
    }
}

/// Gathers a streamed body (bounded).
// @unchecked Sendable: the body writer calls `append` one chunk at a time, in order, and
// `take` runs after the producer returned; the lock makes that explicit.
final class CollectBox: @unchecked Sendable {
    private let lock = NIOLock()
    private var buffer = ByteBuffer()

    func append(_ chunk: ByteBuffer, limit: Int) throws {
        try lock.withLock {
            guard buffer.readableBytes + chunk.readableBytes <= limit else { throw S3Error("InternalError", "A listing was too large.", status: 500) }
            var c = chunk
            buffer.writeBuffer(&c)
        }
    }

    func take() -> ByteBuffer { lock.withLock { buffer } }
}

/// The `[filter:s3api]` options.
struct S3Settings: Sendable {
    /// Virtual-hosted-style requests: `bucket.<storage_domain>`.
    var storageDomain: String?
    /// What GetBucketLocation answers (`us-east-1` answers empty, as AWS does).
    var location = "us-east-1"
    var maxBucketListing = 1000
    var maxMultiDeleteObjects = 1000
    /// Bucket owners recently read from the registry (shared by every call of this stage).
    let bucketCache = S3BucketCache()
    /// SigV4 signing keys of recent requests.
    let signingKeys = SigningKeyCache()

    init(options: [String: String]) throws {
        storageDomain = options["storage_domain"].flatMap { $0.isEmpty ? nil : $0 }
        location = options["location"] ?? location
        if let text = options["max_bucket_listing"] {
            guard let n = Int(text), (1...10_000).contains(n) else {
                throw PipelineConfig.ConfigError(description: "[filter:s3api] max_bucket_listing must be 1 to 10000 (a Swift listing's limit)")
            }
            maxBucketListing = n
        }
        if let text = options["max_multi_delete_objects"] {
            guard let n = Int(text), (1...10_000).contains(n) else {
                throw PipelineConfig.ConfigError(description: "[filter:s3api] max_multi_delete_objects must be 1 to 10000")
            }
            maxMultiDeleteObjects = n
        }
    }
}
