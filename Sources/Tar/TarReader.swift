import Foundation

/// A streaming tar parser: feed bytes as they arrive (from a socket, a gunzip…) and get
/// members back as events, without holding any member's data in memory.
///
/// Reads ustar and POSIX pax (`x` per-member and `g` global headers) as written by Python's
/// `tarfile` and GNU tar, GNU long names and link names (`L`/`K`), base-256 numbers, and
/// archives that stop without the end-of-archive blocks (duplicity's volumes do).
public final class TarReader {
    public enum Event: Equatable {
        /// A member begins; its data follows as `.data` chunks, then `.entryEnd`.
        case entry(TarEntry)
        case data([UInt8])
        case entryEnd
        /// The end-of-archive marker was seen; later bytes are ignored.
        case end
    }

    private enum State {
        case header
        /// Data of the current member: bytes left, then padding to skip.
        case data(remaining: Int64, padding: Int)
        /// Zero padding after a member's data.
        case skip(Int)
        /// Payload of a pax or GNU long-name member being collected.
        case extended(kind: UInt8, remaining: Int64, padding: Int)
        case ended
    }

    private var state = State.header
    private var buffer: [UInt8] = []
    private var position = 0
    private var extendedPayload: [UInt8] = []
    private var longName: [UInt8]?
    private var longLink: [UInt8]?
    private var pax: [String: [UInt8]] = [:]
    private var globalPax: [String: [UInt8]] = [:]

    public init() {}

    /// True when no member is half read (a clean place for the stream to stop).
    public var atMemberBoundary: Bool {
        switch state {
        case .header, .ended: return buffer.count == position
        case .skip: return true
        default: return false
        }
    }

