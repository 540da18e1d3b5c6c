import Foundation

extension BackupSchedule {
    /// One backup profile: what to back up, where, how (selection, encryption, volume size,
    /// archive cache) and how often.
    public struct Job: Codable, Sendable, Equatable {
        /// Where the gpg passphrase comes from when the job runs.
        public enum Encryption: Sendable, Equatable {
            /// Volumes stored unencrypted (`--no-encryption`).
            case unencrypted
            /// The passphrase is this environment variable of the runner (`PASSPHRASE` by default).
            case passphraseEnv(String)
            /// The passphrase is this file's content (one trailing newline stripped), read at run time.
            case passphraseFile(String)
        }

        public var name: String
        /// The directory backed up: as given to `add`, made absolute against `workingDirectory`.
        public var source: String
        /// Where `add` ran: a chain started by hand with a relative source is matched from here.
        public var workingDirectory: String?
        public var target: String
        /// Intervals in duplicity's syntax (`1D`, `1W`, `3M`, `12h`).
        public var every: String
        public var fullEvery: String?
        public var keep: String?
        public var encryption: Encryption
        public var include: [String]
        public var exclude: [String]
        /// The rules in the order given, as filelist lines (`+ glob`, `- glob`); nil: the
        /// includes, then the excludes (files of older versions).
        public var selection: [String]?
        public var volsizeMiB: Int64?
        /// duplicity's `--archive-dir` (default: the runner's, else ~/.cache/nimbus-backup).
        public var archiveDir: String?
        /// duplicity's `--name`: the archive cache directory's name (default: md5 of the target).
        public var backupName: String?
        /// Extend a chain made on another host or from another source directory.
        public var allowSourceMismatch: Bool
        /// Days without a success before the desktop is told (nil: the schedule's setting).
        public var notifyAfterDays: Int?
        /// When the job was added (a job that never succeeded is overdue counted from here).
        public var added: Int64?

        public init(name: String, source: String, target: String, every: String, fullEvery: String? = nil, keep: String? = nil,
                    encrypt: Bool = true, include: [String] = [], exclude: [String] = [], volsizeMiB: Int64? = nil,
                    encryption: Encryption? = nil, workingDirectory: String? = nil, selection: [String]? = nil,
                    archiveDir: String? = nil, backupName: String? = nil, allowSourceMismatch: Bool = false,
                    notifyAfterDays: Int? = nil, added: Int64? = nil) {
            self.name = name
            self.source = source
            self.target = target
            self.every = every
            self.fullEvery = fullEvery
            self.keep = keep
            self.encryption = encryption ?? (encrypt ? .passphraseEnv("PASSPHRASE") : .unencrypted)
            self.include = include
            self.exclude = exclude
            self.volsizeMiB = volsizeMiB
            self.workingDirectory = workingDirectory
            self.selection = selection
            self.archiveDir = archiveDir
            self.backupName = backupName
            self.allowSourceMismatch = allowSourceMismatch
            self.notifyAfterDays = notifyAfterDays
            self.added = added
        }

        /// Whether volumes are encrypted (setting true keeps a passphrase source already chosen).
        public var encrypt: Bool {
            get { encryption != .unencrypted }
            set {
                if !newValue { encryption = .unencrypted } else if encryption == .unencrypted { encryption = .passphraseEnv("PASSPHRASE") }
            }
        }

        /// The selection rules in effect, in order.
        public var rules: [Selection.Rule] {
            guard let selection else { return include.map(Selection.Rule.include) + exclude.map(Selection.Rule.exclude) }
            return selection.compactMap { line in
                if line.hasPrefix("+ ") { return .include(String(line.dropFirst(2))) }
                if line.hasPrefix("- ") { return .exclude(String(line.dropFirst(2))) }
                return nil
            }
        }

        enum CodingKeys: String, CodingKey {
            case name, source, workingDirectory, target, every, fullEvery, keep, encrypt, passphraseEnv, passphraseFile
            case include, exclude, selection, volsizeMiB, archiveDir, backupName, allowSourceMismatch, notifyAfterDays, added
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            source = try c.decode(String.self, forKey: .source)
            target = try c.decode(String.self, forKey: .target)
            every = try c.decodeIfPresent(String.self, forKey: .every) ?? "1D"
            fullEvery = try c.decodeIfPresent(String.self, forKey: .fullEvery)
            keep = try c.decodeIfPresent(String.self, forKey: .keep)
            workingDirectory = try c.decodeIfPresent(String.self, forKey: .workingDirectory)
            if try c.decodeIfPresent(Bool.self, forKey: .encrypt) == false {
                encryption = .unencrypted
            } else if let file = try c.decodeIfPresent(String.self, forKey: .passphraseFile) {
                encryption = .passphraseFile(file)
            } else {
                encryption = .passphraseEnv(try c.decodeIfPresent(String.self, forKey: .passphraseEnv) ?? "PASSPHRASE")
            }
            include = try c.decodeIfPresent([String].self, forKey: .include) ?? []
            exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
            selection = try c.decodeIfPresent([String].self, forKey: .selection)
            volsizeMiB = try c.decodeIfPresent(Int64.self, forKey: .volsizeMiB)
            archiveDir = try c.decodeIfPresent(String.self, forKey: .archiveDir)
            backupName = try c.decodeIfPresent(String.self, forKey: .backupName)
            allowSourceMismatch = try c.decodeIfPresent(Bool.self, forKey: .allowSourceMismatch) ?? false
            notifyAfterDays = try c.decodeIfPresent(Int.self, forKey: .notifyAfterDays)
            added = try c.decodeIfPresent(Int64.self, forKey: .added)
        }

        /// Writes `encrypt`, `include` and `exclude` as before, so older versions still read the file.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(source, forKey: .source)
            try c.encodeIfPresent(workingDirectory, forKey: .workingDirectory)
            try c.encode(target, forKey: .target)
            try c.encode(every, forKey: .every)
            try c.encodeIfPresent(fullEvery, forKey: .fullEvery)
            try c.encodeIfPresent(keep, forKey: .keep)
            try c.encode(encrypt, forKey: .encrypt)
            switch encryption {
            case .unencrypted: break
            case .passphraseEnv(let v): try c.encode(v, forKey: .passphraseEnv)
            case .passphraseFile(let f): try c.encode(f, forKey: .passphraseFile)
            }
            try c.encode(include, forKey: .include)
            try c.encode(exclude, forKey: .exclude)
            try c.encodeIfPresent(selection, forKey: .selection)
            try c.encodeIfPresent(volsizeMiB, forKey: .volsizeMiB)
            try c.encodeIfPresent(archiveDir, forKey: .archiveDir)
            try c.encodeIfPresent(backupName, forKey: .backupName)
            if allowSourceMismatch { try c.encode(true, forKey: .allowSourceMismatch) }
            try c.encodeIfPresent(notifyAfterDays, forKey: .notifyAfterDays)
            try c.encodeIfPresent(added, forKey: .added)
        }

        /// A one-line description: `src → url every 1D, full every 1M, keep 6M, PASSPHRASE`.
        public var summary: String {
            var parts = ["\(source) → \(target) every \(every)"]
            if let fullEvery { parts.append("full every \(fullEvery)") }
            if let keep { parts.append("keep \(keep)") }
            switch encryption {
            case .unencrypted: parts.append("unencrypted")
            case .passphraseEnv(let v): parts.append("passphrase from $\(v)")
            case .passphraseFile(let f): parts.append("passphrase from \(f)")
            }
            return parts.joined(separator: ", ")
        }
    }
}
