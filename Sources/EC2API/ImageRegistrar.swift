import ControlPlane
import Digest
import Foundation
import HTTPClientKit
import Images
import Logging
import NIOPosix
import NimbusClient
import NimbusCore
import PKI

/// RegisterImage's work: reads a bundle from the owner's object-store account with the owner's
/// own rights, checks and decrypts it (`BundleUnpacker`), and stores the image in the
/// registry container of the image service's account; the image goes `pending` → `available`,
/// or `failed` with the reason. Nothing is half-registered: the registry object is written
/// only once the whole bundle checked out.
public final class ImageRegistrar: Sendable {
    /// Where bundles and the registry live, and the limits.
    public struct Config: Sendable, Codable {
        /// The object store's tempauth URL (`…/auth/v1.0`).
        public var authURL: String
        /// The image service's own object-store login and key (the registry's account).
        public var registryUser: String
        public var registryKey: String
        public var registryContainer = "nimbus-images"
        /// The cloud's private key (PEM); bundles are encrypted for its certificate.
        public var cloudKeyPath: String
        /// Largest image accepted.
        public var maxImageSize: Int64 = 4 << 30
        /// Scratch space for images being checked.
        public var workDirectory: String

        public init(authURL: String, registryUser: String, registryKey: String, cloudKeyPath: String, workDirectory: String) {
            self.authURL = authURL
            self.registryUser = registryUser
            self.registryKey = registryKey
            self.cloudKeyPath = cloudKeyPath
            self.workDirectory = workDirectory
        }
    }

    public let config: Config
    let cloudKey: PrivateKey
    let store: any ControlPlaneStore
    let registry: SwiftClient
    let pool: NIOThreadPool
    let logger: Logger
    /// Registrations checked at once (each holds a part in memory and a scratch file).
    let limiter = AsyncLimiter(limit: 2)

    /// Largest part read (euca2ools writes 10 MiB parts); bigger objects are refused unread.
    static let maxPartSize = 64 << 20

