/// What the key, certificate and cipher operations refuse, with a one-line reason.
public enum PKIError: Error, Equatable, CustomStringConvertible {
    /// Input that is not what it claims to be (bad PEM, wrong key type, bad padding, …).
    case invalid(String)
    /// libcrypto failed where the input was fine (out of memory and the like).
    case crypto(String)

    public var description: String {
        switch self {
        case .invalid(let why): return why
        case .crypto(let what): return "libcrypto failed: \(what)"
        }
    }
}
