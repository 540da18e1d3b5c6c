import Foundation

/// The record an interrupted run left in the cache: its set time and stored volumes.
struct Resume {
    let time: Int64
    let volumes: [Manifest.Volume]

    /// The resumable partial set following `previousTime` (a full one when nil), if its
    /// recorded volumes are all still on the target.
    static func find(cache: String?, previousTime: Int64?, backend: any BackupBackend) async throws -> Resume? {
        guard let cache, let names = try? FileManager.default.contentsOfDirectory(atPath: cache) else { return nil }
        for name in names where name.hasSuffix(".manifest.part") {
            guard let f = BackupFileName.parse(String(name.dropLast(".part".count))), f.previousTime == previousTime,
                  previousTime == nil ? f.kind == .fullManifest : f.kind == .incManifest,
                  let text = try? String(contentsOfFile: "\(cache)/\(name)", encoding: .utf8) else { continue }
            let volumes = try Manifest(parsing: text).volumes
            let kind: BackupFileName.Kind = previousTime == nil ? .fullVolume : .incVolume
            let present = Set(try await backend.list())
            let stored = volumes.prefix { v in
                present.contains(BackupFileName(kind: kind, time: f.time, previousTime: previousTime, volume: v.number, compressed: true).name)
                    || present.contains(BackupFileName(kind: kind, time: f.time, previousTime: previousTime, volume: v.number,
                                                       encrypted: true).name)
                    || present.contains(BackupFileName(kind: kind, time: f.time, previousTime: previousTime, volume: v.number,
                                                       compressed: false).name)
            }
            guard !stored.isEmpty else { continue }
            return Resume(time: f.time, volumes: Array(stored))
        }
        return nil
    }
}
