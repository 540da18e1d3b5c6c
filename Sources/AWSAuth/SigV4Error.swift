/// Why a request's AWS Signature Version 4 was not accepted; each maps to the error code
/// AWS clients know.
public enum SigV4Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// No signature at all (`Authorization` header or `X-Amz-Signature` query).
    case missing
    /// A signature whose parts are missing or malformed (`IncompleteSignature`).
    case incomplete(String)
    /// The access key is not known (`AuthFailure` / `InvalidAccessKeyId`).
    case unknownAccessKey(String)
    /// The request time is more than the allowed skew from ours, or a presigned URL expired
    /// (`RequestExpired`).
    case expired(String)
    /// The signature does not match (`SignatureDoesNotMatch`).
    case mismatch

    public var description: String {
        switch self {
        case .missing: return "Request is missing an AWS Signature Version 4 (Authorization header or X-Amz-Signature)."
        case .incomplete(let why): return "Incomplete signature: \(why)"
        case .unknownAccessKey(let key): return "The access key \(key) does not exist."
        case .expired(let why): return why
        case .mismatch: return "The request signature we calculated does not match the signature you provided."
        }
    }
}
