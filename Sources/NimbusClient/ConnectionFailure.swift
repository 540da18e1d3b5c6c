import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A failed exchange with a server (no HTTP answer), in words a user can act on, and whether
/// trying again could help: a refused or reset connection may (the server restarting), an
/// untrusted certificate or a plain-HTTP server on an https:// URL never does.
struct ConnectionFailure {
    /// What happened, e.g. `cannot connect to 127.0.0.1:8091 (connection refused)`.
    let reason: String
    let retryable: Bool
    /// Advice that replaces the caller's generic hint (TLS problems have their own).
    let advice: String?

    init(_ error: any Error, endpoint: SwiftClient.Endpoint) {
        let at = endpoint.authority
        switch error {
        case let e as NIOConnectionError:
            let errors = e.connectionErrors.map(\.error)
            if errors.isEmpty {
                reason = "cannot resolve \(endpoint.host) (no such host)"
                retryable = false
                advice = "check the host name in the URL"
            } else if errors.allSatisfy({ ($0 as? IOError)?.errnoCode == ECONNREFUSED }) {
                reason = "cannot connect to \(at) (connection refused)"
                retryable = true
                advice = nil
            } else if errors.contains(where: { if case ChannelError.connectTimeout = $0 { return true } else { return false } }) {
                reason = "cannot connect to \(at) (no answer within the connect timeout)"
                retryable = true
                advice = nil
            } else {
                reason = "cannot connect to \(at) (\(Self.words(errors[0])))"
                retryable = true
                advice = nil
            }
        case ChannelError.connectTimeout:
            reason = "cannot connect to \(at) (no answer within the connect timeout)"
            retryable = true
            advice = nil
        case let e as TLSSetupError:
            reason = e.description
            retryable = false
            advice = "check --os-cacert"
        case let e as NIOSSLExtraError where String(describing: e).contains("hostname"):
            reason = "the TLS certificate of \(at) is not for \(endpoint.host)"
            retryable = false
            advice = "use the name the certificate was made for, or --insecure to skip the check"
        case let e as NIOSSLError:
            let text = String(describing: e)
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                reason = "the TLS certificate of \(at) is not trusted"
                advice = "give the CA that signed it with --os-cacert FILE, or --insecure to skip the check"
            } else if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG") || text.contains("HTTP_REQUEST") {
                reason = "\(at) does not speak HTTPS"
                advice = "use an http:// URL"
            } else if case .uncleanShutdown = e {
                reason = "\(at) closed the TLS connection abruptly"
                advice = endpoint.secure ? "does it speak HTTPS? try http://" : nil
            } else {
                reason = "TLS with \(at) failed (\(text))"
                advice = nil
            }
            retryable = false
        case is HTTPParserError:
            reason = "\(at) did not answer in HTTP"
            retryable = false
            advice = endpoint.secure ? nil : "does it speak HTTPS? try https://"
        case let e as IOError:
            reason = "connection to \(at) failed (\(Self.words(e)))"
            retryable = true
            advice = nil
        case is BackendError, ChannelError.ioOnClosedChannel, ChannelError.outputClosed, ChannelError.eof:
            reason = "\(at) closed the connection without an answer"
            retryable = true
            advice = endpoint.secure ? nil : "is the server running? does it speak HTTPS only (try https://)?"
        default:
            reason = "\(at): \(error)"
            retryable = true
            advice = nil
        }
    }

    /// The final message: the reason, how long and how often it was tried, and what to check.
    func message(attempts: Int, since start: ContinuousClock.Instant, hint: String) -> String {
        var text = reason
        if attempts > 1 {
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            text += " after \(attempts) attempts in \(String(format: "%.1f", seconds)) s"
        }
        return text + " — " + (advice ?? hint)
    }

    /// `connection refused`, `connection reset by peer`: strerror for I/O errors.
    static func words(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return "\(error)"
    }
}
