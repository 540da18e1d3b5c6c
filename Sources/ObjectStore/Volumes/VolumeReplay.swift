import Foundation

/// Reads a volume's records from after its header, as a store opens it: each record whose
/// (salted) CRC checks goes to the index. A record that does not check is either the torn tail of a crash (nothing
/// sound after it) or damage in the middle (bit rot): then the next sound record is searched for
/// and the damaged bytes are skipped, never cut — the records after them are still good, and
/// the lost file comes back from the other replicas as any quarantined one does.
struct VolumeReplay {
    let fd: Int32
    let size: Int64
    let seed: UInt32
    private var buffer = [UInt8](repeating: 0, count: 8 << 20)
    private var bufferStart: Int64 = 0
    private var bufferCount = 0

    init(fd: Int32, size: Int64, seed: UInt32) {
        self.fd = fd
        self.size = size
        self.seed = seed
    }

    /// What the replay found: the end of the last sound record and the bytes skipped as damaged.
    struct Outcome {
        var end: Int64 = 0
        var damaged: Int64 = 0
    }

    /// Replays every record into `apply`.
    /// Replays every record into `apply`; a read error throws (nothing may be cut then).
    mutating func run(_ apply: (VolumeRecord, _ bodyOffset: Int64) -> Void) throws -> Outcome {
        var outcome = Outcome()
        var offset = Int64(VolumeHeader.size)
        outcome.end = offset
        while offset < size {
            if let record = try record(at: offset) {
                apply(record, offset + Int64(record.bodyOffset))
                offset += record.length
                outcome.end = offset
                continue
            }
            // Not a record: the zeros written ahead of the last one, a torn tail, or damage.
            // Only a sound record further on tells damage (skipped) from the end (cut).
            guard let next = try nextSoundRecord(after: offset) else { break }
            outcome.damaged += next - offset
            offset = next
        }
        return outcome
    }

    /// The sound record at `offset`, or nil.
    mutating func record(at offset: Int64) throws -> VolumeRecord? {
        guard try fill(offset, VolumeRecord.headerSize) else { return nil }
        // The whole record's length, from its header, before the CRC check reads all of it.
        let at = Int(offset - bufferStart)
        let lengths = buffer.withUnsafeBytes { b -> (Int, Int, UInt64) in
            (Int(b[at + 9]), Int(b[at + 10]) | Int(b[at + 11]) << 8,
             (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + 12 + $1]) << (8 * UInt64($1)) })
        }
        // A claimed length beyond any record's is damage, not a reason to read gigabytes.
        guard lengths.2 <= UInt64(VolumeRecord.maxBodyLength) else { return nil }
        let total = UInt64(VolumeRecord.headerSize + lengths.0 + lengths.1) + lengths.2
        guard total <= UInt64(size - offset), try fill(offset, Int(total)) else { return nil }
        let seed = self.seed
        return buffer.withUnsafeBytes { b in
            VolumeRecord.decode(UnsafeRawBufferPointer(rebasing: b[0..<bufferCount]), at: Int(offset - bufferStart), seed: seed)
        }
    }

    /// Where the next sound record after a damaged one at `offset` starts, if any.
    mutating func nextSoundRecord(after offset: Int64) throws -> Int64? {
        let magic = VolumeRecord.magic
        var at = offset + 1
        while at + Int64(VolumeRecord.headerSize) <= size {
            guard try fill(at, min(Int(size - at), 1 << 20)) else { return nil }
            let start = Int(at - bufferStart)
            // memchr for the magic's first byte: the scan can run over a whole volume.
            let count = bufferCount
            let hit = buffer.withUnsafeBytes { b -> Int? in
                var from = start
                while from < count, let p = memchr(b.baseAddress! + from, Int32(magic[0]), count - from) {
                    let i = b.baseAddress!.distance(to: UnsafeRawPointer(p))
                    if i + 4 <= count && b[i + 1] == magic[1] && b[i + 2] == magic[2] && b[i + 3] == magic[3] { return i }
                    from = i + 1
                }
                return nil
            }
            guard let i = hit else {
                at = bufferStart + Int64(bufferCount) - 3
                if bufferStart + Int64(bufferCount) >= size { return nil }
                continue
            }
            let found = bufferStart + Int64(i)
            if try record(at: found) != nil { return found }
            at = found + 1
        }
        return nil
    }

    /// Makes `need` bytes from `offset` available in the buffer (growing it for a big record).
    /// False when the file ends first; a read error throws.
    private mutating func fill(_ offset: Int64, _ need: Int) throws -> Bool {
        if offset >= bufferStart && offset + Int64(need) <= bufferStart + Int64(bufferCount) { return true }
        let want = Int(min(Int64(max(buffer.count, need)), size - offset))
        guard want >= need else { return false }
        // Nothing in the buffer counts until it is read again.
        bufferCount = 0
        if want > buffer.count { buffer = [UInt8](repeating: 0, count: want) }
        var done = 0
        while done < want {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, want - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw DiskFileError.io("read of a volume: \(String(cString: strerror(errno)))") }
            if n == 0 { return false }
            done += n
        }
        bufferStart = offset
        bufferCount = want
        return true
    }
}
