import Foundation

extension BackupSchedule {
    /// Runs one job now: a backup (full when due), then the pruning of old chains.
    ///
    /// A chain started by hand records the source as it was typed (`nimbus backup docs URL`
    /// records `docs`); the job holds the absolute path. When the chain's recorded source names
    /// the job's directory (relative to where the job was added, or to the current directory,
    /// symbolic links resolved), the run keeps the recorded name, so the writer's
    /// source-directory check passes and the chain stays consistent for later runs by hand.
    public static func run(_ job: Job, now: Int64, cacheRoot: String?, gpg: GPG?,
                           onWarning: (@Sendable (String) -> Void)? = nil) async throws -> BackupWriter.Stats {
        var o = BackupWriter.Options()
        if job.encrypt {
            guard let gpg else { throw BackupError("job \(job.name): the job is encrypted and no passphrase was given") }
            o.gpg = gpg
        }
        if let v = job.volsizeMiB { o.volumeSize = v * 1024 * 1024 }
        o.cacheDirectory = Backends.cacheDirectory(url: job.target, archiveDir: job.archiveDir ?? cacheRoot, name: job.backupName)
        let rules = job.rules
        o.selection = rules.isEmpty ? nil : try Selection(rules, source: job.source)
        o.onWarning = onWarning
        o.allowSourceMismatch = job.allowSourceMismatch
        let backend = try Backends.open(job.target)
        o.localdir = job.source
        if !job.allowSourceMismatch,
           let recorded = await recordedSource(backend: backend, cacheDirectory: o.cacheDirectory, gpg: o.gpg),
           recorded != job.source,
           sameDirectory(recorded, job.source, relativeTo: [job.workingDirectory, FileManager.default.currentDirectoryPath].compactMap { $0 }) {
            o.localdir = recorded
        }
        let writer = try BackupWriter(source: job.source, backend: backend, options: o, now: now)
        let fullLimit = try job.fullEvery.map { now - (try seconds($0)) }
        let stats = try await writer.automatic(fullIfOlderThan: fullLimit)
        if let keep = job.keep {
            _ = try await Maintenance.removeOlderThan(now - (try seconds(keep)), backend: backend, force: true)
        }
        return stats
    }

    /// The encryption of a run of `job`: nil for `--no-encryption`, else the passphrase from
    /// the job's file (one trailing newline stripped) or environment variable. Throws a
    /// one-line error naming the file or variable that is missing.
    public static func gpg(for job: Job, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GPG? {
        switch job.encryption {
        case .unencrypted:
            return nil
        case .passphraseEnv(let variable):
            guard let passphrase = environment[variable], !passphrase.isEmpty else {
                throw BackupError("job \(job.name): \(variable) is not set in the environment of `schedule run`")
            }
            return GPG(passphrase: passphrase)
        case .passphraseFile(let file):
            guard access(file, R_OK) == 0, let data = FileManager.default.contents(atPath: file),
                  var text = String(data: data, encoding: .utf8) else {
                throw BackupError("job \(job.name): the passphrase file \(file) is not readable")
            }
            if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }  // "\r\n" is one Character
            guard !text.isEmpty else { throw BackupError("job \(job.name): the passphrase file \(file) is empty") }
            return GPG(passphrase: text)
        }
    }

    /// The variables the job's target needs (duplicity's swift and Cloud Files backends).
    public static func requiredVariables(for target: String) -> [String] {
        if target.hasPrefix("swift://") { return ["SWIFT_AUTHURL", "SWIFT_USERNAME", "SWIFT_PASSWORD"] }
        if target.hasPrefix("cf+http://") { return ["CLOUDFILES_AUTHURL", "CLOUDFILES_USERNAME", "CLOUDFILES_APIKEY"] }
        return []
    }

    /// Throws a one-line error naming the first credential variable the job's target needs and
    /// the runner's environment lacks.
    public static func checkCredentials(of job: Job, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        for variable in requiredVariables(for: job.target) where (environment[variable] ?? "").isEmpty {
            throw BackupError("job \(job.name): \(variable) is not set in the environment of `schedule run`")
        }
    }

    /// `path` made absolute against `cwd`, `.` and `..` removed (by name: links are not followed).
    public static func absolutePath(_ path: String, cwd: String) -> String {
        let full = path.hasPrefix("/") ? path : cwd + "/" + path
        var parts: [Substring] = []
        for part in full.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether a recorded source (absolute, or relative to one of `bases`) is the directory
    /// `source`, symbolic links resolved.
    public static func sameDirectory(_ recorded: String, _ source: String, relativeTo bases: [String]) -> Bool {
        let wanted = canonicalPath(source)
        let candidates = recorded.hasPrefix("/") ? [recorded] : bases.map { absolutePath(recorded, cwd: $0) }
        return candidates.contains { canonicalPath($0) == wanted }
    }

    /// `realpath(3)` of an existing path, else its absolute form by name.
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return absolutePath(path, cwd: FileManager.default.currentDirectoryPath) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The `Localdir` of the newest set's manifest (from the archive cache, else the target);
    /// nil when there is no chain or the manifest cannot be read.
    static func recordedSource(backend: any BackupBackend, cacheDirectory: String?, gpg: GPG?) async -> String? {
        guard let names = try? await backend.list(), let name = BackupCollection(names: names).chains.last?.sets.last?.manifest else {
            return nil
        }
        if let dir = cacheDirectory, let local = ArchiveCache.localName(name),
           let text = try? String(contentsOfFile: "\(dir)/\(local)", encoding: .utf8), let manifest = try? Manifest(parsing: text) {
            return manifest.localdir
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-schedule-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        guard (try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)) != nil,
              var path = try? await backend.localFile(name, downloadingTo: "\(work)/manifest") else { return nil }
        if name.hasSuffix(".gpg") {
            guard let gpg, (try? await gpg.decrypt(path, to: "\(work)/manifest.plain")) != nil else { return nil }
            path = "\(work)/manifest.plain"
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let manifest = try? Manifest(parsing: text) else { return nil }
        return manifest.localdir
    }
}
