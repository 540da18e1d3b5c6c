import Digest
import Foundation
import Images
import PKI
import Testing

/// Bundles made here read back byte-identical; a bundle made by the independent reference
/// (`scripts/ec2bundle_ref.py`, openssl steps) reads here; every kind of damage is refused.
@Suite struct BundleTests {
    static let cloud = try! PrivateKey.generate(.rsa, bits: 2048)
    static let cloudCert = try! Certificate.make(for: cloud, commonName: "cloud")
    static let user = try! PrivateKey.generate(.rsa, bits: 2048)
    static let userCert = try! Certificate.make(for: user, commonName: "alice", issuer: (cloud, cloudCert))

    func fixture(_ name: String) throws -> [UInt8] {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return Array(try Data(contentsOf: dir.appendingPathComponent(name)))
    }

    func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "nimbus-bundle-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Unpacks `manifest` from the parts in `dir` (or `parts`), answering the image bytes.
    func unpack(_ manifest: BundleManifest, parts: [[UInt8]], cloudKey: PrivateKey = cloud, signer: Certificate? = userCert,
                limit: Int64 = 1 << 30) throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "nimbus-image-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let handle = try #require(FileHandle(forWritingAtPath: out))
        let unpacker = try BundleUnpacker(manifest: manifest, cloudKey: cloudKey, maxImageSize: limit, output: handle)
        if let signer { try unpacker.verifySignature(signer) }
        for p in parts { try unpacker.consume(p) }
        _ = try unpacker.finish()
        try handle.close()
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func bundle(_ image: [UInt8], partSize: Int = 4096, kernel: String? = nil) throws -> (BundleManifest, [[UInt8]], String) {
        let dir = try scratch()
        let path = dir + "/disk.img"
        try Data(image).write(to: URL(fileURLWithPath: path))
        var writer = BundleWriter(user: "alice", userKey: Self.user, userCertificate: Self.userCert, cloudCertificate: Self.cloudCert)
        writer.partSize = partSize
        writer.kernelID = kernel
        let manifestPath = try writer.bundle(imagePath: path, into: dir + "/out")
        let manifest = try BundleManifest.parse(Array(try Data(contentsOf: URL(fileURLWithPath: manifestPath))))
        let parts = try manifest.parts.map { Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/" + $0.filename))) }
        return (manifest, parts, dir)
    }

    @Test func aBundleReadsBackByteIdentical() throws {
        let image = Digests.randomBytes(50_000) + [UInt8](repeating: 0, count: 30_000)
        let (manifest, parts, dir) = try bundle(image)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(parts.count > 1)
        #expect(parts.dropLast().allSatisfy { $0.count == 4096 })
        #expect(manifest.size == 80_000 && manifest.type == .machine && manifest.name == "disk.img")
        #expect(manifest.bundledSize == Int64(parts.reduce(0) { $0 + $1.count }))
        #expect(try unpack(manifest, parts: parts) == image)
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/out/disk.img.manifest.xml")), as: UTF8.self)
        #expect(text.hasPrefix("<?xml version=\"1.0\" ?><manifest><version>2007-10-10</version><bundler><name>euca2ools</name>"))
        #expect(text.contains("</machine_configuration><image><name>disk.img</name><user>alice</user><type>machine</type>"))
    }

    @Test func kernelBundlesSayKernelAndTrue() throws {
        let (manifest, parts, dir) = try bundle(Digests.randomBytes(1000), kernel: "true")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(manifest.type == .kernel && manifest.kernelID == "true" && parts.count == 1)
    }

    @Test func aBundleMadeByTheOpenSSLReferenceReadsHere() throws {
        let manifest = try BundleManifest.parse(try fixture("tiny.img.manifest.xml"))
        #expect(manifest.kernelID == "aki-0000abcd" && manifest.ramdiskID == "ari-0000dcba" && manifest.user == "123456789012")
        let parts = try manifest.parts.map { try fixture($0.filename) }
        let image = try unpack(manifest, parts: parts, cloudKey: PrivateKey(pem: fixture("cloud-key.pem")),
                               signer: Certificate(pem: fixture("user-cert.pem")))
        #expect(image == (try fixture("tiny.img")))
    }

    @Test func damageIsRefusedWithAReason() throws {
        let (manifest, parts, dir) = try bundle(Digests.randomBytes(20_000))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func reason(_ body: () throws -> Void) -> String {
            do { try body() } catch let e as BundleError { return e.reason } catch { return "other: \(error)" }
            return "accepted"
        }
        var tampered = parts
        tampered[1][100] ^= 1
        #expect(reason { _ = try unpack(manifest, parts: tampered) }.contains("does not match its digest"))
        var truncated = parts
        truncated[truncated.count - 1].removeLast(7)
        #expect(reason { _ = try unpack(manifest, parts: truncated) }.contains("does not match its digest"))
        #expect(reason { _ = try unpack(manifest, parts: Array(parts.dropLast())) }.contains("is missing"))
        let other = try PrivateKey.generate(.rsa, bits: 2048)
        let otherCert = try Certificate.make(for: other, commonName: "mallory")
        #expect(reason { _ = try unpack(manifest, parts: parts, signer: otherCert) }.contains("signature does not match"))
        #expect(reason { _ = try unpack(manifest, parts: parts, cloudKey: other) }.contains("not encrypted for this cloud"))
        #expect(reason { _ = try unpack(manifest, parts: parts, limit: 10_000) }.contains("over this cloud's limit"))
        var lying = manifest
        lying.size = 5
        #expect(reason { _ = try unpack(lying, parts: parts, signer: nil) }.contains("manifest says 5"))
    }

    @Test func malformedManifestsAreRefused() {
        let cases: [(String, String)] = [
            ("not xml <", "not well-formed"),
            ("<foo/>", "not a bundle manifest"),
            ("<manifest><machine_configuration><architecture>x</architecture></machine_configuration><image><name>n</name><type>disk</type></image></manifest>",
             "machine, kernel or ramdisk"),
            ("<manifest><machine_configuration><architecture>x</architecture></machine_configuration><image><name>n</name><type>machine</type><parts count=\"1\"><part index=\"0\"><filename>../etc/passwd</filename><digest>00</digest></part></parts></image></manifest>",
             "not a plain name"),
            ("<manifest><machine_configuration><architecture>x</architecture></machine_configuration><image><name>n</name><type>machine</type><parts count=\"2\"><part index=\"0\"><filename>a</filename><digest>00</digest></part></parts></image></manifest>",
             "says 2 parts"),
        ]
        for (text, expected) in cases {
            #expect(throws: BundleError.self, "\(expected)") {
                do { _ = try BundleManifest.parse(Array(text.utf8)) } catch let e as BundleError {
                    #expect(e.reason.contains(expected), "\(e.reason)")
                    throw e
                }
            }
        }
    }