    /// Parses `bytes`; returns the events they complete.
    public func feed(_ bytes: some Collection<UInt8>) throws -> [Event] {
        if case .ended = state { return [] }
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        } else if position > 1 << 20 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        loop: while true {
            let available = buffer.count - position
            switch state {
            case .ended:
                break loop
            case .header:
                guard available >= tarBlockSize else { break loop }
                let block = Array(buffer[position..<(position + tarBlockSize)])
                position += tarBlockSize
                if block.allSatisfy({ $0 == 0 }) {
                    state = .ended
                    events.append(.end)
                    break loop
                }
                try header(block, &events)
            case .data(let remaining, let padding):
                if remaining > 0 {
                    guard available > 0 else { break loop }
                    let n = Int(min(Int64(available), remaining))
                    events.append(.data(Array(buffer[position..<(position + n)])))
                    position += n
                    state = .data(remaining: remaining - Int64(n), padding: padding)
                    continue
                }
                events.append(.entryEnd)
                state = .skip(padding)
            case .skip(let padding):
                // A truncated volume may stop before the padding: that is not an error.
                let n = min(available, padding)
                position += n
                if n < padding {
                    state = .skip(padding - n)
                    break loop
                }
                state = .header
            case .extended(let kind, let remaining, let padding):
                if remaining > 0 {
                    guard available > 0 else { break loop }
                    let n = Int(min(Int64(available), remaining))
                    extendedPayload.append(contentsOf: buffer[position..<(position + n)])
                    position += n
                    state = .extended(kind: kind, remaining: remaining - Int64(n), padding: padding)
                    continue
                }
                guard available >= padding else { break loop }
                position += padding
                try finishExtended(kind)
                state = .header
            }
        }
        return events
    }

    /// Checks that the stream did not stop inside a member.
    public func finish() throws {
        switch state {
        case .header, .ended, .skip: return
        default: throw TarError("archive ends inside a member")
        }
    }

    private func header(_ block: [UInt8], _ events: inout [Event]) throws {
        let stored = try TarHeaderCodec.number(block[TarHeaderCodec.checksumRange])
        guard stored == TarHeaderCodec.checksum(block) else { throw TarError("bad header checksum") }
        let flag = block[TarHeaderCodec.typeIndex]
        let size = try TarHeaderCodec.number(block[TarHeaderCodec.sizeRange])
        guard size >= 0 else { throw TarError("negative member size") }
        let padding = Int((Int64(tarBlockSize) - size % Int64(tarBlockSize)) % Int64(tarBlockSize))
        switch flag {
        case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
            guard size < 16 << 20 else { throw TarError("extended header too large") }
            extendedPayload = []
            state = .extended(kind: flag, remaining: size, padding: padding)
            return
        default:
            break
        }
        var name = TarHeaderCodec.string(block[TarHeaderCodec.nameRange])
        let magic = Array(block[TarHeaderCodec.magicRange])
        if magic == Array("ustar\0".utf8) {
            let prefix = TarHeaderCodec.string(block[TarHeaderCodec.prefixRange])
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        var entry = TarEntry(path: name, type: TarEntryType(flag: flag),
                             mode: UInt32(truncatingIfNeeded: try TarHeaderCodec.number(block[TarHeaderCodec.modeRange])),
                             uid: Int(try TarHeaderCodec.number(block[TarHeaderCodec.uidRange])),
                             gid: Int(try TarHeaderCodec.number(block[TarHeaderCodec.gidRange])),
                             size: size, mtime: Double(try TarHeaderCodec.number(block[TarHeaderCodec.mtimeRange])),
                             linkName: TarHeaderCodec.string(block[TarHeaderCodec.linkRange]),
                             userName: String(decoding: TarHeaderCodec.string(block[TarHeaderCodec.unameRange]), as: UTF8.self),
                             groupName: String(decoding: TarHeaderCodec.string(block[TarHeaderCodec.gnameRange]), as: UTF8.self),
                             deviceMajor: Int(try TarHeaderCodec.number(block[TarHeaderCodec.majorRange])),
                             deviceMinor: Int(try TarHeaderCodec.number(block[TarHeaderCodec.minorRange])))
        if let longName { entry.path = longName }
        if let longLink { entry.linkName = longLink }
        for (key, value) in globalPax.merging(pax, uniquingKeysWith: { $1 }) { try apply(key, value, to: &entry) }
        longName = nil
        longLink = nil
        pax = [:]
        // Members without data (directories, links) may still declare a size; only regular
        // files (and unknown types) carry data in the archive.
        var dataSize = entry.size
        if [.directory, .symlink, .hardLink, .characterDevice, .blockDevice, .fifo].contains(entry.type) { dataSize = 0 }
        events.append(.entry(entry))
        let pad = Int((Int64(tarBlockSize) - dataSize % Int64(tarBlockSize)) % Int64(tarBlockSize))
        state = .data(remaining: dataSize, padding: pad)
    }

    private func apply(_ key: String, _ value: [UInt8], to entry: inout TarEntry) throws {
        let text = String(decoding: value, as: UTF8.self)
        switch key {
        case "path": entry.path = value
        case "linkpath": entry.linkName = value
        case "size":
            guard let n = Int64(text), n >= 0 else { throw TarError("bad pax size") }
            entry.size = n
        case "mtime": entry.mtime = Double(text) ?? entry.mtime
        case "uid": entry.uid = Int(text) ?? entry.uid
        case "gid": entry.gid = Int(text) ?? entry.gid
        case "uname": entry.userName = text
        case "gname": entry.groupName = text
        case "atime", "ctime", "comment", "charset", "hdrcharset": break
        default: entry.extendedHeaders[key] = value
        }
    }

    private func finishExtended(_ kind: UInt8) throws {
        let payload = extendedPayload
        extendedPayload = []
        switch kind {
        case UInt8(ascii: "L"): longName = Array(payload.prefix { $0 != 0 })
        case UInt8(ascii: "K"): longLink = Array(payload.prefix { $0 != 0 })
        default:
            let records = try Self.parsePax(payload)
            if kind == UInt8(ascii: "g") {
                globalPax.merge(records) { $1 }
            } else {
                pax.merge(records) { $1 }
            }
            // Endless headers with new keys would otherwise pile up without bound.
            let held = (globalPax.values.map(\.count) + pax.values.map(\.count)).reduce(0, +) + globalPax.count + pax.count
            guard held <= Self.maxExtendedBytes else { throw TarError("extended headers too large") }
        }
    }

    /// Most bytes of pax values held at once (per member and global together).
    static let maxExtendedBytes = 16 << 20

    /// `<length> <key>=<value>\n` records.
    static func parsePax(_ payload: [UInt8]) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var i = 0
        while i < payload.count {
            guard let space = payload[i...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: payload[i..<space], as: UTF8.self)), length > 0, length <= payload.count - i,
                  payload[i + length - 1] == UInt8(ascii: "\n") else {
                if payload[i...].allSatisfy({ $0 == 0 }) { break }
                throw TarError("bad pax record")
            }
            let record = payload[(space + 1)..<(i + length - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else { throw TarError("bad pax record") }
            out[String(decoding: record[record.startIndex..<eq], as: UTF8.self)] = Array(record[(eq + 1)...])
            i += length
        }
        return out
    }
}
