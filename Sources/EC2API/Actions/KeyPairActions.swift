import ControlPlane
import Digest
import Foundation
import NIOPosix
import PKI

/// CreateKeyPair (RSA or Ed25519; the private key is returned once and never stored),
/// ImportKeyPair (an OpenSSH public key), DescribeKeyPairs, DeleteKeyPair — per project, with
/// fingerprints as AWS computes them.
enum KeyPairActions {
    /// EC2's default limit.
    static let maxPerProject = 5000

    static func keyName(_ call: EC2Call) throws(EC2Error) -> String {
        let name = try call.request.required("KeyName")
        guard name.utf8.count <= 255, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) else {
            throw EC2Error("InvalidParameterValue", "Key pair names are 1 to 255 printable ASCII characters.")
        }
        return name
    }

    static func create(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let name = try keyName(call)
        let type = call.request["KeyType"] ?? "rsa"
        guard let kind = PrivateKey.Kind(rawValue: type) else {
            throw EC2Error("InvalidParameterValue", "The key type '\(type)' is not supported; use rsa or ed25519.")
        }
        if let format = call.request["KeyFormat"], format != "pem" {
            throw EC2Error("InvalidParameterValue", "The key format '\(format)' is not supported; use pem.")
        }
        let existing = try await call.store.keyPairs(project: call.project, names: [])
        guard !existing.contains(where: { $0.name == name }) else {
            throw EC2Error("InvalidKeyPair.Duplicate", "The keypair '\(name)' already exists.")
        }
        guard existing.count < maxPerProject else { throw EC2Error("KeyPairLimitExceeded", "A project may have at most \(maxPerProject) key pairs.") }
        // RSA generation takes tens of milliseconds of CPU: on a thread pool, not Swift's shared threads.
        let key = try await NIOThreadPool.singleton.runIfActive { try PrivateKey.generate(kind, bits: 2048) }
        let pair = KeyPair(project: call.project, name: name, fingerprint: try KeyFingerprint.created(key),
                           publicKey: try SSHKeys.publicLine(key.publicKey(), comment: name.filter { $0 != " " }), keyType: kind.rawValue)
        do { try await call.store.addKeyPair(pair) } catch ControlPlaneError.duplicate {
            throw EC2Error("InvalidKeyPair.Duplicate", "The keypair '\(name)' already exists.")
        }
        let material = kind == .rsa ? try key.pem() : try SSHKeys.openSSHPrivateKey(key, comment: name)
        return [.text("keyName", name), .text("keyFingerprint", pair.fingerprint), .text("keyMaterial", material),
                .text("keyPairId", pairID(pair))]
    }

    static func importKeyPair(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let name = try keyName(call)
        let material = try call.request.required("PublicKeyMaterial")
        // The SDKs send the key file's bytes base64-encoded; older tools sent the line itself.
        let line = Data(base64Encoded: material).map { String(decoding: $0, as: UTF8.self) } ?? material
        let parsed: (key: PublicKey, blob: [UInt8])
        do { parsed = try SSHKeys.parsePublicLine(line) } catch {
            throw EC2Error("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format")
        }
        guard try await call.store.keyPairs(project: call.project, names: []).count < maxPerProject else {
            throw EC2Error("KeyPairLimitExceeded", "A project may have at most \(maxPerProject) key pairs.")
        }
        let pair = KeyPair(project: call.project, name: name, fingerprint: try KeyFingerprint.imported(parsed.key, blob: parsed.blob),
                           publicKey: try SSHKeys.publicLine(parsed.key, comment: name.filter { $0 != " " }),
                           keyType: parsed.key.isRSA ? "rsa" : "ed25519")
        do { try await call.store.addKeyPair(pair) } catch ControlPlaneError.duplicate {
            throw EC2Error("InvalidKeyPair.Duplicate", "The keypair '\(name)' already exists.")
        }
        return [.text("keyName", name), .text("keyFingerprint", pair.fingerprint), .text("keyPairId", pairID(pair))]
    }

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let names = call.request.list("KeyName"), ids = call.request.list("KeyPairId")
        var pairs = try await call.store.keyPairs(project: call.project, names: [])
        if let missing = names.first(where: { n in !pairs.contains { $0.name == n } }) ?? ids.first(where: { i in !pairs.contains { pairID($0) == i } }) {
            throw EC2Error("InvalidKeyPair.NotFound", "The key pair '\(missing)' does not exist")
        }
        if !names.isEmpty || !ids.isEmpty { pairs = pairs.filter { names.contains($0.name) || ids.contains(pairID($0)) } }
        for (name, values) in try call.request.filters {
            switch name {
            case "key-name": pairs = pairs.filter { values.contains($0.name) }
            case "fingerprint": pairs = pairs.filter { values.contains($0.fingerprint) }
            case "key-pair-id": pairs = pairs.filter { values.contains(pairID($0)) }
            case "key-type": pairs = pairs.filter { values.contains($0.keyType) }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
        }
        return [.set("keySet", pairs.map { p in
            [.text("keyPairId", pairID(p)), .text("keyName", p.name), .text("keyFingerprint", p.fingerprint), .text("keyType", p.keyType),
             .set("tagSet", [])]
        })]
    }

    static func delete(_ call: EC2Call) async throws -> [EC2XML.Node] {
        // As EC2: deleting a key pair that does not exist succeeds.
        if let id = call.request["KeyPairId"], !id.isEmpty, call.request["KeyName"] == nil {
            if let pair = try await call.store.keyPairs(project: call.project, names: []).first(where: { pairID($0) == id }) {
                _ = try await call.store.deleteKeyPair(project: call.project, name: pair.name)
            }
            return [.text("return", "true")]
        }
        _ = try await call.store.deleteKeyPair(project: call.project, name: try keyName(call))
        return [.text("return", "true")]
    }

    /// A stable id for a key pair (EC2's `key-…`), derived from project and name.
    static func pairID(_ pair: KeyPair) -> String {
        "key-" + String(Digests.sha256Hex(Array("\(pair.project)\u{0}\(pair.name)".utf8)).prefix(17))
    }
}
