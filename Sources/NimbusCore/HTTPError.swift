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

    /// An error with OpenStack Swift's standard HTML body for the status.
    public static func standard(_ status: Int, headers: [(String, String)] = []) -> HTTPError {
        HTTPError(status, HTTPStatusText.swiftBody(status), headers: headers)
    }

    public static func badRequest(_ reason: String) -> HTTPError { HTTPError(400, reason) }
    public static func notFound() -> HTTPError { .standard(404) }
    public static let unauthorized = HTTPError.standard(401)
    public static let forbidden = HTTPError.standard(403)
    public static func conflict(_ reason: String) -> HTTPError { HTTPError(409, reason) }
    public static func preconditionFailed(_ reason: String) -> HTTPError { HTTPError(412, reason) }
    public static func serviceUnavailable(_ reason: String) -> HTTPError { HTTPError(503, reason) }
}

/// Standard reason phrases for the statuses Swift uses.
public enum HTTPStatusText {
    /// The HTML body OpenStack Swift sends with an error status (clients and tests compare it).
    public static func swiftBody(_ code: Int) -> String {
        "<html><h1>\(phrase(code))</h1><p>\(explanation(code))</p></html>"
    }

    /// `404 Not Found`: the status line Swift's bulk and SLO responses report.
    public static func statusLine(_ code: Int) -> String { "\(code) \(phrase(code))" }

    /// Swift's explanation sentence for a status (its swob default body).
    public static func explanation(_ code: Int) -> String {
        let explanation: String
        switch code {
        case 400: explanation = "The server could not comply with the request since it is either malformed or otherwise incorrect."
        case 401: explanation = "This server could not verify that you are authorized to access the document you requested."
        case 403: explanation = "Access was denied to this resource."
        case 404: explanation = "The resource could not be found."
        case 405: explanation = "The method is not allowed for this resource."
        case 409: explanation = "There was a conflict when trying to complete your request."
        case 411: explanation = "Content-Length header required."
        case 412: explanation = "A precondition for this request was not met."
        case 413: explanation = "The body of your request was too large for this server."
        case 416: explanation = "The Range requested is not available."
        case 422: explanation = "Unable to process the contained instructions"
        case 499: explanation = "The client disconnected during request."
        case 501: explanation = "The server could not process the request because the method is not implemented."
        case 503: explanation = "The server is currently unavailable. Please try again at a later time."
        case 507: explanation = "There was not enough space to save the resource. Drive: unknown"
        case 406: explanation = "The resource is not available in a format acceptable to your browser."
        case 502: explanation = "Bad gateway."
        default: explanation = phrase(code)
        }
        return explanation
    }

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
        case 406: return "Not Acceptable"
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
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 507: return "Insufficient Storage"
        default: return "Status \(code)"
        }
    }
}
