import Foundation

/// How an object's metadata is kept on disk: as a footer after the object's bytes.
///
/// `[object bytes][metadata JSON][UInt32 LE length of the JSON]["NMB1"]`
///
/// The object bytes start at offset 0, so the file is the object for any tool that reads a
/// known length; the metadata travels in the same file and the same atomic rename as the data,
/// and its size is not bounded by xattr space (ext4 keeps all xattrs of a file in one 4 KiB
/// block, which is why OpenStack Swift answers 507 for objects with the full 4 KiB of user
/// metadata there). `.meta` and `.ts` files are a footer with no bytes in front.
public enum MetadataFooter {
    static let magic: [UInt8] = Array("NMB1".utf8)
    static let trailerSize = 8

    /// Serialises metadata into footer bytes.
    public static func encode(_ metadata: [String: String]) throws -> [UInt8] {
        // Written by hand: JSONSerialization (boxing every string into an NSString and back)
        // was 4 % of a small PUT's CPU. Sorted keys, as before; any JSON reader reads it.
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(64 * metadata.count + 16)
        for (i, key) in metadata.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(metadata[key] ?? "", to: &out)
        }
        out.append(UInt8(ascii: "}"))
        let n = UInt32(out.count)
        out += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24 & 0xff)]
        out += magic
        return out
    }

    /// A JSON string literal: quote, backslash and control characters escaped, the rest as UTF-8.
    static func appendJSONString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Reads the footer of an open file: the metadata and the length of the bytes before it.
    public static func read(fd: Int32, fileSize: Int64) throws -> (metadata: [String: String], dataLength: Int64) {
        try read(fd: fd, base: 0, fileSize: fileSize)
    }

    /// As `read(fd:fileSize:)`, for a file whose image starts at `base` (a volume record's body).
    public static func read(fd: Int32, base: Int64, fileSize: Int64) throws -> (metadata: [String: String], dataLength: Int64) {
        guard fileSize >= Int64(trailerSize) else { throw DiskFileError.corrupt("file too short for a metadata footer") }
        var trailer = [UInt8](repeating: 0, count: trailerSize)
        guard preadFully(fd, &trailer, offset: base + fileSize - Int64(trailerSize)) else { throw DiskFileError.corrupt("cannot read footer") }
        guard Array(trailer[4..<8]) == magic else { throw DiskFileError.corrupt("bad footer magic") }
        let length = Int64(trailer[0]) | Int64(trailer[1]) << 8 | Int64(trailer[2]) << 16 | Int64(trailer[3]) << 24
        guard length <= fileSize - Int64(trailerSize) else { throw DiskFileError.corrupt("footer length out of range") }
        var json = [UInt8](repeating: 0, count: Int(length))
        let start = fileSize - Int64(trailerSize) - length
        guard preadFully(fd, &json, offset: base + start) else { throw DiskFileError.corrupt("cannot read metadata") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: String] else {
            throw DiskFileError.corrupt("metadata is not a JSON object of strings")
        }
        return (object, start)
    }

    /// Reads the footer of a file image held in memory (a replicated file checked before it is kept).
    static func read(image: UnsafeRawBufferPointer) throws -> (metadata: [String: String], dataLength: Int64) {
        let size = image.count
        guard size >= trailerSize else { throw DiskFileError.corrupt("file too short for a metadata footer") }
        guard Array(image[(size - 4)..<size]) == magic else { throw DiskFileError.corrupt("bad footer magic") }
        let t = size - trailerSize
        let length = Int(image[t]) | Int(image[t + 1]) << 8 | Int(image[t + 2]) << 16 | Int(image[t + 3]) << 24
        guard length <= t else { throw DiskFileError.corrupt("footer length out of range") }
        let json = Data(image[(t - length)..<t])
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: String] else {
            throw DiskFileError.corrupt("metadata is not a JSON object of strings")
        }
        return (object, Int64(t - length))
    }

    static func preadFully(_ fd: Int32, _ buffer: inout [UInt8], offset: Int64) -> Bool {
        let count = buffer.count
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}

/// Errors of the on-disk object layer.
public enum DiskFileError: Error, CustomStringConvertible {
    case corrupt(String)
    case io(String)
    case exists
    /// A file listed a moment ago was replaced by a newer version (not damage).
    case vanished(String)

    public var description: String {
        switch self {
        case .corrupt(let s): return "corrupt object file: \(s)"
        case .io(let s): return "I/O error: \(s)"
        case .vanished(let s): return "replaced while opening: \(s)"
        case .exists: return "a file with this timestamp already exists"
        }
    }
}
