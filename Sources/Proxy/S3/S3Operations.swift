import HTTPServerKit

/// Which S3 operation a request is, by method, bucket, key and sub-resource.
enum S3Operations {
    /// Sub-resources this S3 API does not offer: `NotImplemented`, never a wrong answer.
    static let notOffered: Set<String> = [
        "cors", "lifecycle", "logging", "notification", "policy", "replication", "requestPayment", "tagging", "torrent",
        "versioning", "website", "encryption", "object-lock", "retention", "legal-hold", "accelerate", "analytics", "inventory",
        "metrics", "ownershipControls", "publicAccessBlock", "restore", "select",
    ]

    static func run(_ call: S3Call) async throws -> HTTPResponse {
        if let sub = call.target.query.keys.first(where: { notOffered.contains($0) }) {
            throw S3Error.notImplemented("?\(sub)")
        }
        guard let bucket = call.target.bucket else {
            guard call.method == "GET" else { throw methodNotAllowed(call) }
            return try await S3Buckets.list(call)
        }
        if call.target.query["acl"] != nil {
            guard let key = call.target.key else { return try await S3ACLRequests.bucket(call, bucket) }
            return try await S3ACLRequests.object(call, bucket, key)
        }
        guard let key = call.target.key else {
            switch call.method {
            case "GET":
                if call.target.query["location"] != nil { return try await S3Buckets.location(call, bucket) }
                if call.target.query["uploads"] != nil { return try await S3Multipart.listUploads(call, bucket) }
                if call.target.query["versions"] != nil { return try await S3ListObjects.list(call, bucket, versions: true) }
                return try await S3ListObjects.list(call, bucket, versions: false)
            case "PUT": return try await S3Buckets.create(call, bucket)
            case "HEAD": return try await S3Buckets.head(call, bucket)
            case "DELETE": return try await S3Buckets.delete(call, bucket)
            case "POST":
                guard call.target.query["delete"] != nil else { throw methodNotAllowed(call) }
                return try await S3DeleteObjects.run(call, bucket)
            default: throw methodNotAllowed(call)
            }
        }
        if let uploadID = call.target.query["uploadId"] {
            switch call.method {
            case "PUT": return try await S3Multipart.uploadPart(call, bucket, key, uploadID)
            case "GET": return try await S3Multipart.listParts(call, bucket, key, uploadID)
            case "DELETE": return try await S3Multipart.abort(call, bucket, key, uploadID)
            case "POST": return try await S3Multipart.complete(call, bucket, key, uploadID)
            default: throw methodNotAllowed(call)
            }
        }
        switch call.method {
        case "POST":
            guard call.target.query["uploads"] != nil else { throw methodNotAllowed(call) }
            return try await S3Multipart.create(call, bucket, key)
        case "PUT":
            if call.request.header("x-amz-copy-source") != nil { return try await S3Objects.copy(call, bucket, key) }
            return try await S3Objects.put(call, bucket, key)
        case "GET" where call.target.query["attributes"] != nil: return try await S3ObjectAttributes.get(call, bucket, key)
        case "GET", "HEAD": return try await S3Objects.get(call, bucket, key)
        case "DELETE": return try await S3Objects.delete(call, bucket, key)
        default: throw methodNotAllowed(call)
        }
    }

    static func methodNotAllowed(_ call: S3Call) -> S3Error {
        S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", status: 405,
                details: [("Method", call.method), ("ResourceType", call.target.key != nil ? "OBJECT" : call.target.bucket != nil ? "BUCKET" : "SERVICE")])
    }
}
