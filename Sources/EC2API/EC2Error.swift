import NimbusCore

/// An EC2 API error: the code AWS clients switch on, a one-line message, and the HTTP status
/// (4xx for everything a client caused — botocore retries 5xx, so a deterministic error must
/// never be one).
public struct EC2Error: Error, Equatable, Sendable {
    public let code: String
    public let message: String
    public let status: Int

    public init(_ code: String, _ message: String, status: Int = 400) {
        self.code = code
        self.message = message
        self.status = status
    }

    public static func missingParameter(_ name: String) -> EC2Error {
        EC2Error("MissingParameter", "The request must contain the parameter \(name)")
    }

    /// EC2's error document.
    public func xml(requestID: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>\(XMLText.escape(code))</Code>"
            + "<Message>\(XMLText.escape(message))</Message></Error></Errors><RequestID>\(requestID)</RequestID></Response>"
    }
}
