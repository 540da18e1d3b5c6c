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

    var info: [String: Any] {
        ["s3api": ["max_bucket_listing": settings.maxBucketListing, "max_multi_delete_objects": settings.maxMultiDeleteObjects,
                   "location": settings.location, "storage_domain": settings.storageDomain ?? "", "s3_acl": false]]
    }

    func handle(_ request: HTTPRequest, _ env: RequestEnvironment, next: Next) async throws -> HTTPResponse {
        guard S3Authenticator.isS3(request) else { return try await next(request, env) }
        var resource = request.path
        do {
            let target = try S3Target(request, storageDomain: settings.storageDomain)
            resource = target.resource
            let verified = try await S3Authenticator(context: env.context).verify(request, resourcePath: target.resourcePath)
            env.identity = verified.identity
            env.authorizes = true
            let call = S3Call(request: request, env: env, next: next, target: target, identity: verified.identity, settings: settings,
                              payload: verified)
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
