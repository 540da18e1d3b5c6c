import Foundation
import Gzip
import Tar

/// Cuts the data of a backup set into volumes of about `volumeSize` stored bytes, between
/// tar members, and uploads each as it closes — in the background, while the next volume is
/// written (one upload in flight; a volume counts as stored once its upload finished).
///
/// Members are gathered into segments of up to 1 MiB, each either compressible or not (the
/// caller samples the data); segments are compressed into gzip members on all cores while
/// the caller reads on, and written in order. A volume is cut before a segment once its
/// stored size is within 64 KiB of the limit (duplicity checks before each member; a
/// segment is at most 1 MiB, so volumes overshoot by no more than that).
final class VolumeWriter {
    /// A member's place in the backup: path (`.` for the root) and multivol chunk.
    struct Mark {
        let path: String
        let chunk: Int?
    }

    private struct Segment {
        var bytes: [UInt8] = []
        var marks: [Mark] = []
        var compressible = true
    }

    private struct InFlight {
        let stored: Task<[UInt8], Never>
        let marks: [Mark]
        let tarCount: Int
    }

    let work: String
    let compress: Bool
    let gpg: GPG?
    let volumeSize: Int64
    let name: (Int) -> String
    let upload: @Sendable (String, String) async throws -> Void
    private(set) var volumes: [Manifest.Volume] = []
    /// Bytes of the volumes this run stored.
    private(set) var storedBytes: Int64 = 0
    /// Called after each volume is stored (the resume record is written there).
    var onVolumeStored: (([Manifest.Volume]) throws -> Void)?
    private var current: TarGzFile?
    private var number = 0
    private var start: Mark?
    private var last = Mark(path: ".", chunk: nil)
    private var segment = Segment()
    private var inFlight: [InFlight] = []
    /// The volume being uploaded: its upload, its manifest record, its local file.
    private var uploading: (task: Task<Void, Error>, record: Manifest.Volume, path: String)?
    private let maxInFlight = 2 * ProcessInfo.processInfo.activeProcessorCount
    static let segmentSize = 1 << 20

    init(work: String, compress: Bool, gpg: GPG?, volumeSize: Int64, name: @escaping (Int) -> String,
         upload: @escaping @Sendable (String, String) async throws -> Void) {
        self.work = work
        self.gpg = gpg
        // GnuPG compresses inside: encrypted volumes hold a plain tar.
        self.compress = compress && gpg == nil
        self.volumeSize = volumeSize
        self.name = name
        self.upload = upload
    }

    /// Continues a set whose first volumes an interrupted run already stored.
    func resume(after stored: [Manifest.Volume]) {
        volumes = stored
        number = stored.last?.number ?? 0
    }

    /// Adds one member (header and data); `compressible` says whether its data is worth
    /// compressing.
    func add(_ header: TarEntry, data: [UInt8], path: String, chunk: Int?, compressible: Bool = true) async throws {
        var h = header
        h.size = Int64(data.count)
        let headerBytes = TarWriter.header(for: h)
        let size = headerBytes.count + data.count + TarWriter.padding(for: Int64(data.count)).count
        let compressible = data.isEmpty ? true : compressible
        if !segment.bytes.isEmpty && (segment.compressible != compressible || segment.bytes.count + size > Self.segmentSize) {
            try await submitSegment()
        }
        if segment.bytes.isEmpty {
            segment.compressible = compressible
            segment.bytes.reserveCapacity(max(size, Self.segmentSize))
        }
        segment.bytes += headerBytes
        segment.bytes += data
        segment.bytes += TarWriter.padding(for: Int64(data.count))
        segment.marks.append(Mark(path: path.isEmpty ? "." : path, chunk: chunk))
    }

    private func submitSegment() async throws {
        let s = segment
        segment = Segment()
        guard !s.bytes.isEmpty else { return }
        guard compress else {
            try await store(s.bytes, marks: s.marks, tarCount: s.bytes.count)
            return
        }
        let bytes = s.bytes, compressible = s.compressible
        let task = Task.detached { CompressorPool.shared.member(bytes, compressible: compressible) }
        inFlight.append(InFlight(stored: task, marks: s.marks, tarCount: s.bytes.count))
        while inFlight.count > maxInFlight { try await storeOldest() }
    }

    private func storeOldest() async throws {
        let oldest = inFlight.removeFirst()
        try await store(await oldest.stored.value, marks: oldest.marks, tarCount: oldest.tarCount)
    }

    /// Writes a segment (compressed or plain) into the current volume, cutting first when
    /// the volume is full.
    private func store(_ bytes: [UInt8], marks: [Mark], tarCount: Int) async throws {
        guard let first = marks.first, let lastMark = marks.last else { return }
        if let c = current, c.storedBytes >= volumeSize - 65536 {
            // The ending block is recorded only when this file goes on in the next volume.
            try await closeVolume(continuing: first.path == last.path && (first.chunk ?? 0) > 1)
        }
        if current == nil {
            number += 1
            current = try TarGzFile(path: "\(work)/volume-\(number)", compress: compress)
            start = first
        }
        try current!.append(stored: bytes, tarCount: tarCount)
        last = lastMark
    }

    /// Closes the volume being written; `continuing` says a file may go on in the next one.
    private func closeVolume(continuing: Bool = false) async throws {
        guard let c = current, let start else { return }
        var sha1 = try c.finish()
        current = nil
        let volumeName = name(number)
        var stored = c.path
        if let gpg {
            stored = c.path + ".gpg"
            try await gpg.encrypt(c.path, to: stored)
            unlink(c.path)
            sha1 = try Restorer.sha1(stored)
        }
        storedBytes += BackupWriter.size(stored)
        let record = Manifest.Volume(number: number, startPath: start.path, startBlock: start.chunk, endPath: last.path,
                                     endBlock: continuing ? last.chunk : nil, hash: ("SHA1", sha1))
        self.start = nil
        try await awaitUpload()
        let upload = self.upload, path = stored
        uploading = (Task { try await upload(path, volumeName) }, record, stored)
    }

    /// Waits for the volume in upload, then records it as stored.
    private func awaitUpload() async throws {
        guard let u = uploading else { return }
        uploading = nil
        defer { unlink(u.path) }
        try await u.task.value
        volumes.append(u.record)
        try onVolumeStored?(volumes)
    }

    /// Ends the set; answers the volume records for the manifest.
    func finish() async throws -> [Manifest.Volume] {
        try await submitSegment()
        while !inFlight.isEmpty { try await storeOldest() }
        if current == nil && volumes.isEmpty {
            // An empty set still has one (empty) volume, as duplicity writes.
            number = 1
            current = try TarGzFile(path: "\(work)/volume-1", compress: compress)
            start = Mark(path: ".", chunk: nil)
            last = Mark(path: ".", chunk: nil)
        }
        try await closeVolume()
        try await awaitUpload()
        // The last volume's end has no block number when the file finished there.
        if var v = volumes.popLast() {
            v.endBlock = nil
            volumes.append(v)
        }
        return volumes
    }
}
