import Foundation

/// One backup run as found on a target: its manifest, volumes and signatures.
public struct BackupSet: Sendable {
    public var isFull: Bool
    /// The set's own time (the end of the span it covers).
    public var time: Int64
    /// For an incremental, the time of the set it follows.
    public var previousTime: Int64?
    public var manifest: String?
    public var volumes: [Int: String] = [:]
    public var signatures: String?
    public var encrypted = false

    /// A set exists once its manifest is stored (it is written after every volume). Volumes
    /// missing later are not a reason to skip the set: a restore names them instead of
    /// silently restoring an older state.
    public var isComplete: Bool { manifest != nil }
}

/// A full set and the incrementals that follow it, in order.
public struct BackupChain: Sendable {
    public var full: BackupSet
    public var incrementals: [BackupSet] = []

    public var start: Int64 { full.time }
    public var end: Int64 { incrementals.last?.time ?? full.time }
    public var sets: [BackupSet] { [full] + incrementals }

    /// The sets a restore at `time` needs: the full and every incremental ending by then.
    public func sets(upTo time: Int64) -> [BackupSet] {
        [full] + incrementals.filter { $0.time <= time }
    }
}

/// The chains on a target, recognised purely from file names, as duplicity links them.
public struct BackupCollection: Sendable {
    public var chains: [BackupChain] = []
    /// Complete incrementals with no chain to join, and sets without a manifest.
    public var orphans: [BackupSet] = []

    public init(names: [String]) {
        var sets: [String: BackupSet] = [:]
        for name in names {
            guard let f = BackupFileName.parse(name) else { continue }
            let key = "\(f.isFull ? "F" : "I")\(f.previousTime ?? 0)-\(f.time)"
            var s = sets[key] ?? BackupSet(isFull: f.isFull, time: f.time, previousTime: f.previousTime)
            switch f.kind {
            case .fullVolume, .incVolume: s.volumes[f.volume ?? 1] = name
            case .fullManifest, .incManifest: s.manifest = name
            case .fullSignatures, .newSignatures: s.signatures = name
            }
            s.encrypted = s.encrypted || f.encrypted
            sets[key] = s
        }
        let complete = sets.values.filter(\.isComplete)
        orphans = sets.values.filter { !$0.isComplete }
        var chains = complete.filter(\.isFull).sorted { $0.time < $1.time }.map { BackupChain(full: $0) }
        var incs = complete.filter { !$0.isFull }.sorted { $0.time < $1.time }
        for i in chains.indices {
            var tail = chains[i].full.time
            while let next = incs.firstIndex(where: { $0.previousTime == tail }) {
                let inc = incs.remove(at: next)
                chains[i].incrementals.append(inc)
                tail = inc.time
            }
        }
        orphans += incs
        self.chains = chains
    }

    /// The chain a restore at `time` uses (duplicity's rule): the chain spanning it, else the
    /// latest that ended before it, else the earliest.
    public func chain(for time: Int64) -> BackupChain? {
        if let c = chains.last(where: { $0.start <= time && time <= $0.end }) { return c }
        if let c = chains.last(where: { $0.end < time }) { return c }
        return chains.first
    }
}
