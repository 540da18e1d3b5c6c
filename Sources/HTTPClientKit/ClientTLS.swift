#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOSSL

/// How a client checks the servers it talks HTTPS to: the system's trust store by default,
/// or one CA bundle (`--os-cacert`), or no check at all (`--insecure`), as python-swiftclient
/// offers them.
public struct ClientTLS: Sendable, Equatable {
    /// A PEM file of the certificates to trust instead of the system's.
    public var caFile: String?
    /// Accept any certificate (encryption without authentication of the server).
    public var insecure: Bool

    public init(caFile: String? = nil, insecure: Bool = false) {
        self.caFile = caFile
        self.insecure = insecure
    }

    func makeContext() throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        if insecure {
            config.certificateVerification = .none
        } else if let caFile {
            guard access(caFile, R_OK) == 0 else {
                throw TLSSetupError(description: "cannot read the CA file \(caFile) (\(String(cString: strerror(errno)).lowercased()))")
            }
            config.trustRoots = .file(caFile)
        }
        do {
            // Building the context reads the CA file: a bad path fails here, once, in words.
            return try NIOSSLContext(configuration: config)
        } catch {
            throw TLSSetupError(description: "cannot use the CA certificates \(caFile ?? "of the system"): \(error)")
        }
    }
}

/// The TLS settings could not be turned into a context (unreadable or bad CA file).
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The client's TLS context, made on the first HTTPS connection and shared by all after it.
final class TLSContextCache: Sendable {
    let settings: ClientTLS
    private let context = NIOLockedValueBox<NIOSSLContext?>(nil)

    init(_ settings: ClientTLS) { self.settings = settings }

    func get() throws -> NIOSSLContext {
        try context.withLockedValue { cached in
            if let cached { return cached }
            let made = try settings.makeContext()
            cached = made
            return made
        }
    }
}
