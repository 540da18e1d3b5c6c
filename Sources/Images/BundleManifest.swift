import Digest
import NimbusCore
import Foundation

/// An euca2ools bundle manifest (`<prefix>.manifest.xml`, version 2007-10-10): what the image is,
/// its digest and size, the AES key and IV encrypted for the cloud and for the user, the parts
/// and their SHA-1s, and the user's RSA-SHA1 signature over the exact bytes of
/// `<machine_configuration>` followed by `<image>`.
public struct BundleManifest: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        public var filename: String
        /// SHA-1 of the part, lowercase hex.
        public var digest: String
    }

    public var architecture: String
    /// A kernel's or ramdisk's own manifest says `true`; a machine image may name its kernel and ramdisk.
    public var kernelID: String?
    public var ramdiskID: String?
    public var name: String
    public var user: String
    public var type: ImageType
    /// SHA-1 of the uncompressed tar stream.
    public var digest: String
    /// Bytes of the image itself.
    public var size: Int64
    public var bundledSize: Int64
    public var ec2EncryptedKey: String
    public var userEncryptedKey: String
    public var ec2EncryptedIV: String
    public var userEncryptedIV: String
    public var parts: [Part]
    public var signature: String
    /// The bytes the signature covers, as they appear in the document.
    public var signedBytes: [UInt8]

    /// Largest manifest read (a 10 GiB image has ~1000 parts, ~200 bytes each).
    public static let maxSize = 1 << 20

    public static let bundlerName = "euca2ools"
    public static let bundlerVersion = "3.4.1"

    /// `<machine_configuration>…</machine_configuration><image>…</image>`, serialised as euca2ools does (no whitespace).
    static func signedPart(architecture: String, kernelID: String?, ramdiskID: String?, name: String, user: String, type: ImageType,
                           digest: String, size: Int64, bundledSize: Int64, keys: (ec2Key: String, userKey: String, ec2IV: String, userIV: String),
                           parts: [Part]) -> String {
        var s = "<machine_configuration><architecture>\(XMLText.escape(architecture))</architecture>"
        if let kernelID { s += "<kernel_id>\(XMLText.escape(kernelID))</kernel_id>" }
        if let ramdiskID { s += "<ramdisk_id>\(XMLText.escape(ramdiskID))</ramdisk_id>" }
        s += "</machine_configuration>"
        s += "<image><name>\(XMLText.escape(name))</name><user>\(XMLText.escape(user))</user><type>\(type.rawValue)</type>"
        s += "<digest algorithm=\"SHA1\">\(digest)</digest><size>\(size)</size><bundled_size>\(bundledSize)</bundled_size>"
        s += "<ec2_encrypted_key algorithm=\"AES-128-CBC\">\(keys.ec2Key)</ec2_encrypted_key>"
        s += "<user_encrypted_key algorithm=\"AES-128-CBC\">\(keys.userKey)</user_encrypted_key>"
        s += "<ec2_encrypted_iv>\(keys.ec2IV)</ec2_encrypted_iv><user_encrypted_iv>\(keys.userIV)</user_encrypted_iv>"
        s += "<parts count=\"\(parts.count)\">"
        for (i, p) in parts.enumerated() {
            s += "<part index=\"\(i)\"><filename>\(XMLText.escape(p.filename))</filename><digest algorithm=\"SHA1\">\(p.digest)</digest></part>"
        }
        return s + "</parts></image>"
    }

    /// The whole document around the signed bytes.
    static func document(signedPart: String, signature: String) -> String {
        "<?xml version=\"1.0\" ?><manifest><version>2007-10-10</version><bundler><name>\(bundlerName)</name>"
            + "<version>\(bundlerVersion)</version><release>0</release></bundler>"
            + signedPart + "<signature>\(signature)</signature></manifest>"
    }

    /// Parses a manifest; every refusal names what is wrong.
    public static func parse(_ bytes: [UInt8]) throws(BundleError) -> BundleManifest {
        guard bytes.count <= maxSize else { throw BundleError("the manifest is larger than \(maxSize) bytes") }
        let root: XMLTreeNode
        do { root = try XMLTree.parse(bytes) } catch { throw BundleError("the manifest is not well-formed XML (\(error))") }
        guard root.name == "manifest" else { throw BundleError("the document is not a bundle manifest (root <\(root.name)>)") }
        guard let mc = root.child("machine_configuration"), let image = root.child("image") else {
            throw BundleError("the manifest has no <machine_configuration> or <image>")
        }
        func text(_ node: XMLTreeNode, _ name: String) throws(BundleError) -> String {
            guard let v = node.child(name)?.text, !v.isEmpty else { throw BundleError("the manifest has no <\(name)>") }
            return v
        }
        func number(_ node: XMLTreeNode, _ name: String) throws(BundleError) -> Int64 {
            guard let n = Int64(try text(node, name)), n >= 0 else { throw BundleError("the manifest's <\(name)> is not a size") }
            return n
        }
        func hex(_ node: XMLTreeNode, _ name: String) throws(BundleError) -> String {
            let v = try text(node, name).lowercased()
            guard Hex.decode(v) != nil else { throw BundleError("the manifest's <\(name)> is not hex") }
            return v
        }
        guard let typeText = image.child("type")?.text, let type = ImageType(rawValue: typeText) else {
            throw BundleError("the manifest's image type must be machine, kernel or ramdisk")
        }
        guard let partsNode = image.child("parts") else { throw BundleError("the manifest lists no parts") }
        let partNodes = partsNode.children.filter { $0.name == "part" }
        guard !partNodes.isEmpty, partNodes.count <= 100_000 else { throw BundleError("the manifest lists no parts") }
        if let count = partsNode.attributes["count"], Int(count) != partNodes.count {
            throw BundleError("the manifest says \(count) parts but lists \(partNodes.count)")
        }
        var parts = [Part?](repeating: nil, count: partNodes.count)
        for node in partNodes {
            guard let index = node.attributes["index"].flatMap({ Int($0) }), index >= 0, index < parts.count, parts[index] == nil else {
                throw BundleError("the manifest's part indexes are not 0 to \(parts.count - 1)")
            }
            let filename = try text(node, "filename")
            guard !filename.contains("/"), filename != "..", filename != "." else {
                throw BundleError("part file name '\(filename)' is not a plain name")
            }
            parts[index] = Part(filename: filename, digest: try hex(node, "digest"))
        }
        let signature = try hex(root, "signature")
        guard let signed = signedRange(bytes) else {
            throw BundleError("the manifest's signed elements cannot be found once each (<machine_configuration>, <image>)")
        }
        return BundleManifest(
            architecture: try text(mc, "architecture"), kernelID: mc.child("kernel_id")?.text, ramdiskID: mc.child("ramdisk_id")?.text,
            name: try text(image, "name"), user: image.child("user")?.text ?? "", type: type, digest: try hex(image, "digest"),
            size: try number(image, "size"), bundledSize: try number(image, "bundled_size"),
            ec2EncryptedKey: try hex(image, "ec2_encrypted_key"), userEncryptedKey: image.child("user_encrypted_key")?.text ?? "",
            ec2EncryptedIV: try hex(image, "ec2_encrypted_iv"), userEncryptedIV: image.child("user_encrypted_iv")?.text ?? "",
            parts: parts.compactMap { $0 }, signature: signature, signedBytes: signed)
    }

    /// The raw bytes from `<machine_configuration>` to `</image>` (each appears once in a
    /// well-formed manifest: the parse above checked the structure).
    static func signedRange(_ bytes: [UInt8]) -> [UInt8]? {
        // Each tag exactly once: a copy elsewhere (in a comment) could otherwise be what the
        // signature is checked against while the parsed elements say something else.
        for tag in ["<machine_configuration>", "</machine_configuration>", "<image>", "</image>"] {
            guard bytes.ranges(of: Array(tag.utf8)).count == 1 else { return nil }
        }
        guard let start = bytes.firstRange(of: Array("<machine_configuration>".utf8)),
              let mcEnd = bytes.firstRange(of: Array("</machine_configuration>".utf8)),
              let imageStart = bytes.firstRange(of: Array("<image>".utf8)),
              let imageEnd = bytes.firstRange(of: Array("</image>".utf8)),
              start.lowerBound < mcEnd.lowerBound, mcEnd.upperBound <= imageStart.lowerBound, imageStart.lowerBound < imageEnd.lowerBound
        else { return nil }
        return Array(bytes[start.lowerBound..<mcEnd.upperBound]) + Array(bytes[imageStart.lowerBound..<imageEnd.upperBound])
    }
}
