import AWSAuth
import Digest
import HTTPServerKit
import NIOConcurrencyHelpers
import NimbusCore

/// Who signed an S3 request, checked as AWS checks it: SigV4 (the `Authorization` header or a
/// presigned query) or SigV2 (header or query), against the secret of the access key. Access
/// keys are tempauth's users (`account:user`, the secret their key, as Swift's s3api maps
/// them) and the control plane's EC2 keys.
struct S3Authenticator {
    let context: ProxyContext
    /// Derived signing keys kept between requests (nil: derived each time).
    var signingKeys: SigningKeyCache? = nil

    /// Whether a request is signed for S3 at all (s3api's detection); others go on as Swift requests.
    static func isS3(_ request: HTTPRequest) -> Bool {
        if let auth = request.header("authorization") { return auth.hasPrefix("AWS4-HMAC-SHA256 ") || auth.hasPrefix("AWS ") }
        let query = request.query
        return query.contains("X-Amz-Signature=") || (query.contains("Signature=") && query.contains("AWSAccessKeyId="))
    }

    /// How the body must be checked once the signature is: the signed payload's SHA-256, or
    /// not at all (`UNSIGNED-PAYLOAD`, SigV2, presigned URLs).
    enum Payload: Equatable {
        case unsigned
        case sha256(String)
        /// `aws-chunked` with per-chunk signatures (and, for `…-TRAILER`, a trailing checksum).
        case streaming(signed: Bool, trailer: Bool)
    }

    struct Verified {
        /// Nil for an anonymous request (no signature).
        let identity: Identity?
        let payload: Payload
        /// The chunk signature chain of a signed aws-chunked body.
        var chain: SigV4ChunkChain? = nil
    }

    /// - Parameter resourcePath: the path SigV2 signs (`/bucket/key`, also for virtual-hosted requests).
    func verify(_ request: HTTPRequest, resourcePath: String) async throws -> Verified {
        let signed = SignedRequest(method: request.method, path: request.path, query: request.query,
                                   headers: request.headers.map { ($0.name, $0.value) })
        let presigned = signed.query.contains("X-Amz-Signature=") || signed.query.contains("Signature=")
        let v2: S3SigV2.Authorization?
        do { v2 = try S3SigV2.authorization(of: signed) } catch { throw Self.s3Error(error, presigned: presigned) }
        if let v2 { return try await verifyV2(signed, v2, resourcePath: resourcePath, presigned: presigned) }
        let auth: SigV4.Authorization
        do { auth = try SigV4.authorization(of: signed) } catch { throw Self.s3Error(error, presigned: presigned) }
        return try await verifyV4(signed, auth, request: request, presigned: presigned)
    }

    private func verifyV2(_ signed: SignedRequest, _ v2: S3SigV2.Authorization, resourcePath: String, presigned: Bool) async throws -> Verified {
        let (key, identity) = try await lookUp(v2.accessKey)
        let result = Result { () throws(SigV4Error) in
            try S3SigV2.verify(signed, auth: v2, resourcePath: resourcePath, secret: key, now: context.clock.now())
        }
        switch result {
        case .success: return Verified(identity: identity, payload: .unsigned)
        case .failure(.incomplete(let why)) where !presigned:
            // A SigV2 header signature without a usable Date: AWS answers AccessDenied.
            throw S3Error("AccessDenied", why, status: 403)
        case .failure(.mismatch):
            throw S3Error("SignatureDoesNotMatch", SigV4Error.mismatch.description, status: 403,
                          details: [("AWSAccessKeyId", v2.accessKey),
                                    ("StringToSign", S3SigV2.stringToSign(signed, resourcePath: resourcePath, expires: v2.expires)),
                                    ("SignatureProvided", v2.signature)])
        case .failure(let other): throw Self.s3Error(other, presigned: presigned)
        }
    }

