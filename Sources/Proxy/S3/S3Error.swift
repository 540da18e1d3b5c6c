import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// An S3 error: AWS's code, message and status, with the extra elements AWS adds to some
/// (`BucketName`, `Key`, `StringToSign`, …), rendered as S3's XML error document.
struct S3Error: Error, Sendable {
    let code: String
    let message: String
    let status: Int
    var details: [(String, String)] = []

    init(_ code: String, _ message: String, status: Int = 400, details: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.status = status
        self.details = details
    }

    static func noSuchBucket(_ bucket: String) -> S3Error {
        S3Error("NoSuchBucket", "The specified bucket does not exist", status: 404, details: [("BucketName", bucket)])
    }

    static func noSuchKey(_ key: String) -> S3Error {
        S3Error("NoSuchKey", "The specified key does not exist.", status: 404, details: [("Key", key)])
    }

    static let accessDenied = S3Error("AccessDenied", "Access Denied", status: 403)

    static func invalidArgument(_ message: String, name: String, value: String) -> S3Error {
        S3Error("InvalidArgument", message, details: [("ArgumentName", name), ("ArgumentValue", value)])
    }

    static func notImplemented(_ what: String) -> S3Error {
        S3Error("NotImplemented", "A header or query you provided implies functionality that is not implemented: \(what).", status: 501)
    }

    static let malformedXML = S3Error("MalformedXML",
                                      "The XML you provided was not well-formed or did not validate against our published schema.")

    /// The error a Swift answer means for an S3 call on `bucket`/`key` (nil for statuses that
    /// are no error).
    static func fromSwift(_ status: Int, bucket: String?, key: String?) -> S3Error {
        switch status {
        case 401: return S3Error("AccessDenied", "Access Denied", status: 403)
        case 403: return .accessDenied
        case 404: return key.map(noSuchKey) ?? bucket.map(noSuchBucket) ?? S3Error("NoSuchKey", "Not found", status: 404)
        case 409 where key == nil:
            return S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", status: 409, details: [("BucketName", bucket ?? "")])
        case 409: return S3Error("OperationAborted", "A conflicting conditional operation is currently in progress against this resource. Please try again.", status: 409)
        case 411: return S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.", status: 411)
        case 412: return S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", status: 412,
                                 details: [("Condition", "If-Match")])
        case 413: return S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", status: 400)
        case 416: return S3Error("InvalidRange", "The requested range is not satisfiable", status: 416)
        case 422: return S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", status: 400)
        case 499: return S3Error("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.")
        case 503: return S3Error("ServiceUnavailable", "Please reduce your request rate.", status: 503)
        case 500...: return S3Error("InternalError", "We encountered an internal error. Please try again.", status: 500)
        default: return S3Error("InvalidRequest", "The request was refused (HTTP \(status)).", status: status >= 400 ? status : 400)
        }
    }

    /// The error document; HEAD answers carry no body, as S3's do.
    func response(requestID: String, resource: String, method: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "x-amz-request-id", value: requestID)
        guard method != "HEAD" else { return HTTPResponse(status: status, headers: headers) }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(XMLText.escape(message))</Message>"
        for (name, value) in details { xml += "<\(name)>\(XMLText.escape(value))</\(name)>" }
        xml += "<Resource>\(XMLText.escape(resource))</Resource><RequestId>\(requestID)</RequestId></Error>"
        headers.add(name: "Content-Type", value: "application/xml")
        return HTTPResponse(status: status, headers: headers, body: .bytes(ByteBuffer(string: xml)))
    }
}
