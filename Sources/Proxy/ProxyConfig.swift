import HTTPServerKit
import NimbusCore

/// A tempauth user: `user_<account>_<user> = <key> [groups…]` in OpenStack Swift's config.
public struct TempAuthUser: Sendable, Codable, Equatable {
    public var account: String
    public var user: String
    public var key: String
    /// Groups such as `.admin`, `.reseller_admin` or any name used in ACLs.
    public var groups: [String]
    /// Reseller prefix of the user's storage account (`AUTH_` by default).
    public var resellerPrefix: String

    enum CodingKeys: String, CodingKey { case account, user, key, groups, resellerPrefix }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        account = try c.decode(String.self, forKey: .account)
        user = try c.decode(String.self, forKey: .user)
        key = try c.decode(String.self, forKey: .key)
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        resellerPrefix = try c.decodeIfPresent(String.self, forKey: .resellerPrefix) ?? "AUTH_"
    }

    public init(account: String, user: String, key: String, groups: [String] = [], resellerPrefix: String = "AUTH_") {
        self.account = account
        self.user = user
        self.key = key
        self.groups = groups
        self.resellerPrefix = resellerPrefix
    }

    /// The storage account this user's token addresses, e.g. `AUTH_test`.
    public var storageAccount: String { resellerPrefix + account }
}

/// Settings of a proxy server.
public struct ProxyConfig: Sendable, Codable {
    public var host: String
    public var port: Int
    /// Directory with the three ring files.
    public var ringDirectory: String
    public var users: [TempAuthUser]
    /// Seconds a token stays valid.
    public var tokenLife: Double = 86_400
    /// Seconds to wait for a backend's response head.
    public var nodeTimeout: Double = 10
    /// Seconds to wait for a backend connection.
    public var connectTimeout: Double = 0.5
    /// Seconds a container's existence is cached.
    public var containerCacheTTL: Double = 10
    public var constraints: Constraints = Constraints()
    /// Scheme and host used in storage URLs when the request has no Host header.
    public var publicURL: String?
    /// Seconds between checks of the ring files for changes.
    public var ringCheckInterval: Double = 5
    /// Client timeout, connection limit and largest request body of the proxy's HTTP server
    /// (nil `maxRequestBody`: the object size limit).
    public var server = HTTPServerOptions()
    /// How fast large objects' segments are read (Swift's slo/dlo rate limits).
    public var largeObjects = LargeObjectLimits()
    /// The control plane whose project members log in as `project:user` (nil: config users only).
    public var controlPlane: ControlPlaneLocation?
    /// Keystone, whose tokens the proxy then accepts beside tempauth's.
    public var keystone: KeystoneAuthConfig?
    /// A `proxy-server.conf`-style file whose `[pipeline:main]` and `[filter:NAME]` sections
    /// set the stages (nil: Swift's default pipeline, `PipelineConfig.defaultPipeline`).
    public var pipelineFile: String?

    public init(host: String, port: Int, ringDirectory: String, users: [TempAuthUser]) {
        self.host = host
        self.port = port
        self.ringDirectory = ringDirectory
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case host, port, ringDirectory, users, tokenLife, nodeTimeout, connectTimeout, containerCacheTTL, constraints, publicURL
        case ringCheckInterval, largeObjects, server, controlPlane, keystone, pipelineFile
    }

    /// Decodes a config file; everything but host, port, ringDirectory and users is optional.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        ringDirectory = try c.decode(String.self, forKey: .ringDirectory)
        users = try c.decode([TempAuthUser].self, forKey: .users)
        tokenLife = try c.decodeIfPresent(Double.self, forKey: .tokenLife) ?? tokenLife
        nodeTimeout = try c.decodeIfPresent(Double.self, forKey: .nodeTimeout) ?? nodeTimeout
        connectTimeout = try c.decodeIfPresent(Double.self, forKey: .connectTimeout) ?? connectTimeout
        containerCacheTTL = try c.decodeIfPresent(Double.self, forKey: .containerCacheTTL) ?? containerCacheTTL
        constraints = try c.decodeIfPresent(Constraints.self, forKey: .constraints) ?? constraints
        publicURL = try c.decodeIfPresent(String.self, forKey: .publicURL)
        ringCheckInterval = try c.decodeIfPresent(Double.self, forKey: .ringCheckInterval) ?? ringCheckInterval
        largeObjects = try c.decodeIfPresent(LargeObjectLimits.self, forKey: .largeObjects) ?? largeObjects
        server = try c.decodeIfPresent(HTTPServerOptions.self, forKey: .server) ?? server
        controlPlane = try c.decodeIfPresent(ControlPlaneLocation.self, forKey: .controlPlane)
        keystone = try c.decodeIfPresent(KeystoneAuthConfig.self, forKey: .keystone)
        pipelineFile = try c.decodeIfPresent(String.self, forKey: .pipelineFile)
    }
}

/// Swift's defaults for reading large objects: after the first `rateLimitAfterSegment`
/// segments, segments smaller than `rateLimitUnderSize` are fetched at most
/// `rateLimitSegmentsPerSecond` a second (an SLO of a million tiny segments cannot make the
/// proxy hammer the object servers), and one GET may last `maxGetTime` seconds.
public struct LargeObjectLimits: Sendable, Codable {
    public var rateLimitAfterSegment = 10
    public var rateLimitSegmentsPerSecond = 1.0
    public var rateLimitUnderSize: Int64 = 1024 * 1024
    public var maxGetTime: Double = 86_400

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rateLimitAfterSegment = try c.decodeIfPresent(Int.self, forKey: .rateLimitAfterSegment) ?? rateLimitAfterSegment
        rateLimitSegmentsPerSecond = try c.decodeIfPresent(Double.self, forKey: .rateLimitSegmentsPerSecond) ?? rateLimitSegmentsPerSecond
        rateLimitUnderSize = try c.decodeIfPresent(Int64.self, forKey: .rateLimitUnderSize) ?? rateLimitUnderSize
        maxGetTime = try c.decodeIfPresent(Double.self, forKey: .maxGetTime) ?? maxGetTime
    }
}
