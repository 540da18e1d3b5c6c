/// The kind of a tar member.
public enum TarEntryType: Equatable, Sendable {
    case regular, hardLink, symlink, characterDevice, blockDevice, directory, fifo
    /// A type this reader does not know (kept as its flag byte).
    case other(UInt8)

    public init(flag: UInt8) {
        switch flag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): self = .regular
        case UInt8(ascii: "1"): self = .hardLink
        case UInt8(ascii: "2"): self = .symlink
        case UInt8(ascii: "3"): self = .characterDevice
        case UInt8(ascii: "4"): self = .blockDevice
        case UInt8(ascii: "5"): self = .directory
        case UInt8(ascii: "6"): self = .fifo
        default: self = .other(flag)
        }
    }

    public var flag: UInt8 {
        switch self {
        case .regular: return UInt8(ascii: "0")
        case .hardLink: return UInt8(ascii: "1")
        case .symlink: return UInt8(ascii: "2")
        case .characterDevice: return UInt8(ascii: "3")
        case .blockDevice: return UInt8(ascii: "4")
        case .directory: return UInt8(ascii: "5")
        case .fifo: return UInt8(ascii: "6")
        case .other(let f): return f
        }
    }
}

/// One tar member's metadata. Names are raw bytes (file systems allow any bytes but NUL and `/`).
public struct TarEntry: Equatable, Sendable {
    public var path: [UInt8]
    public var type: TarEntryType
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    /// Bytes of data that follow the header.
    public var size: Int64
    /// Modification time, seconds since the epoch (PAX gives fractions).
    public var mtime: Double
    public var linkName: [UInt8]
    public var userName: String
    public var groupName: String
    public var deviceMajor: Int
    public var deviceMinor: Int
    /// Pax records this reader does not interpret (e.g. `SCHILY.xattr.user.*`).
    public var extendedHeaders: [String: [UInt8]] = [:]

    public init(path: [UInt8], type: TarEntryType = .regular, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0, size: Int64 = 0,
                mtime: Double = 0, linkName: [UInt8] = [], userName: String = "", groupName: String = "",
                deviceMajor: Int = 0, deviceMinor: Int = 0) {
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.linkName = linkName
        self.userName = userName
        self.groupName = groupName
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
    }

    public init(path: String, type: TarEntryType = .regular, mode: UInt32 = 0o644, size: Int64 = 0, mtime: Double = 0) {
        self.init(path: Array(path.utf8), type: type, mode: mode, size: size, mtime: mtime)
    }

    /// The name as text (invalid UTF-8 shown as U+FFFD).
    public var name: String { String(decoding: path, as: UTF8.self) }
}

/// A malformed archive.
public struct TarError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Tar's 512-byte block size.
public let tarBlockSize = 512
