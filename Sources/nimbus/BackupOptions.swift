import ArgumentParser
import Backup
import Foundation
import HTTPClientKit

/// Where the backup lives and how it is reached, on every verb that touches a target
/// (duplicity's names: Déjà Dup passes `--archive-dir` and `--name` to every call).
struct TargetOptions: ParsableArguments {
    @Option(help: "Archive cache directory (default $XDG_CACHE_HOME or $HOME/.cache, then nimbus-backup). Verbs that only read use the target itself.")
    var archiveDir: String?
    @Option(help: "Cache name (default: md5 of the target URL as typed).") var name: String?
    @Option(help: "CA certificates (PEM) to trust for an https:// object store instead of the system's.") var sslCacertFile: String?
    @Flag(help: "Do not check the object store's TLS certificate.") var sslNoCheckCertificate = false
    @Option(help: "Retries of each request to the target, with backoff (0-20).") var numRetries: Int = 5
    @Option(help: "Directory for temporary files (volumes being written, downloads being read); default $TMPDIR or /tmp.")
    var tempdir: String?
    @Option(name: [.customShort("v"), .long], help: "duplicity's verbosity: 0-9 or e, w, n, i, d; at info (8, i) and above, retries are shown.")
    var verbosity: String?

    /// The backend of `url` with these settings (and `--tempdir` in force for the process).
    func open(_ url: String) throws -> any BackupBackend {
        guard (0...20).contains(numRetries) else { throw ValidationError("--num-retries is 0 to 20") }
        if let tempdir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: tempdir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--tempdir \(tempdir) is not a directory")
            }
            // Every temporary path of the backup code comes from FileManager.temporaryDirectory, which reads TMPDIR.
            setenv("TMPDIR", tempdir, 1)
        }
        let onRetry: (@Sendable (String) -> Void)? = try showsRetries()
            ? { @Sendable line in FileHandle.standardError.write(Data("nimbus: \(line)\n".utf8)) } : nil
        return try Backends.open(url, tls: ClientTLS(caFile: sslCacertFile, insecure: sslNoCheckCertificate), retries: numRetries,
                                 onRetry: onRetry)
    }

    /// duplicity's levels: error 0, warning 2, notice 4, info 8, debug 9 (letters or numbers).
    func showsRetries() throws -> Bool {
        guard let verbosity else { return false }
        let levels: [String: Int] = ["e": 0, "error": 0, "w": 2, "warning": 2, "n": 4, "notice": 4, "i": 8, "info": 8, "d": 9, "debug": 9]
        guard let level = Int(verbosity) ?? levels[verbosity.lowercased()], (0...9).contains(level) else {
            throw ValidationError("--verbosity takes 0-9 or e, w, n, i, d")
        }
        return level >= 8
    }

    func cacheDirectory(url: String) -> String {
        Backends.cacheDirectory(url: url, archiveDir: archiveDir, name: name)
    }
}

/// Encryption options shared by every `nimbus backup` verb (duplicity's names).
struct CryptoOptions: ParsableArguments {
    @Flag(help: "The backup is not encrypted: volumes are written (or read) without gpg. Otherwise gpg, symmetric with PASSPHRASE or to --encrypt-key.")
    var noEncryption = false
    @Option(help: "Encrypt to this public key (repeatable); the keyring is GNUPGHOME's.") var encryptKey: [String] = []
    @Option(help: "Sign with this secret key (its passphrase in SIGN_PASSPHRASE or PASSPHRASE).") var signKey: String?

    /// How new files are encrypted.
    func forWriting() throws -> GPG? {
        if noEncryption { return nil }
        let env = ProcessInfo.processInfo.environment
        if !encryptKey.isEmpty || signKey != nil {
            return GPG(passphrase: env["SIGN_PASSPHRASE"] ?? env["PASSPHRASE"], recipients: encryptKey, signKey: signKey, homedir: nil)
        }
        guard let gpg = GPG.fromEnvironment() else {
            throw BackupError("set PASSPHRASE for encrypted backups, give --encrypt-key, or give --no-encryption")
        }
        return gpg
    }

    /// How stored `.gpg` files are read (a symmetric passphrase, else the keyring).
    func forReading() -> GPG? {
        if noEncryption { return nil }
        let env = ProcessInfo.processInfo.environment
        if !encryptKey.isEmpty || signKey != nil {
            return GPG(passphrase: env["PASSPHRASE"], recipients: encryptKey, signKey: signKey, homedir: nil)
        }
        return GPG.fromEnvironment() ?? GPG(passphrase: nil, recipients: [], signKey: nil, homedir: nil)
    }
}

/// `--include` / `--exclude` and their filelists, kept in command-line order (the first rule
/// that matches decides, so the order is the meaning).
struct SelectionOptions: ParsableArguments {
    @Option(help: "Include paths matching this glob (repeatable; order matters).") var include: [String] = []
    @Option(help: "Exclude paths matching this glob (repeatable; order matters).") var exclude: [String] = []
    @Option(help: "Include the patterns listed in this file.") var includeFilelist: [String] = []
    @Option(help: "Exclude the patterns listed in this file (lines '+ PATTERN' include).") var excludeFilelist: [String] = []

    func selection(source: String, arguments: [String] = CommandLine.arguments) throws -> Selection? {
        var rules: [Selection.Rule] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            let flag = arg.split(separator: "=", maxSplits: 1).first.map(String.init) ?? arg
            let value: String? = arg.contains("=") ? String(arg.drop { $0 != "=" }.dropFirst()) : (i + 1 < arguments.count ? arguments[i + 1] : nil)
            let step = arg.contains("=") ? 1 : 2
            switch flag {
            case "--include": if let value { rules.append(.include(value)); i += step; continue }
            case "--exclude": if let value { rules.append(.exclude(value)); i += step; continue }
            case "--include-filelist": if let value { rules += try Selection.filelist(value, include: true); i += step; continue }
            case "--exclude-filelist": if let value { rules += try Selection.filelist(value, include: false); i += step; continue }
            default: break
            }
            i += 1
        }
        return rules.isEmpty ? nil : try Selection(rules, source: source)
    }
}

/// Progress on stderr: one updating line on a terminal, plain lines otherwise.
enum ProgressPrinter {
    static func show(_ p: BackupWriter.Progress) {
        let elapsed = max(0.001, Date().timeIntervalSince(p.started))
        let rate = Double(p.bytes) / elapsed
        let left = rate > 0 ? Double(p.totalBytes - p.bytes) / rate : 0
        let percent = p.totalBytes > 0 ? Double(p.bytes) * 100 / Double(p.totalBytes) : 100
        let line = String(format: "%.1f%% ", percent)
            + "\(BackupWriter.Stats.bytes(p.bytes)) of \(BackupWriter.Stats.bytes(p.totalBytes)), "
            + "\(p.files)/\(p.totalFiles) files, \(BackupWriter.Stats.bytes(Int64(rate)))/s, ETA \(Int(left.rounded())) s"
        if isatty(2) != 0 {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            if p.bytes >= p.totalBytes { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(((isatty(2) != 0 ? "\r\u{1B}[K" : "") + "Warning: " + message + "\n").utf8))
    }
}
