import Foundation

/// An incremental must be encrypted as its chain is: with the same passphrase, to the same
/// keys, or not at all. The local cache holds the chain's manifests and signatures in plain,
/// so without this check a wrong passphrase would be accepted and would make the newest sets
/// unreadable with the right one (and mixing encrypted and plain sets breaks a restore).
///
/// The chain's newest manifest is fetched from the target (one small file per run): its name
/// says whether the chain is encrypted; a symmetric one must decrypt with the passphrase, and
/// one encrypted to keys must be encrypted to keys among `--encrypt-key` (read from its
/// packets, so a host holding only the public key can go on adding incrementals).
extension BackupWriter {
    func checkEncryption(of chain: BackupChain) async throws {
        guard let name = chain.sets.last?.manifest else { return }
        let encrypted = name.hasSuffix(".gpg")
        guard let gpg = options.gpg else {
            guard !encrypted else {
                throw BackupError("""
                    this chain is encrypted (its last manifest is \(name)): set PASSPHRASE (or give --encrypt-key) to extend it, \
                    or make a full backup to start an unencrypted chain; nothing was written
                    """)
            }
            return
        }
        guard encrypted else {
            throw BackupError("""
                this chain is unencrypted (its last manifest is \(name)): give --no-encryption to extend it, \
                or make a full backup to start an encrypted chain; nothing was written
                """)
        }
        let download = "\(work)/chain-manifest"
        let local = try await backend.localFile(name, downloadingTo: download)
        defer {
            unlink(download)
            unlink(download + ".plain")
        }
        let keys = try await gpg.encryptionKeyIDs(of: local)
        if gpg.recipients.isEmpty {
            guard keys.isEmpty else {
                throw BackupError("""
                    this chain is encrypted to the key \(keys.joined(separator: ", ")), not with a passphrase (its last manifest \
                    is \(name)): give --encrypt-key to extend it, or make a full backup to start a new chain; nothing was written
                    """)
            }
            do {
                try await gpg.decrypt(local, to: download + ".plain")
            } catch {
                throw BackupError("the passphrase does not decrypt this chain's last manifest \(name): wrong PASSPHRASE? nothing was written")
            }
            return
        }
        guard !keys.isEmpty else {
            throw BackupError("""
                this chain is encrypted with a passphrase, not to a key (its last manifest is \(name)): set PASSPHRASE without \
                --encrypt-key to extend it, or make a full backup to start a new chain; nothing was written
                """)
        }
        let named = keys.filter { $0 != "0000000000000000" }
        guard !named.isEmpty else {
            // Hidden recipients: only decrypting tells.
            do {
                try await gpg.decrypt(local, to: download + ".plain")
            } catch {
                throw BackupError("the keyring's secret keys do not decrypt this chain's last manifest \(name): wrong key? nothing was written")
            }
            return
        }
        let given = try await gpg.recipientKeyIDs()
        let missing = named.filter { !given.contains($0) }
        guard missing.isEmpty else {
            throw BackupError("""
                this chain is encrypted to the key \(missing.joined(separator: ", ")), which --encrypt-key does not include \
                (its last manifest is \(name)): a restore would need other keys for the new sets; give --encrypt-key for it \
                too, or make a full backup to start a new chain; nothing was written
                """)
        }
    }
}
