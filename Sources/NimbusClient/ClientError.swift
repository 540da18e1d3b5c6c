/// Why a client operation failed, in words a user can act on.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public let status: Int?
    public let description: String

    public init(_ description: String, status: Int? = nil) {
        self.description = description
        self.status = status
    }

    /// The message for an HTTP failure on `what`.
    public static func http(_ status: Int, _ what: String, body: String = "") -> ClientError {
        let reason: String
        switch status {
        case 401: reason = "not authorized (wrong user or key, or the token expired)"
        case 403: reason = "forbidden (this user may not do that here)"
        case 404: reason = "not found"
        case 409: reason = "conflict"
        case 413: reason = "too large (over the object size limit or a quota)"
        case 422: reason = "the server received different bytes than were sent (ETag mismatch)"
        case 507: reason = "the cluster is out of space (507 Insufficient Storage)"
        case 503: reason = "service unavailable"
        default: reason = "HTTP \(status)"
        }
        let detail = body.isEmpty || body.hasPrefix("<html>") ? "" : ": \(body.prefix(200))"
        return ClientError("\(what): \(reason)\(detail)", status: status)
    }
}
