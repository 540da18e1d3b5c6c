import NIOSSL

/// The certificate a server could not use, in words (path and reason).
public struct TLSConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension HTTPServerOptions {
    /// The server's TLS context from its certificate and key files (nil: plain HTTP).
    func tlsContext() throws -> NIOSSLContext? {
        guard let certFile = tlsCertificateFile, let keyFile = tlsKeyFile else {
            if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
                throw TLSConfigurationError(description: "HTTPS needs both a certificate and a key file")
            }
            return nil
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certFile).map { NIOSSLCertificateSource.certificate($0) }
            guard !chain.isEmpty else { throw TLSConfigurationError(description: "no certificate in \(certFile)") }
            let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            let config = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: config)
        } catch let error as TLSConfigurationError {
            throw error
        } catch {
            throw TLSConfigurationError(description: "cannot use the certificate \(certFile) and key \(keyFile): \(error)")
        }
    }
}
