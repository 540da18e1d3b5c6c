import Digest
import Foundation
import Gzip
import PKI
import Tar

/// Reads a bundle back into its image, part by part as they arrive, checking everything a
/// cloud must check before it trusts an upload: the signature (when the owner's certificate is
/// known), each part's SHA-1 in manifest order, the AES padding, the gzip stream, the tar
/// stream's SHA-1 against the manifest, a single regular member of the declared size, and a
/// size limit — refusing with a reason a user understands at the first thing wrong.
/// Blocking (it writes the image to a file): callers run it on a thread pool.
public final class BundleUnpacker {
    public let manifest: BundleManifest
    let maxImageSize: Int64
    let output: FileHandle
    private let cipher: AESCBC
    private let inflater: GzipInflater
    private let tar = TarReader()
    private var tarDigest = MessageDigest(.sha1)
    private var nextPart = 0
    private var members = 0
    private var imageBytes: Int64 = 0
    /// Bytes of the tar stream so far: the image, its headers and padding, nothing more.
    private var tarBytes: Int64 = 0

    /// - Parameters:
    ///   - cloudKey: the cloud's private key (the manifest's `ec2_encrypted_*` are for it).
    ///   - maxImageSize: the largest image accepted.
    ///   - output: where the image's bytes go.
    public init(manifest: BundleManifest, cloudKey: PrivateKey, maxImageSize: Int64, output: FileHandle) throws(BundleError) {
        self.manifest = manifest
        self.maxImageSize = maxImageSize
        self.output = output
        guard manifest.size <= maxImageSize else {
            throw BundleError("the image is \(manifest.size) bytes, over this cloud's limit of \(maxImageSize)")
        }
        func decrypt(_ hex: String, _ what: String) throws(BundleError) -> [UInt8] {
            guard let sealed = Hex.decode(hex), let clear = try? cloudKey.decryptPKCS1(sealed),
                  clear.count == 32, let raw = Hex.decode(String(decoding: clear, as: UTF8.self)) else {
                throw BundleError("the bundle's \(what) is not encrypted for this cloud's certificate (bundle it with the cloud's cacert.pem)")
            }
            return raw
        }
        do {
            cipher = try AESCBC(key: try decrypt(manifest.ec2EncryptedKey, "key"), iv: try decrypt(manifest.ec2EncryptedIV, "IV"), encrypt: false)
            inflater = try GzipInflater()
        } catch let e as BundleError {
            throw e
        } catch {
            throw BundleError("cannot set up decryption: \(error)")
        }
    }

    /// Checks the manifest's signature with the owner's certificate.
    public func verifySignature(_ certificate: Certificate) throws(BundleError) {
        guard let signature = Hex.decode(manifest.signature),
              let key = try? certificate.publicKey(), key.verifySHA1(signature, of: manifest.signedBytes) else {
            throw BundleError("the manifest's signature does not match the owner's certificate (signed by another key, or altered)")
        }
    }

    /// Feeds the next part (parts must come in index order).
    public func consume(_ bytes: [UInt8]) throws(BundleError) {
        guard nextPart < manifest.parts.count else { throw BundleError("more parts than the manifest lists") }
        let part = manifest.parts[nextPart]
        let digest = Digests.digest(.sha1, bytes)
        guard Hex.encode(digest) == part.digest else {
            throw BundleError("part \(part.filename) does not match its digest in the manifest (damaged, truncated or replaced)")
        }
        nextPart += 1
        do {
            try inflate(try cipher.update(bytes))
            if nextPart == manifest.parts.count { try inflate(try cipher.finish()) }
        } catch let e as BundleError {
            throw e
        } catch {
            throw BundleError("part \(part.filename) cannot be decrypted: \(error)")
        }
    }

    private func inflate(_ compressed: [UInt8]) throws {
        var rest = compressed[...]
        repeat {
            let (out, used) = try rest.withUnsafeBytes { raw in
                do { return try inflater.feed(raw, maxOutput: 4 << 20) } catch {
                    throw BundleError("the decrypted image is not gzip data (wrong key, or not a bundle)")
                }
            }
            rest = rest.dropFirst(used)
            try untar(out)
        } while !rest.isEmpty || inflater.hasPendingOutput
    }

    private func untar(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        // Headers, pax records and tar's record padding take well under 1 MiB; a stream longer than
        // that past the image is not a bundle (and must not keep a registration busy inflating it).
        tarBytes += Int64(bytes.count)
        guard tarBytes <= manifest.size + (1 << 20) else {
            throw BundleError("the bundle holds more data than its image (\(manifest.size) bytes)")
        }
        tarDigest.update(bytes)
        let events: [TarReader.Event]
        do { events = try tar.feed(bytes) } catch { throw BundleError("the image's tar stream is damaged: \(error)") }
        for event in events {
            switch event {
            case .entry(let entry):
                members += 1
                guard members == 1, entry.type == .regular else { throw BundleError("a bundle holds exactly one regular file") }
                guard entry.size == manifest.size else {
                    throw BundleError("the bundled file has \(entry.size) bytes but the manifest says \(manifest.size)")
                }
            case .data(let data):
                imageBytes += Int64(data.count)
                guard imageBytes <= maxImageSize else { throw BundleError("the image is over this cloud's limit of \(maxImageSize) bytes") }
                try output.write(contentsOf: data)
            case .entryEnd: break
            case .end: break
            }
        }
    }

    /// After the last part: the tar digest and sizes. Answers the image's size.
    public func finish() throws(BundleError) -> Int64 {
        guard nextPart == manifest.parts.count else {
            throw BundleError("part \(manifest.parts[nextPart].filename) is missing")
        }
        guard members == 1, imageBytes == manifest.size else { throw BundleError("the bundle ends before its image does (truncated)") }
        let digest = tarDigest.finalizeHexAndReset()
        guard digest == manifest.digest else { throw BundleError("the image's digest does not match the manifest (altered before bundling?)") }
        return imageBytes
    }
}
