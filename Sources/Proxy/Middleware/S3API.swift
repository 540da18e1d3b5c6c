import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// `s3api`: the S3 API on the Swift API's port, as OpenStack Swift's s3api middleware. Requests
/// signed for S3 (SigV4 or SigV2, header or query) are answered here — checked against the
/// signer's secret, then served as Swift requests through the stages after this one, with S3's
/// XML and error codes; every other request goes on untouched.
struct S3API: Middleware {
    let settings: S3Settings

    init(options: [String: String]) throws {
        settings = try S3Settings(options: options)
    }

    /// An unsigned request for a bucket (`/bucket[/key]`, or `bucket.<storage_domain>`): S3's
    /// anonymous access, which the bucket's (or object's) ACL may allow. Swift's own paths
    /// (`/v1/…`, `/auth…`, `/info`, `/healthcheck`, …) and requests with a Swift token are not.
    func isAnonymousS3(_ request: HTTPRequest) -> Bool {
        guard request.header("authorization") == nil, request.header("x-auth-token") == nil, request.header("x-storage-token") == nil
        else { return false }
        let first = request.path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        // Swift's own paths and signed Swift URLs stay Swift's, also on a virtual-hosted name.
        guard !Self.swiftPaths.contains(first), !request.query.contains("temp_url_sig="), request.header("x-auth-user") == nil else {
            return false
        }
        if let domain = settings.storageDomain?.lowercased(), !domain.isEmpty,
           let host = request.header("host")?.split(separator: ":").first?.lowercased(), host.hasSuffix("." + domain) {
            return true
        }
        return S3Target.isValidBucketName(first)
    }

    /// First path segments the proxy serves as Swift (never taken for a bucket).
    static let swiftPaths: Set<String> = ["v1", "v1.0", "auth", "info", "healthcheck", "metrics", "crossdomain.xml", "recon", "services"]

    var info: [String: Any] {
        ["s3api": ["max_bucket_listing": settings.maxBucketListing, "max_multi_delete_objects": settings.maxMultiDeleteObjects,
                   "location": settings.location, "storage_domain": settings.storageDomain ?? "", "s3_acl": false]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        let signed = S3Authenticator.isS3(request)
        guard signed || isAnonymousS3(request) else { return try await next(request, env) }
        var resource = request.path
        do {
            // A CORS preflight: no bucket here has a CORS configuration (S3's answers).
            if request.method == "OPTIONS" {
                guard request.header("origin") != nil, request.header("access-control-request-method") != nil else {
                    throw S3Error("BadRequest", "Insufficient information. Origin request header needed.")
                }
                throw S3Error("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", status: 403)
            }
            let target = try S3Target(request, storageDomain: settings.storageDomain)
            resource = target.resource
            let verified: S3Authenticator.Verified?
            if signed {
                verified = try await S3Authenticator(context: env.context, signingKeys: settings.signingKeys)
                    .verify(request, resourcePath: target.resourcePath)
            } else {
                verified = nil
            }
            env.identity = verified?.identity
            env.authorizes = true
            var call = S3Call(request: request, env: env, next: next, target: target, identity: verified?.identity, settings: settings,
                              payload: verified ?? S3Authenticator.Verified(identity: nil, payload: .unsigned),
                              account: verified?.identity?.storageAccount ?? "")
            // The bucket's account: its registered owner's, else (a container made through
            // the Swift API) the signer's own. Anonymous requests reach registered buckets only.
            guard let bucket = target.bucket else {
                guard verified != nil else { throw S3Error.accessDenied }
                return try await S3Operations.run(call)
            }
            if let owner = try await S3BucketRegistry(call: call).owner(of: bucket) {
                // A signer's own (unregistered, Swift-made) container of that name stays theirs:
                // another account registering the name must not receive their requests.
                if let mine = verified?.identity?.storageAccount, mine != owner,
                   (200..<300).contains(try await call.swift("HEAD", bucket, account: mine).status) {
                    call.account = mine
                } else {
                    call.account = owner
                }
            } else if verified == nil {
                throw call.method == "PUT" && target.key == nil ? S3Error.accessDenied : S3Error.noSuchBucket(bucket)
            }
            for header in ["x-amz-expected-bucket-owner"] {
                if let expected = request.header(header), expected != call.account { throw S3Error.accessDenied }
            }
            if !(call.method == "PUT" && target.key == nil && target.query.isEmpty) { try await S3Access.authorize(&call) }
            return try await S3Operations.run(call)
        } catch let error as S3Error {
            env.logger.info("s3 \(request.method) \(resource) refused: \(error.code) \(error.message)")
            return error.response(requestID: env.txid, resource: resource, method: request.method)
        } catch let error as HTTPError {
            return S3Error.fromSwift(error.status, bucket: nil, key: nil).response(requestID: env.txid, resource: resource, method: request.method)
        } catch {
            // Whatever else went wrong is ours: S3's InternalError, the cause in the log only.
            env.logger.error("s3 \(request.method) \(resource) failed: \(error)")
            return S3Error.fromSwift(500, bucket: nil, key: nil).response(requestID: env.txid, resource: resource, method: request.method)
        }
    }
}
