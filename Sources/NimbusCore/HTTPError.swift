/// An error that the HTTP layer turns into a status line and a one-line body.
///
/// Every handler throws these for client mistakes and known server conditions; anything else
/// becomes a 500 with the transaction id in the log.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let reason: String
    public let headers: [(String, String)]

    public init(_ status: Int, _ reason: String, headers: [(String, String)] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public var description: String { "\(status) \(reason)" }

    public static func badRequest(_ reason: String) -> HTTPError { HTTPError(400, reason) }
    public static func notFound(_ reason: String = "Not Found") -> HTTPError { HTTPError(404, reason) }
    public static let unauthorized = HTTPError(401, "Unauthorized: this server could not verify that you are authorized to access the document you requested.")
    public static let forbidden = HTTPError(403, "Forbidden: access was denied to this resource.")
    public static func conflict(_ reason: String) -> HTTPError { HTTPError(409, reason) }
    public static func preconditionFailed(_ reason: String) -> HTTPError { HTTPError(412, reason) }
    public static func serviceUnavailable(_ reason: String) -> HTTPError { HTTPError(503, reason) }
}

/// Standard reason phrases for the statuses Swift uses.
public enum HTTPStatusText {
    public static func phrase(_ code: Int) -> String {
        switch code {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Request Entity Too Large"
        case 416: return "Requested Range Not Satisfiable"
        case 422: return "Unprocessable Entity"
        case 499: return "Client Disconnect"
        case 500: return "Internal Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 507: return "Insufficient Storage"
        default: return "Status \(code)"
        }
    }
}
