import Foundation

/// Writes tar members in POSIX pax format, as Python's `tarfile` does: a plain ustar header
/// when every field fits, preceded by a `././@PaxHeader` member holding the fields that do not
/// (names over 100 bytes or not ASCII, big sizes, fractional or negative times).
public enum TarWriter {
    /// The header block(s) for `entry`; its data (padded with `padding(for:)`) follows.
    public static func header(for entry: TarEntry) -> [UInt8] {
        var pax: [(String, [UInt8])] = []
        let asciiName = entry.path.allSatisfy { $0 < 0x80 }
        if entry.path.count > 100 || !asciiName { pax.append(("path", entry.path)) }
        if entry.linkName.count > 100 || !entry.linkName.allSatisfy({ $0 < 0x80 }) { pax.append(("linkpath", entry.linkName)) }
        if entry.size >= 0o77777777777 { pax.append(("size", Array(String(entry.size).utf8))) }
        if entry.uid >= 0o7777777 || entry.uid < 0 { pax.append(("uid", Array(String(entry.uid).utf8))) }
        if entry.gid >= 0o7777777 || entry.gid < 0 { pax.append(("gid", Array(String(entry.gid).utf8))) }
        if entry.mtime < 0 || entry.mtime >= 0o77777777777 { pax.append(("mtime", Array(paxTime(entry.mtime).utf8))) }
        if !entry.userName.utf8.allSatisfy({ $0 < 0x80 }) || entry.userName.utf8.count > 32 { pax.append(("uname", Array(entry.userName.utf8))) }
        if !entry.groupName.utf8.allSatisfy({ $0 < 0x80 }) || entry.groupName.utf8.count > 32 { pax.append(("gname", Array(entry.groupName.utf8))) }

        var out: [UInt8] = []
        if !pax.isEmpty {
            var records: [UInt8] = []
            for (key, value) in pax { records += paxRecord(key, value) }
            var ext = TarEntry(path: Array("././@PaxHeader".utf8), type: .other(UInt8(ascii: "x")), mode: 0o644,
                               size: Int64(records.count))
            ext.mtime = 0
            out += ustarBlock(ext)
            out += records
            out += padding(for: Int64(records.count))
        }
        out += ustarBlock(entry)
        return out
    }

    /// Zeros that complete the last 512-byte block of `size` data bytes.
    public static func padding(for size: Int64) -> [UInt8] {
        let r = Int(size % Int64(tarBlockSize))
        return r == 0 ? [] : [UInt8](repeating: 0, count: tarBlockSize - r)
    }

    /// The end-of-archive marker: two zero blocks.
    public static let endOfArchive = [UInt8](repeating: 0, count: 2 * tarBlockSize)

    /// One pax record: `<length> <key>=<value>\n`, the length counting itself.
    static func paxRecord(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }

    static func paxTime(_ t: Double) -> String {
        if t == t.rounded() { return String(Int64(t)) }
        return String(format: "%.9f", t)
    }

    /// A ustar header block; fields that do not fit are truncated (the pax header holds them).
    static func ustarBlock(_ e: TarEntry) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: tarBlockSize)
        TarHeaderCodec.putBytes(e.path, into: &b, TarHeaderCodec.nameRange)
        _ = TarHeaderCodec.putOctal(Int64(e.mode & 0o7777), into: &b, TarHeaderCodec.modeRange)
        _ = TarHeaderCodec.putOctal(Int64(max(0, min(e.uid, 0o7777777))), into: &b, TarHeaderCodec.uidRange)
        _ = TarHeaderCodec.putOctal(Int64(max(0, min(e.gid, 0o7777777))), into: &b, TarHeaderCodec.gidRange)
        _ = TarHeaderCodec.putOctal(e.size >= 0o77777777777 ? 0 : e.size, into: &b, TarHeaderCodec.sizeRange)
        let mtime = Int64(e.mtime.rounded(.down))
        _ = TarHeaderCodec.putOctal(mtime < 0 || mtime >= 0o77777777777 ? 0 : mtime, into: &b, TarHeaderCodec.mtimeRange)
        b[TarHeaderCodec.typeIndex] = e.type.flag
        TarHeaderCodec.putBytes(e.linkName, into: &b, TarHeaderCodec.linkRange)
        TarHeaderCodec.putBytes(Array("ustar\0".utf8), into: &b, TarHeaderCodec.magicRange)
        TarHeaderCodec.putBytes(Array("00".utf8), into: &b, TarHeaderCodec.versionRange)
        TarHeaderCodec.putBytes(Array(e.userName.utf8), into: &b, TarHeaderCodec.unameRange)
        TarHeaderCodec.putBytes(Array(e.groupName.utf8), into: &b, TarHeaderCodec.gnameRange)
        _ = TarHeaderCodec.putOctal(Int64(e.deviceMajor), into: &b, TarHeaderCodec.majorRange)
        _ = TarHeaderCodec.putOctal(Int64(e.deviceMinor), into: &b, TarHeaderCodec.minorRange)
        // Checksum: six octal digits, NUL, space (as tarfile and GNU tar write it).
        let sum = TarHeaderCodec.checksum(b)
        let digits = String(sum, radix: 8)
        let field = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        TarHeaderCodec.putBytes(Array(field.utf8) + [0, UInt8(ascii: " ")], into: &b, TarHeaderCodec.checksumRange)
        return b
    }
}
