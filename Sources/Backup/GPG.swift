import Foundation
import NimbusCore

/// OpenPGP encryption through the `gpg` program, as duplicity does it: symmetric (AES256,
/// the passphrase from `PASSPHRASE`) or to public keys (`--encrypt-key`, optionally signed
/// with `--sign-key`). GnuPG compresses inside, so encrypted volumes hold a plain tar.
public struct GPG: Sendable {
    /// The symmetric passphrase, or the passphrase of the secret (decrypting/signing) key.
    public let passphrase: String?
    /// Key ids to encrypt to; empty means symmetric.
    public let recipients: [String]
    public let signKey: String?
    /// The keyring (`GNUPGHOME`); nil: gpg's default. Symmetric runs use a scratch home.
    public let homedir: String?

    public init(passphrase: String) {
        self.init(passphrase: passphrase, recipients: [], signKey: nil, homedir: nil)
    }

    public init(passphrase: String?, recipients: [String], signKey: String?, homedir: String?) {
        self.passphrase = passphrase
        self.recipients = recipients
        self.signKey = signKey
        self.homedir = homedir
    }

    var usesKeys: Bool { !recipients.isEmpty || signKey != nil }

    /// The passphrase from the environment, if set.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> GPG? {
        env["PASSPHRASE"].map(GPG.init(passphrase:))
    }

    public func encrypt(_ input: String, to output: String) throws {
        var args = ["--compress-algo", "zip", "-o", output]
        if recipients.isEmpty {
            args = ["--symmetric", "--cipher-algo", "AES256"] + args
        } else {
            args = ["--encrypt"] + recipients.flatMap { ["-r", $0] } + ["--trust-model", "always"] + args
        }
        if let signKey { args = ["--sign", "-u", signKey] + args }
        try run(args + [input], what: "encrypt \(input)")
    }

    public func decrypt(_ input: String, to output: String) throws {
        let what = "decrypt \((input as NSString).lastPathComponent)"
        if let signKey {
            // As duplicity does with --sign-key: the file must carry a good signature by that key.
            let status = try run(["--status-fd", "2", "--decrypt", "-o", output, input], what: what)
            guard Self.signed(status, by: signKey) else {
                unlink(output)
                throw BackupError("\((input as NSString).lastPathComponent) is not signed by \(signKey)")
            }
            return
        }
        do {
            try run(["--decrypt", "-o", output, input], what: what)
        } catch let error as BackupError where !usesKeys && homedir == nil && (error.description.contains("no secret key") || error.description.contains("no passphrase was given")) {
            // Encrypted to a public key: the user's keyring holds the secret key.
            try run(["--decrypt", "-o", output, input], what: what, keyring: true)
        }
    }

    /// Whether gpg's status lines report a good signature by `key` (fingerprint or its tail,
    /// long or short key id, or a user id such as the e-mail address).
    static func signed(_ status: String, by key: String) -> Bool {
        let wanted = key.uppercased().replacingOccurrences(of: "0X", with: "")
        for line in status.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[0] == "[GNUPG:]" else { continue }
            if fields[1] == "VALIDSIG", fields[2].uppercased().hasSuffix(wanted) { return true }
            if fields[1] == "GOODSIG", fields[2].uppercased().hasSuffix(wanted) || line.contains(key) { return true }
        }
        return false
    }

    @discardableResult
    private func run(_ args: [String], what: String, keyring: Bool = false) throws -> String {
        // Symmetric work needs no keyring: a scratch home keeps the user's untouched.
        var home = homedir
        var scratch: String?
        if home == nil && !usesKeys && !keyring {
            scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-gpg-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: scratch!, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            home = scratch
        }
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        var common = ["--batch", "--yes", "--quiet"]
        if let home { common = ["--homedir", home] + common }
        if passphrase != nil { common += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"] }
        let result: ChildProcess.Result
        do {
            result = try ChildProcess.run("/usr/bin/gpg", common + args, input: passphrase.map { Data(($0 + "\n").utf8) } ?? Data(),
                                          discardOutput: true)
        } catch {
            throw BackupError("cannot run gpg (install the gnupg package): \(error)")
        }
        let message = String(decoding: result.stderr, as: UTF8.self)
        guard result.succeeded else {
            if message.contains("No secret key") {
                // Without a passphrase gpg looks for a secret key: for a symmetric backup the
                // missing piece is PASSPHRASE, which is what to say.
                if passphrase == nil && !usesKeys {
                    throw BackupError("this backup is encrypted and no passphrase was given: set PASSPHRASE "
                                      + "(or give --encrypt-key KEY with its secret key in the keyring) to \(what)")
                }
                throw BackupError("no secret key for \(what) in the keyring")
            }
            if message.contains("Bad session key") || message.contains("decryption failed") || message.contains("Bad passphrase") {
                throw BackupError("wrong passphrase: gpg could not \(what)")
            }
            throw BackupError("gpg could not \(what): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return message
    }
}
