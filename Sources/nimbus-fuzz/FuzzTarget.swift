@testable import AWSAuth
@testable import Backup
import Foundation
@testable import Gzip
@testable import HTTPServerKit
@testable import Images
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NimbusCore
import PKI
@testable import Proxy
@testable import StorageServer
@testable import Tar

/// The parsers that read bytes a client (or a backup target) controls, each as a fuzz target:
/// any input must be refused with an error, never trap, hang or grow without bound.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// The request-head normalizer in front of NIO's HTTP/1 parser, as the server runs them.
    case http
    case tar
    case gzip
    case bzip2
    /// SLO manifest input (`?multipart-manifest=put` bodies) and stored manifests.
    case sloManifest = "slo-manifest"
    /// duplicity's manifest files.
    case duplicityManifest = "duplicity-manifest"
    /// Listing query strings (`limit`, `marker`, `prefix`, `delimiter`, `path`, `format`…).
    case listingQuery = "listing-query"
    /// `Range` headers against an object length.
    case range
    /// Container ACLs with referrer rules, and account ACLs.
    case acl
    /// EC2 bundle manifests (RegisterImage reads users' manifests).
    case bundleManifest = "bundle-manifest"
    /// OpenSSH public keys (ImportKeyPair).
    case sshPublicKey = "ssh-public-key"
    /// AWS signatures: SigV4 headers and presigned queries, SigV2 parameters, form bodies.
    case awsSignature = "aws-signature"

    func run(_ data: UnsafeRawBufferPointer) {
        let bytes = Array(data)
        switch self {
        case .http: Self.http(bytes)
        case .tar:
            let reader = TarReader()
            var i = 0
            // Feed in uneven pieces, as network reads arrive.
            while i < bytes.count {
                let n = min(bytes.count - i, 1 + Int(bytes[i] % 97) * 7)
                guard (try? reader.feed(bytes[i..<(i + n)])) != nil else { return }
                i += n
            }
            _ = try? reader.finish()
        case .gzip:
            guard let inflater = try? GzipInflater() else { return }
            Self.inflate(bytes) { try inflater.feed($0, maxOutput: 1 << 20) } pending: { inflater.hasPendingOutput }
        case .bzip2:
            guard let inflater = try? Bzip2Inflater() else { return }
            Self.inflate(bytes) { try inflater.feed($0, maxOutput: 1 << 20) } pending: { inflater.hasPendingOutput }
        case .sloManifest:
            _ = try? SLOManifestInput(Data(bytes), manifestPath: SwiftPath(account: "AUTH_a", container: "c", object: "m"))
            if let stored = try? SLOManifest(stored: Data(bytes)) {
                _ = try? stored.totalLength()
                _ = stored.etag
                _ = stored.raw.encoded
            }
        case .duplicityManifest:
            _ = try? Manifest(parsing: String(decoding: bytes, as: UTF8.self))
        case .listingQuery:
            let text = String(decoding: bytes, as: UTF8.self)
            if let items = try? PercentCoding.parseQuery(text) {
                _ = try? ListingRequest.parse(items: items, accept: items.first?.1)
            }
        case .range:
            guard bytes.count >= 8 else { return }
            let length = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
            _ = RangeSpec.resolve(String(decoding: bytes.dropFirst(8), as: UTF8.self), length: length)
        case .acl:
            let text = String(decoding: bytes, as: UTF8.self)
            if let acl = try? ContainerACL(text) {
                _ = acl.referrerAllowed(text)
                _ = acl.referrerAllowed("http://\(text)/")
            }
            _ = try? AccountACL.normalize(text)
            _ = AccountACL(stored: text)
        case .bundleManifest:
            if let manifest = try? BundleManifest.parse(bytes) {
                _ = manifest.parts.count
                _ = ImageID(manifest.kernelID ?? "")
            }
        case .sshPublicKey:
            if let (key, blob) = try? SSHKeys.parsePublicLine(String(decoding: bytes, as: UTF8.self)) {
                _ = try? KeyFingerprint.imported(key, blob: blob)
            }
        case .awsSignature:
            let text = String(decoding: bytes, as: UTF8.self)
            let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            let header = lines.first ?? "", query = lines.count > 1 ? lines[1] : "", form = lines.count > 2 ? lines[2] : ""
            let request = SignedRequest(method: "POST", path: "/", query: query,
                                        headers: [("Authorization", header), ("X-Amz-Date", "20261125T091811Z"), ("Host", "h")])
            if let auth = try? SigV4.authorization(of: request) {
                _ = SigV4.canonicalRequest(request, auth: auth, payloadHash: "", encodePath: true)
            }
            let unsigned = SignedRequest(method: "GET", path: "/", query: query, headers: [])
            _ = try? SigV4.authorization(of: unsigned)
            let pairs = FormDecoding.pairs(form) + FormDecoding.pairs(query)
            if SigV2.isSigned(pairs), let auth = try? SigV2.authorization(pairs) {
                try? SigV2.verify(method: "GET", host: "h", path: "/", params: pairs, auth: auth, secret: "s", now: 0)
            }
        }
    }

    /// Feeds compressed bytes in pieces, taking output at most `maxOutput` at a time.
    private static func inflate(_ bytes: [UInt8], _ feed: (UnsafeRawBufferPointer) throws -> (output: [UInt8], consumed: Int),
                                pending: () -> Bool) {
        var rest = bytes[...]
        var produced = 0
        while !rest.isEmpty || pending() {
            guard let (out, consumed) = try? rest.withUnsafeBytes({ try feed($0) }) else { return }
            if out.isEmpty && consumed == 0 { return }
            rest = rest.dropFirst(consumed)
            produced += out.count
            // A bomb is fine as long as it comes out piece by piece; stop after 64 MiB.
            if produced > 64 << 20 { return }
        }
    }

    private static func http(_ bytes: [UInt8]) {
        let channel = EmbeddedChannel()
        let start = RequestStart()
        do {
            try channel.pipeline.syncOperations.addHandler(RequestHeadNormalizer(requestStart: start))
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
            var i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, 1 + Int(bytes[i] % 61) * 5)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[i..<(i + n)]))
                while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
                    if case .end = part { start.arm() }
                }
                i += n
            }
        } catch {
            // Refused input is the expected outcome for most of it.
        }
        _ = try? channel.finish()
    }
}