    public init(config: Config, store: any ControlPlaneStore, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        guard let pem = FileManager.default.contents(atPath: config.cloudKeyPath) else {
            throw BundleError("cannot read the cloud's key \(config.cloudKeyPath) (make it with nimbus image keys)")
        }
        cloudKey = try PrivateKey(pem: Array(pem))
        try FileManager.default.createDirectory(atPath: config.workDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        registry = SwiftClient(credentials: .init(authURL: config.authURL, user: config.registryUser, key: config.registryKey), retries: 3,
                               group: MultiThreadedEventLoopGroup.singleton)
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit {
        registry.shutdown()
        pool.shutdownGracefully { _ in }
    }

    /// What a pending image's state reason says while this process registers it: the host and
    /// process, so a restart recovers only its own host's work (the store may be shared).
    static let instanceTag = "registering on \(ProcessInfo.processInfo.hostName) pid "

    var pendingReason: String { Self.instanceTag + String(getpid()) }

    /// Images left `pending` by a process of this host that is gone can never finish: they
    /// fail with a reason.
    public func recoverInterrupted() async throws {
        for image in try await store.images() where image.state == .pending {
            guard let reason = image.stateReason, reason.hasPrefix(Self.instanceTag),
                  let pid = Int32(reason.dropFirst(Self.instanceTag.count)), pid != getpid(), kill(pid, 0) != 0 else { continue }
            try await store.setImageState(image.id, .failed, reason: "registration was interrupted by a restart; register the bundle again", size: 0)
        }
    }

    /// Removes an image's stored copy (deregistered, or failed after it was written).
    func discard(_ id: String) async {
        _ = try? await registry.request("DELETE", SwiftClient.path(config.registryContainer, id))
    }

    /// `bucket/dir/prefix.manifest.xml` → container and object.
    static func split(_ location: String) throws(EC2Error) -> (container: String, object: String) {
        let trimmed = location.hasPrefix("/") ? String(location.dropFirst()) : location
        guard let slash = trimmed.firstIndex(of: "/"), slash != trimmed.startIndex, trimmed.index(after: slash) != trimmed.endIndex,
              trimmed.hasSuffix(".manifest.xml") else {
            throw EC2Error("InvalidParameterValue", "ImageLocation must be bucket/prefix.manifest.xml, not '\(location)'")
        }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
    }

    /// A client acting as the caller in their project's account.
    func ownerClient(_ caller: EC2Credential) async throws -> SwiftClient {
        let key = try await store.storageKey(user: caller.user, project: caller.project)
        return SwiftClient(credentials: .init(authURL: config.authURL, user: "\(caller.project):\(caller.user)", key: key), retries: 2,
                           group: MultiThreadedEventLoopGroup.singleton)
    }

    /// Reads and parses the manifest now, so RegisterImage can answer at once for a location
    /// the caller cannot read or a document that is no manifest.
    func fetchManifest(_ location: String, caller: EC2Credential) async throws -> BundleManifest {
        let (container, object) = try Self.split(location)
        let client = try await ownerClient(caller)
        defer { client.shutdown() }
        let r: BackendResponse
        do {
            // Read no more than a manifest may hold, whatever the object's size.
            r = try await client.request("GET", SwiftClient.path(container, object), headers: [("Range", "bytes=0-\(BundleManifest.maxSize)")])
        } catch {
            logger.warning("reading manifest \(location) for \(caller.project):\(caller.user) failed: \(error)")
            throw EC2Error("InvalidManifest", "The manifest \(location) cannot be read now; try again.")
        }
        switch r.status {
        case 200, 206: break
        case 401, 403: throw EC2Error("InvalidManifest", "You may not read \(location) (the bucket is not yours and not shared with you).")
        case 404: throw EC2Error("InvalidManifest", "The manifest \(location) does not exist.")
        default: throw EC2Error("InvalidManifest", "The manifest \(location) cannot be read (HTTP \(r.status)).")
        }
        do { return try BundleManifest.parse(Array(r.body.readableBytesView)) } catch {
            throw EC2Error("InvalidManifest", "\(location) is not a bundle manifest: \(error.reason)")
        }
    }

    /// Checks, decrypts and stores the image in the background; the record says how it went.
    func start(_ image: ImageRecord, manifest: BundleManifest, caller: EC2Credential) {
        Task {
            do {
                let size = try await self.limiter.run { try await self.register(image, manifest: manifest, caller: caller) }
                // Deregistered meanwhile: the stored image goes too.
                guard try await self.store.image(image.id) != nil else {
                    await self.discard(image.id)
                    return
                }
                try await self.store.setImageState(image.id, .available, reason: nil, size: size)
                self.logger.notice("image \(image.id) available (\(size) bytes) from \(image.location)")
            } catch {
                // Bundle problems are the user's to read; anything else stays in the log.
                let reason = (error as? BundleError)?.reason ?? (error as? EC2Error)?.message
                    ?? "the image service could not store the image; register the bundle again"
                self.logger.notice("image \(image.id) failed: \(error)")
                try? await self.store.setImageState(image.id, .failed, reason: reason, size: 0)
                await self.discard(image.id)
            }
        }
    }

    func register(_ image: ImageRecord, manifest: BundleManifest, caller: EC2Credential) async throws -> Int64 {
        let (container, object) = try Self.split(image.location)
        let directory = object.contains("/") ? String(object[...(object.lastIndex(of: "/") ?? object.startIndex)]) : ""
        let scratch = (config.workDirectory as NSString).appendingPathComponent("\(image.id).\(UUID().uuidString).img")
        defer { unlink(scratch) }
        let unpacker: UnpackerBox = try await pool.runIfActive { [config, cloudKey] in
            guard FileManager.default.createFile(atPath: scratch, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: scratch) else { throw BundleError("the image service cannot write its scratch file") }
            return UnpackerBox(try BundleUnpacker(manifest: manifest, cloudKey: cloudKey, maxImageSize: config.maxImageSize, output: handle), handle)
        }
        defer { try? unpacker.handle.close() }
        // Signed by the owner: with the cert.pem of one of their recent credentials bundles.
        let certificates = try await store.certificates(user: caller.user, project: caller.project)
        guard !certificates.isEmpty else {
            throw BundleError("\(caller.user) has no certificate in project \(caller.project) to check the bundle's signature with: "
                              + "bundle with the cert.pem and pk.pem of `nimbus manage project zipfile`")
        }
        let signedByOwner = certificates.reversed().contains { pem in
            guard let certificate = try? Certificate(pem: Array(pem.utf8)) else { return false }
            return (try? unpacker.unpacker.verifySignature(certificate)) != nil
        }
        guard signedByOwner else {
            throw BundleError("the manifest's signature does not match the owner's certificate (signed by another key, or altered)")
        }
        let client = try await ownerClient(caller)
        defer { client.shutdown() }
        for part in manifest.parts {
            // A part bigger than any bundler writes is refused without being held in memory.
            let r = try await client.request("GET", SwiftClient.path(container, directory + part.filename),
                                             headers: [("Range", "bytes=0-\(Self.maxPartSize)")])
            guard r.status == 200 || r.status == 206 else {
                throw BundleError(r.status == 404 ? "part \(part.filename) is missing from \(container)"
                                                  : "part \(part.filename) cannot be read (HTTP \(r.status))")
            }
            guard r.body.readableBytes <= Self.maxPartSize else {
                throw BundleError("part \(part.filename) is larger than \(Self.maxPartSize) bytes, more than a bundle part can be")
            }
            let bytes = Array(r.body.readableBytesView)
            try await pool.runIfActive { try unpacker.unpacker.consume(bytes) }
        }
        let (size, sha256) = try await pool.runIfActive { () throws -> (Int64, String) in
            let size = try unpacker.unpacker.finish()
            try unpacker.handle.synchronize()
            guard let sha256 = Digests.sha256Hex(ofFile: scratch) else { throw BundleError("the image service cannot read its scratch file") }
            return (size, sha256)
        }
        try await registry.ensureContainer(config.registryContainer)
        // Compute hosts check their copies against the SHA-256.
        _ = try await registry.putObject(config.registryContainer, image.id, file: scratch,
                                         headers: [("X-Object-Meta-Location", image.location), ("X-Object-Meta-Owner", image.project),
                                                   ("X-Object-Meta-Sha256", sha256)])
        return size
    }
}

/// The unpacker and its output, handed between this registration's steps on the pool.
// @unchecked Sendable: one registration task uses it, one step at a time (each step awaits the
// previous), so it is never touched from two threads at once.
final class UnpackerBox: @unchecked Sendable {
    let unpacker: BundleUnpacker
    let handle: FileHandle

    init(_ unpacker: BundleUnpacker, _ handle: FileHandle) {
        self.unpacker = unpacker
        self.handle = handle
    }
}
