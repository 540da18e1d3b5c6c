import Foundation
import NimbusCore

/// Who can read an OpenPGP message, found without decrypting it (so without the secret key).
extension GPG {
    /// The long key ids (16 hex digits) `file` is encrypted to, as gpg's `ENC_TO` status lines
    /// name them; empty when it is encrypted with a passphrase only. A recipient hidden with
    /// `--throw-keyids` shows as `0000000000000000`.
    func encryptionKeyIDs(of file: String) throws -> [String] {
        // --list-only skips the decryption: no passphrase, no keyring, no agent needed.
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-gpg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result = try Self.gpg(["--homedir", home, "--batch", "--list-only", "--status-fd", "1", "--decrypt", file])
        let name = (file as NSString).lastPathComponent
        guard result.succeeded else { throw BackupError("gpg could not read the packets of \(name): \(result.errorText)") }
        return Self.statusFields(result.stdout, keyword: "ENC_TO")
    }

    /// The long key ids (primary keys and subkeys) of `recipients` in the keyring.
    func recipientKeyIDs() throws -> Set<String> {
        var args = ["--batch", "--with-colons", "--list-keys"] + recipients
        if let homedir { args = ["--homedir", homedir] + args }
        let result = try Self.gpg(args)
        guard result.succeeded else {
            throw BackupError("gpg cannot find --encrypt-key \(recipients.joined(separator: ", ")) in the keyring: \(result.errorText)")
        }
        var ids = Set<String>()
        for line in String(decoding: result.stdout, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 4, fields[0] == "pub" || fields[0] == "sub" { ids.insert(fields[4].uppercased()) }
        }
        return ids
    }

    private static func gpg(_ args: [String]) throws -> ChildProcess.Result {
        do {
            return try ChildProcess.run("/usr/bin/gpg", args, input: Data())
        } catch {
            throw BackupError("cannot run gpg (install the gnupg package): \(error)")
        }
    }

    /// The first field after `[GNUPG:] KEYWORD` of each such status line.
    static func statusFields(_ status: Data, keyword: String) -> [String] {
        String(decoding: status, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[0] == "[GNUPG:]", fields[1] == keyword else { return nil }
            return fields[2].uppercased()
        }
    }
}
