import Foundation
import NimbusCore

/// An open `.data` file: its metadata and positional reads of its bytes.
///
/// Reads use `pread`, so one reader serves any number of ranges. The descriptor closes when the
/// reader is released. Not shared across threads (a single request streams from it).
public final class ObjectReader: @unchecked Sendable {
    // @unchecked: the descriptor is only read with pread (no shared file offset) and `metadata`
    // is only mutated by `applyPost` before the reader is handed out.
    public let path: String
    private let fd: Int32
    /// Where the file's image starts in `fd` (0 for a plain file; a record's body in a volume).
    private let base: Int64
    /// The volume whose descriptor this reads (kept open as long as the reader lives); nil: a
    /// plain file's descriptor, this reader's to close.
    private let owner: AnyObject?
    /// Effective metadata: the `.data` metadata, with the user metadata of a newer `.meta` applied.
    public private(set) var metadata: [String: String]
    /// The metadata of the `.data` file alone, as its PUT wrote it.
    public let dataMetadata: [String: String]
    /// Length of the object's bytes (the footer excluded).
    public let contentLength: Int64
    /// Timestamp of the `.data` file.
    public let dataTimestamp: Timestamp

    convenience init(path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? DiskFileError.vanished(path) : DiskFileError.io("open \(path)") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw DiskFileError.io("stat \(path)")
        }
        try self.init(path: path, fd: fd, base: 0, size: Int64(st.st_size), owner: nil)
    }

    /// A file image of `size` bytes at `base` in `fd` (a volume record's body).
    init(path: String, fd: Int32, base: Int64, size: Int64, owner: AnyObject?) throws {
        do {
            let (meta, length) = try MetadataFooter.read(fd: fd, base: base, fileSize: size)
            guard let ts = meta["X-Timestamp"].flatMap({ Timestamp($0) }) else {
                throw DiskFileError.corrupt("metadata without X-Timestamp")
            }
            if let declared = meta["Content-Length"], Int64(declared) != length {
                throw DiskFileError.corrupt("Content-Length \(declared) but \(length) bytes on disk")
            }
            self.metadata = meta
            self.dataMetadata = meta
            self.contentLength = length
            self.dataTimestamp = ts
        } catch {
            if owner == nil { close(fd) }
            throw error
        }
        self.path = path
        self.fd = fd
        self.base = base
        self.owner = owner
    }

    deinit { if owner == nil { close(fd) } }

    /// Applies the metadata of a POST: user metadata and Content-Type are replaced; the
    /// immutable parts (ETag, length, name, data timestamp) stay.
    func applyPost(_ post: [String: String]) {
        var merged = metadata.filter { key, _ in !UserMetadata.isStoredObjectHeader(key) || key.lowercased().hasPrefix("x-object-sysmeta-") || key.lowercased() == "x-static-large-object" }
        for (k, v) in post where k != "X-Timestamp" && k != "name" { merged[k] = v }
        merged["X-Timestamp"] = metadata["X-Timestamp"]
        merged["X-Meta-Timestamp"] = post["X-Timestamp"]
        metadata = merged
    }

    /// Reads up to `buffer.count` bytes at `offset` within the object; returns the count read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        let want = Int(min(Int64(buffer.count), contentLength - offset))
        guard want > 0 else { return 0 }
        while true {
            let n = pread(fd, buffer.baseAddress, want, off_t(base + offset))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw DiskFileError.io("read \(path): \(String(cString: strerror(errno)))") }
            return n
        }
    }

    /// The stored ETag (MD5 of the bytes).
    public var etag: String { metadata["ETag"] ?? "" }
}
