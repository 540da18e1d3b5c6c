import Digest
import Foundation
import SQLite

/// EC2 credentials, object-store keys and user certificates.
extension ControlPlaneSQLStore {
    public func credentials(user: String, project: String) async throws -> EC2Credential {
        let fresh = EC2Credential(accessKey: CredentialMaker.accessKey(), secretKey: CredentialMaker.secretKey(), user: user, project: project)
        let sealed = try seal(fresh.secretKey)
        let at = now
        let row: [SQLValue] = try await write { db in
            try Self.requireMember(db, user: user, project: project)
            if let existing = try db.query("SELECT access_key, sealed_secret FROM credentials WHERE \"user\" = ? AND project = ?",
                                           [.text(user), .text(project)]).first {
                return existing
            }
            try db.run("INSERT INTO credentials VALUES (?, ?, ?, ?, ?)", [.text(fresh.accessKey), .text(user), .text(project), .text(sealed), .int(at)])
            return [.text(fresh.accessKey), .text(sealed)]
        }
        let key = row[0].text ?? ""
        return EC2Credential(accessKey: key, secretKey: try unseal(row[1].text ?? "", "access key \(key)"), user: user, project: project)
    }

    public func credentials(accessKey: String) async throws -> EC2Credential? {
        let row = try await write { db in
            try db.query("SELECT access_key, sealed_secret, \"user\", project FROM credentials WHERE access_key = ?", [.text(accessKey)]).first
        }
        guard let row else { return nil }
        return EC2Credential(accessKey: accessKey, secretKey: try unseal(row[1].text ?? "", "access key \(accessKey)"),
                             user: row[2].text ?? "", project: row[3].text ?? "")
    }

    public func storageKey(user: String, project: String) async throws -> String {
        let fresh = CredentialMaker.secretKey()
        let sealed = try seal(fresh), hash = StorageKeyHash.make(fresh)
        let at = now
        let stored: String = try await write { db in
            try Self.requireMember(db, user: user, project: project)
            if let row = try db.query("SELECT sealed_key FROM storage_keys WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)]).first {
                return row[0].text ?? ""
            }
            try db.run("INSERT INTO storage_keys VALUES (?, ?, ?, ?, ?)", [.text(project), .text(user), .text(sealed), .text(hash), .int(at)])
            return sealed
        }
        return try unseal(stored, "object-store key of \(project):\(user)")
    }

    public func checkStorageKey(user: String, project: String, key: String) async throws -> Bool {
        let hash = try await write { db in
            try db.query("""
                SELECT k.key_hash FROM storage_keys k JOIN members m ON m.project = k.project AND m."user" = k."user"
                WHERE k.project = ? AND k."user" = ?
                """, [.text(project), .text(user)]).first?[0].text
        }
        guard let hash else { return false }
        return StorageKeyHash.check(key, against: hash)
    }

    public func certificates(user: String, project: String) async throws -> [String] {
        let text = try await write { db in
            try db.query("SELECT pem FROM certificates WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)]).first?[0].text
        }
        return text.map(CertificateList.split) ?? []
    }

    public func addCertificate(_ pem: String, user: String, project: String) async throws {
        let at = now
        try await write { db in
            try Self.requireMember(db, user: user, project: project)
            // One row per user and project holds the kept certificates as one PEM bundle.
            let old = try db.query("SELECT pem FROM certificates WHERE project = ? AND \"user\" = ?", [.text(project), .text(user)])
                .first?[0].text
            let kept = CertificateList.adding(pem, to: old.map(CertificateList.split) ?? []).joined()
            if try db.run("UPDATE certificates SET pem = ?, created_at = ? WHERE project = ? AND \"user\" = ?",
                          [.text(kept), .int(at), .text(project), .text(user)]) == 0 {
                try db.run("INSERT INTO certificates VALUES (?, ?, ?, ?)", [.text(project), .text(user), .text(kept), .int(at)])
            }
        }
    }
}

/// The certificates kept for one user in one project: every `project zipfile` issues a new one,
/// and bundles signed with an earlier zipfile's `cert.pem` must still register.
enum CertificateList {
    /// How many are kept, newest last.
    static let kept = 5

    static func split(_ text: String) -> [String] {
        let end = "-----END CERTIFICATE-----"
        var out: [String] = []
        var rest = Substring(text)
        while let r = rest.range(of: end) {
            let one = rest[..<r.upperBound].drop { $0.isWhitespace }
            if !one.isEmpty { out.append(String(one) + "\n") }
            rest = rest[r.upperBound...]
        }
        // Anything that is not a PEM block (a value from before certificates were kept as a
        // list) is kept as it is.
        let tail = rest.trimmingCharacters(in: .whitespacesAndNewlines)
        if !tail.isEmpty { out.append(tail) }
        return out
    }

    static func adding(_ pem: String, to list: [String]) -> [String] {
        let new = split(pem)
        return Array((list + new).suffix(kept))
    }
}

/// Salted SHA-256 of an object-store key (`sha256$<salt hex>$<digest hex>`): the proxy checks
/// logins against it, so reading the database does not reveal the keys. The keys are 40 random
/// characters, so a fast hash is enough (no dictionary to walk).
enum StorageKeyHash {
    static func make(_ key: String) -> String {
        let salt = Hex.encode(Digests.randomBytes(16))
        return "sha256$\(salt)$\(Digests.sha256Hex(Array((salt + key).utf8)))"
    }

    static func check(_ key: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 3, parts[0] == "sha256" else { return false }
        return Digests.constantTimeEqual(Array(Digests.sha256Hex(Array((parts[1] + key).utf8)).utf8), Array(parts[2].utf8))
    }
}
