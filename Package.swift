// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Nimbus",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "nimbus", targets: ["nimbus"]),
        .executable(name: "st", targets: ["st"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", exact: "0.9.20"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Already in the graph through postgres-nio: HTTPS for the client and the proxy costs no extra build.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // The proxy's /metrics (counters and histograms in Prometheus' text format).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C shims over system libraries (no build cost, see docs/swift-stack notes in design.md).
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CNimbusZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBzip2", providers: [.apt(["libbz2-dev"])]),
        .systemLibrary(name: "CRsync", providers: [.apt(["librsync-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),

        // Codecs
        .target(name: "Digest", dependencies: ["CCrypto"]),
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        .target(name: "Gzip", dependencies: ["CNimbusZlib", "CBzip2", "CDeflate"]),
        .target(name: "Tar"),
        .target(name: "Rsync", dependencies: ["CRsync"]),

        // AWS request signatures (SigV4), for the EC2 and S3 APIs
        .target(name: "AWSAuth", dependencies: ["Digest", "NimbusCore"]),

        // Keys, certificates, RSA and AES over libcrypto (EC2 key pairs and image bundles)
        .target(name: "PKI", dependencies: ["CCrypto", "Digest"]),
        // EC2 image bundles (euca2ools format): writer, reader, manifest, ids
        .target(name: "Images", dependencies: ["PKI", "Digest", "Gzip", "Tar", "NimbusCore"]),

        // Core
        .target(name: "NimbusCore", dependencies: ["Digest", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Ring", dependencies: ["NimbusCore", "Digest"]),

        // HTTP
        .target(name: "HTTPServerKit", dependencies: [
            "NimbusCore",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPClientKit", dependencies: [
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // Storage
        .systemLibrary(name: "CLinuxIO"),
        .target(name: "ObjectStore", dependencies: ["NimbusCore", "Digest", "CLinuxIO", "CNimbusZlib"]),
        .target(name: "DBBroker", dependencies: ["NimbusCore", "SQLite"]),

        // Servers
        .target(name: "StorageServer", dependencies: [
            "NimbusCore", "ObjectStore", "DBBroker", "SQLite", "Digest", "HTTPServerKit", "HTTPClientKit", "Ring",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Proxy", dependencies: [
            "NimbusCore", "Ring", "HTTPServerKit", "HTTPClientKit", "Digest", "Gzip", "Tar", "AWSAuth",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // The client library (st, backups, images) and the st command line
        .target(name: "NimbusClient", dependencies: [
            "NimbusCore", "HTTPClientKit", "Digest",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "STCommands", dependencies: [
            "NimbusClient", "NimbusCore", "HTTPClientKit",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "st", dependencies: ["STCommands"]),

        // duplicity-compatible backups
        .target(name: "Backup", dependencies: ["Digest", "Gzip", "Tar", "Rsync", "HTTPClientKit", "NimbusClient", "NimbusCore"]),

        // The control plane's state: users, projects, EC2 credentials (SQLite engine)
        .target(name: "ControlPlane", dependencies: [
            "Digest", "NimbusCore", "PKI", "SQLite",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // The EC2 Query API (SigV4 against the control plane's credentials)
        .target(name: "EC2API", dependencies: [
            "AWSAuth", "Compute", "ControlPlane", "Digest", "HTTPServerKit", "HTTPClientKit", "Images", "CloudNetwork", "NimbusClient", "NimbusCore", "PKI",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Compute: the hypervisor layer over libvirt, instance domains, flavors, the scheduler,
        // the image cache and the compute worker
        .target(name: "Compute", dependencies: [
            "CLibvirt", "ControlPlane", "Digest", "HTTPServerKit", "NimbusClient", "NimbusCore",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // CloudNetwork (not "Network": that name is Apple's framework, and dependencies such as
        // postgres-nio test `#if canImport(Network)` — a module of ours by that name broke their
        // build on a clean checkout): fixed addresses, dnsmasq hosts and leases, security groups and floating
        // addresses as iptables rules
        .target(name: "CloudNetwork", dependencies: [
            "ControlPlane", "Digest", "HTTPServerKit", "NimbusCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Wiring of whole clusters (all-in-one) shared by the executable and the tests
        .target(name: "Cluster", dependencies: [
            "NimbusCore", "Ring", "StorageServer", "Proxy", "Digest", "HTTPServerKit", "ControlPlane", "EC2API", "Compute", "CloudNetwork",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Fuzz targets over the parsers of client input (scripts/fuzz builds it with libFuzzer).
        .executableTarget(name: "nimbus-fuzz", dependencies: [
            "AWSAuth", "Backup", "Gzip", "HTTPServerKit", "Images", "NimbusCore", "PKI", "Proxy", "StorageServer", "Tar",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // Executable: thin
        .executableTarget(name: "nimbus", dependencies: [
            "NimbusCore", "ControlPlane", "EC2API", "Compute", "CloudNetwork", "Ring", "StorageServer", "Proxy", "Cluster", "HTTPClientKit", "STCommands", "Backup",
            "Images", "PKI", "NimbusClient", "AWSAuth", "Digest",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Tests
        .testTarget(name: "DigestTests", dependencies: ["Digest"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip"]),
        .testTarget(name: "TarTests", dependencies: ["Tar"]),
        .testTarget(name: "BackupTests", dependencies: ["Backup", "Rsync", "Tar", "Gzip", "NimbusClient", "NimbusCore"],
                    exclude: ["Vectors"]),  // read from the source tree by path (#filePath)
        .testTarget(name: "NimbusCoreTests", dependencies: ["NimbusCore"]),
        .testTarget(name: "ComputeTests", dependencies: [
            "Compute", "ControlPlane", "Digest", "HTTPClientKit", "NimbusCore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "CloudNetworkTests", dependencies: [
            "CloudNetwork", "HTTPServerKit", "HTTPClientKit", "NimbusCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PKITests", dependencies: ["PKI", "Digest"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "PKI", "Digest"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RingTests", dependencies: ["Ring"]),
        .testTarget(name: "ControlPlaneTests", dependencies: ["ControlPlane", "Digest", "NimbusCore"]),
        .testTarget(name: "EC2APITests", dependencies: [
            "EC2API", "AWSAuth", "ControlPlane", "Digest", "HTTPClientKit", "NimbusCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "AWSAuthTests", dependencies: ["AWSAuth", "Digest"], resources: [.copy("Vectors")]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore"]),
        .testTarget(name: "DBBrokerTests", dependencies: ["DBBroker"]),
        .testTarget(name: "HTTPKitTests", dependencies: [
            "HTTPServerKit", "HTTPClientKit", "NimbusCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ProxyTests", dependencies: [
            "Proxy", "HTTPServerKit", "HTTPClientKit", "NimbusCore", "Ring", "AWSAuth", "Digest",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "NimbusClientTests", dependencies: [
            "NimbusClient", "HTTPClientKit", "HTTPServerKit", "NimbusCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ClusterTests", dependencies: [
            "NimbusCore", "Ring", "StorageServer", "Proxy", "HTTPClientKit", "Cluster", "Digest", "NimbusClient", "AWSAuth", "ObjectStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