    private func verifyV4(_ signed: SignedRequest, _ auth: SigV4.Authorization, request: HTTPRequest, presigned: Bool) async throws -> Verified {
        // A signature for another service (an EC2 call made with the same keys) is not one for S3.
        guard auth.service == "s3" else {
            throw S3Error(presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed",
                          "The authorization is malformed; incorrect service '\(auth.service)'. This endpoint belongs to 's3'.")
        }
        // Every x-amz-* header must be signed: an unsigned one (x-amz-copy-source added to a
        // presigned PUT, say) would change what the signer allowed.
        let notSigned = Set(request.headers.map { $0.name.lowercased() }.filter { $0.hasPrefix("x-amz-") && !auth.signedHeaders.contains($0) })
        if !notSigned.isEmpty {
            throw S3Error("AccessDenied", "There were headers present in the request which were not signed", status: 403,
                          details: [("HeadersNotSigned", notSigned.sorted().joined(separator: ", "))])
        }
        let (key, identity) = try await lookUp(auth.accessKey)
        guard let declared = auth.isPresigned ? "UNSIGNED-PAYLOAD" : request.header("x-amz-content-sha256") else {
            throw S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        }
        let payload = try Self.payload(declared)
        let result = Result { () throws(SigV4Error) in
            try SigV4.verify(signed, auth: auth, secret: key, payloadHash: declared, encodePath: false, now: context.clock.now(),
                             signingKey: signingKeys?.key(secret: key, auth: auth))
        }
        switch result {
        case .success:
            guard case .streaming(signed: true, _) = payload else { return Verified(identity: identity, payload: payload) }
            return Verified(identity: identity, payload: payload, chain: SigV4ChunkChain(secret: key, auth: auth))
        case .failure(.mismatch):
            let canonical = SigV4.canonicalRequest(signed, auth: auth, payloadHash: declared, encodePath: false)
            throw S3Error("SignatureDoesNotMatch", SigV4Error.mismatch.description + " Check your key and signing method.", status: 403,
                          details: [("AWSAccessKeyId", auth.accessKey), ("StringToSign", SigV4.stringToSign(canonical, auth: auth)),
                                    ("SignatureProvided", auth.signature), ("CanonicalRequest", canonical)])
        case .failure(let other): throw Self.s3Error(other, presigned: presigned)
        }
    }

    /// What `x-amz-content-sha256` declares of the body.
    static func payload(_ declared: String) throws(S3Error) -> Payload {
        switch declared {
        case "UNSIGNED-PAYLOAD": return .unsigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": return .streaming(signed: true, trailer: false)
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": return .streaming(signed: true, trailer: true)
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": return .streaming(signed: false, trailer: true)
        default:
            guard declared.utf8.count == 64, Hex.decode(declared) != nil else {
                throw S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a SHA256 value.",
                              details: [("ArgumentName", "x-amz-content-sha256"), ("ArgumentValue", declared)])
            }
            return .sha256(declared.lowercased())
        }
    }

    /// The secret and identity of an access key; `InvalidAccessKeyId` when nobody has it.
    func lookUp(_ accessKey: String) async throws -> (String, Identity) {
        guard let found = await context.auth.s3Credentials(accessKey: accessKey) else {
            throw S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", status: 403,
                          details: [("AWSAccessKeyId", accessKey)])
        }
        return found
    }

    static func s3Error(_ error: SigV4Error, presigned: Bool) -> S3Error {
        switch error {
        case .missing: return .accessDenied
        case .incomplete(let why): return S3Error(presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed", why)
        case .unknownAccessKey(let key):
            return S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", status: 403,
                           details: [("AWSAccessKeyId", key)])
        case .expired(let why):
            return presigned ? S3Error("AccessDenied", why, status: 403) : S3Error("RequestTimeTooSkewed", why, status: 403)
        case .mismatch: return S3Error("SignatureDoesNotMatch", error.description, status: 403)
        }
    }
}

/// SigV4 signing keys by secret and scope: four HMACs a request saved, the key living a day.
final class SigningKeyCache: Sendable {
    private let keys = NIOLockedValueBox<[String: [UInt8]]>([:])

    func key(secret: String, auth: SigV4.Authorization) -> [UInt8] {
        let name = "\(auth.accessKey)\u{0}\(secret)\u{0}\(auth.scope)"
        if let hit = keys.withLockedValue({ $0[name] }) { return hit }
        let key = SigV4.signingKey(secret: secret, auth: auth)
        keys.withLockedValue { k in
            if k.count >= 1000 { k.removeAll(keepingCapacity: true) }
            k[name] = key
        }
        return key
    }
}
