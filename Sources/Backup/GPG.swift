import Foundation

/// Symmetric OpenPGP encryption through the `gpg` program, as duplicity does it (AES256,
/// the passphrase from `PASSPHRASE`). GnuPG compresses inside, so encrypted volumes hold a
/// plain tar.
public struct GPG: Sendable {
    public let passphrase: String

    public init(passphrase: String) { self.passphrase = passphrase }

    /// The passphrase from the environment, if set.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> GPG? {
        env["PASSPHRASE"].map(GPG.init(passphrase:))
    }

    public func encrypt(_ input: String, to output: String) throws {
        try run(["--symmetric", "--cipher-algo", "AES256", "--compress-algo", "zip", "-o", output, input], what: "encrypt \(input)")
    }

    public func decrypt(_ input: String, to output: String) throws {
        try run(["--decrypt", "-o", output, input], what: "decrypt \((input as NSString).lastPathComponent)")
    }

    private func run(_ args: [String], what: String) throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-gpg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: home) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gpg")
        p.arguments = ["--homedir", home, "--batch", "--yes", "--quiet", "--pinentry-mode", "loopback", "--passphrase-fd", "0"] + args
        let input = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        do {
            try p.run()
        } catch {
            throw BackupError("cannot run gpg (install the gnupg package): \(error)")
        }
        input.fileHandleForWriting.write(Data((passphrase + "\n").utf8))
        try input.fileHandleForWriting.close()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            if message.contains("Bad session key") || message.contains("decryption failed") {
                throw BackupError("wrong passphrase: gpg could not \(what)")
            }
            throw BackupError("gpg could not \(what): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
