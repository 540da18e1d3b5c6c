import Digest
import Foundation
import Gzip
import PKI
import Tar

/// Makes an euca2ools bundle from an image file, streaming: tar (one member named after the
/// file) → SHA-1 of the tar stream → gzip → AES-128-CBC with a random key and IV → parts of
/// `partSize` bytes (`<prefix>.part.N`) → `<prefix>.manifest.xml` with the key and IV
/// encrypted for the cloud's and the user's certificates and signed with the user's key.
public struct BundleWriter {
    public var architecture = "x86_64"
    public var kernelID: String?
    public var ramdiskID: String?
    /// Derived from kernel/ramdisk `true` when nil.
    public var type: ImageType?
    public var partSize = 10 * 1024 * 1024
    /// The owner's account id, written as `<user>`.
    public var user: String
    public let userKey: PrivateKey
    public let userCertificate: Certificate
    public let cloudCertificate: Certificate

    public init(user: String, userKey: PrivateKey, userCertificate: Certificate, cloudCertificate: Certificate) {
        self.user = user
        self.userKey = userKey
        self.userCertificate = userCertificate
        self.cloudCertificate = cloudCertificate
    }

    /// The image type this bundle declares.
    public var resolvedType: ImageType {
        if let type { return type }
        if kernelID == "true" { return .kernel }
        if ramdiskID == "true" { return .ramdisk }
        return .machine
    }

    /// Bundles `imagePath` into `directory`; returns the manifest's path.
    /// - Parameter progress: bytes of the image read so far, and its size.
    public func bundle(imagePath: String, prefix: String? = nil, into directory: String,
                       progress: (Int64, Int64) -> Void = { _, _ in }) throws -> String {
        guard partSize >= 1024 else { throw BundleError("parts must hold at least 1024 bytes") }
        guard let input = FileHandle(forReadingAtPath: imagePath) else { throw BundleError("cannot read \(imagePath)") }
        defer { try? input.close() }
        let attributes = try FileManager.default.attributesOfItem(atPath: imagePath)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let name = (imagePath as NSString).lastPathComponent
        let prefix = prefix ?? name
        guard !prefix.isEmpty, !prefix.contains("/") else { throw BundleError("the prefix must be a plain name") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let key = Digests.randomBytes(16), iv = Digests.randomBytes(16)
        let cipher = try AESCBC(key: key, iv: iv, encrypt: true)
        let gzip = try GzipDeflater(level: 6)
        var tarDigest = MessageDigest(.sha1)
        let parts = PartSink(directory: directory, prefix: prefix, partSize: partSize)

        func emitTar(_ bytes: [UInt8]) throws {
            tarDigest.update(bytes)
            try parts.write(try cipher.update(try gzip.feed(bytes)))
        }
        let header = TarWriter.header(for: TarEntry(path: Array(name.utf8), mode: 0o644, size: size, mtime: mtime.rounded(.down)))
        try emitTar(header)
        var done: Int64 = 0
        while true {
            let chunk = try input.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            done += Int64(chunk.count)
            guard done <= size else { throw BundleError("\(imagePath) grew while it was being bundled") }
            try emitTar(Array(chunk))
            progress(done, size)
        }
        guard done == size else { throw BundleError("\(imagePath) shrank while it was being bundled") }
        // Member padding, the two end blocks, and padding to tar's 10240-byte record as Python's tarfile writes.
        var tail = TarWriter.padding(for: size) + [UInt8](repeating: 0, count: 1024)
        let written = Int64(header.count) + size + Int64(tail.count)
        if written % 10240 != 0 { tail += [UInt8](repeating: 0, count: Int(10240 - written % 10240)) }
        try emitTar(tail)
        try parts.write(try cipher.update(try gzip.finish()))
        try parts.write(try cipher.finish())
        try parts.close()

        let cloudKey = try cloudCertificate.publicKey(), ownKey = try userCertificate.publicKey()
        let keyHex = Array(Hex.encode(key).utf8), ivHex = Array(Hex.encode(iv).utf8)
        let keys = (ec2Key: Hex.encode(try cloudKey.encryptPKCS1(keyHex)), userKey: Hex.encode(try ownKey.encryptPKCS1(keyHex)),
                    ec2IV: Hex.encode(try cloudKey.encryptPKCS1(ivHex)), userIV: Hex.encode(try ownKey.encryptPKCS1(ivHex)))
        let signed = BundleManifest.signedPart(
            architecture: architecture, kernelID: kernelID, ramdiskID: ramdiskID, name: prefix, user: user, type: resolvedType,
            digest: tarDigest.finalizeHexAndReset(), size: size, bundledSize: parts.total, keys: keys, parts: parts.written)
        let signature = Hex.encode(try userKey.signSHA1(Array(signed.utf8)))
        let path = (directory as NSString).appendingPathComponent("\(prefix).manifest.xml")
        try Data(BundleManifest.document(signedPart: signed, signature: signature).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Cuts the encrypted stream into part files, hashing each.
final class PartSink {
    let directory: String
    let prefix: String
    let partSize: Int
    var written: [BundleManifest.Part] = []
    var total: Int64 = 0
    private var current: FileHandle?
    private var currentBytes = 0
    private var digest = MessageDigest(.sha1)

    init(directory: String, prefix: String, partSize: Int) {
        self.directory = directory
        self.prefix = prefix
        self.partSize = partSize
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            if current == nil || currentBytes == partSize { try next() }
            let n = min(partSize - currentBytes, bytes.count - offset)
            let slice = bytes[offset..<(offset + n)]
            current?.write(Data(slice))
            digest.update(slice)
            currentBytes += n
            total += Int64(n)
            offset += n
        }
    }

    private func next() throws {
        try finishPart()
        let name = "\(prefix).part.\(written.count)"
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BundleError("cannot write \(path)")
        }
        current = handle
        currentBytes = 0
        written.append(BundleManifest.Part(filename: name, digest: ""))
    }

    private func finishPart() throws {
        guard let handle = current else { return }
        try handle.close()
        written[written.count - 1].digest = digest.finalizeHexAndReset()
        current = nil
    }

    func close() throws { try finishPart() }
}
