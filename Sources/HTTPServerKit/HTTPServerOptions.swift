/// Limits a server keeps against slow, greedy or broken clients (Swift's `client_timeout`,
/// `max_clients`, and the object size limit applied as soon as a head arrives).
public struct HTTPServerOptions: Sendable, Codable, Equatable {
    /// Seconds a client may keep us waiting for bytes it owes (idle keep-alive, a head, the
    /// next piece of a body) before its connection is closed.
    public var clientTimeout: Double = 60
    /// Open connections served at once; past it a client gets 503 and a closed connection.
    public var maxConnections: Int = 1024
    /// A declared `Content-Length` above this is answered 413 at once (nil: no limit).
    public var maxRequestBody: Int64?
    /// Seconds requests in flight may take to finish after a shutdown began; then their
    /// connections are closed.
    public var drainTimeout: Double = 30
    /// PEM certificate chain and private key: set both and the server speaks HTTPS only.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Whether the server writes the access line of each request; off when the handler writes
    /// its own (the proxy's `proxy-logging` stage).
    public var accessLog = true

    /// True when the server speaks HTTPS.
    public var isTLS: Bool { tlsCertificateFile != nil && tlsKeyFile != nil }

    public init(clientTimeout: Double = 60, maxConnections: Int = 1024, maxRequestBody: Int64? = nil, drainTimeout: Double = 30) {
        self.drainTimeout = drainTimeout
        self.clientTimeout = clientTimeout
        self.maxConnections = maxConnections
        self.maxRequestBody = maxRequestBody
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clientTimeout = try c.decodeIfPresent(Double.self, forKey: .clientTimeout) ?? clientTimeout
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
        maxRequestBody = try c.decodeIfPresent(Int64.self, forKey: .maxRequestBody)
        drainTimeout = try c.decodeIfPresent(Double.self, forKey: .drainTimeout) ?? drainTimeout
        tlsCertificateFile = try c.decodeIfPresent(String.self, forKey: .tlsCertificateFile)
        tlsKeyFile = try c.decodeIfPresent(String.self, forKey: .tlsKeyFile)
        accessLog = try c.decodeIfPresent(Bool.self, forKey: .accessLog) ?? accessLog
    }
}