    @Test func imageIDsTakeBothLengthsAndRefuseTheRest() {
        #expect(ImageID("ami-1A2B3C4D")?.description == "ami-1a2b3c4d")
        #expect(ImageID("aki-0123456789abcdef0")?.type == .kernel)
        for bad in ["ami-123", "ami-xyzxyzxy", "amx-12345678", "ami12345678", "", "ami-", "ari-123456789"] { #expect(ImageID(bad) == nil) }
        #expect(ImageID.random(.ramdisk).description.hasPrefix("ari-"))
    }
}

/// The manifest reader: strict, bounded, never trapping (Foundation's XMLParser trapped on
/// `<part index0">`, found by the bundle-manifest fuzz target).
@Suite struct ManifestXMLTests {
    @Test func readsWhatBundlersWrite() throws {
        let manifest = try BundleManifest.parse(Array(try fixtureText().utf8))
        #expect(manifest.parts.count == 4 && manifest.name == "tiny.img")
        // Entities, comments, single quotes and whitespace between elements, as other writers may produce.
        let text = try fixtureText().replacingOccurrences(of: "<name>tiny.img</name>", with: "<name>t&amp;i&#110;&#x79;</name>")
            .replacingOccurrences(of: "<parts count=\"4\">", with: "\n  <!-- parts -->\n  <parts count='4' >")
        let varied = try BundleManifest.parse(Array(text.utf8))
        #expect(varied.name == "t&iny" && varied.parts.count == 4)
    }

    func fixtureText() throws -> String {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try String(contentsOf: dir.appendingPathComponent("tiny.img.manifest.xml"), encoding: .utf8)
    }

    @Test func malformedDocumentsAreRefusedNeverTrap() {
        let cases = [
            "<manifest><parts><part index0\"><filename>a</filename></part></parts></manifest>",
            "<!DOCTYPE manifest [<!ENTITY x \"y\">]><manifest/>",
            "<manifest><![CDATA[x]]></manifest>",
            "<manifest><a></b></manifest>",
            "<manifest>&unknown;</manifest>",
            "<manifest>&#0;</manifest>",
            "<manifest a=1/>",
            "<manifest a='1' a='2'/>",
            "<manifest>",
            "<manifest/><extra/>",
            String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40),
            "",
        ]
        for text in cases {
            #expect(throws: BundleError.self, "\(text.prefix(40))") { _ = try BundleManifest.parse(Array(text.utf8)) }
        }
    }

    @Test func aCopyOfTheSignedElementsInACommentIsRefused() throws {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let text = try String(contentsOf: dir.appendingPathComponent("tiny.img.manifest.xml"), encoding: .utf8)
        guard let a = text.range(of: "<machine_configuration>"), let b = text.range(of: "</image>") else { throw BundleError("fixture") }
        // The signed part copied into a comment, the real elements then free to say anything.
        let forged = text.replacingOccurrences(of: "<version>2007-10-10</version>", with: "<version>2007-10-10</version><!--\(text[a.lowerBound..<b.upperBound])-->")
        #expect(throws: BundleError.self) { _ = try BundleManifest.parse(Array(forged.utf8)) }
    }

    @Test func valuesEndingInCRLFAreTrimmed() throws {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let text = try String(contentsOf: dir.appendingPathComponent("tiny.img.manifest.xml"), encoding: .utf8)
            .replacingOccurrences(of: "<size>3000</size>", with: "<size>3000\r\n</size>")
        #expect(try BundleManifest.parse(Array(text.utf8)).size == 3000)
    }
}
