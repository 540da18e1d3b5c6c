import Foundation
import NimbusCore

/// The on-disk form of a `Ring` (`*.ring.json`): JSON, with each replica's partition→device
/// table as base64 of little-endian UInt16 values. See docs/ring-format.md.
struct RingFile: Codable {
    var format: String
    var partPower: Int
    var replicas: Int
    var devices: [RingDevice?]
    var assignments: [String]
    var hashPathPrefix: String
    var hashPathSuffix: String

    static let formatName = "nimbus-ring/1"
}

extension Ring {
    /// Writes the ring atomically (temp file + rename), so a node never reads half a ring.
    public func save(to path: String) throws {
        let file = RingFile(
            format: RingFile.formatName, partPower: partPower, replicas: replicas, devices: devices,
            assignments: assignments.map { Self.encodeRow($0) },
            hashPathPrefix: hashPath.prefix, hashPathSuffix: hashPath.suffix)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(file), to: path)
    }

    /// Loads a ring written by `save(to:)`.
    public static func load(from path: String) throws -> Ring {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let file = try JSONDecoder().decode(RingFile.self, from: data)
        guard file.format == RingFile.formatName else { throw RingError.badFile("\(path): unknown format \(file.format)") }
        let rows = try file.assignments.map { text -> [UInt16] in
            guard let row = decodeRow(text), row.count == 1 << file.partPower else {
                throw RingError.badFile("\(path): assignment table has the wrong size")
            }
            return row
        }
        guard rows.count == file.replicas else { throw RingError.badFile("\(path): replica count mismatch") }
        for row in rows {
            for id in row where Int(id) >= file.devices.count || file.devices[Int(id)] == nil {
                throw RingError.badFile("\(path): partition assigned to unknown device \(id)")
            }
        }
        return Ring(partPower: file.partPower, replicas: file.replicas, devices: file.devices, assignments: rows,
                    hashPath: HashPathConfig(prefix: file.hashPathPrefix, suffix: file.hashPathSuffix))
    }

    static func encodeRow(_ row: [UInt16]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(row.count * 2)
        for v in row { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
        return Data(bytes).base64EncodedString()
    }

    static func decodeRow(_ text: String) -> [UInt16]? {
        guard let data = Data(base64Encoded: text), data.count % 2 == 0 else { return nil }
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }
}

/// Errors from building or loading rings.
public enum RingError: Error, CustomStringConvertible {
    case badFile(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .badFile(let s): return "bad ring file: \(s)"
        case .invalid(let s): return s
        }
    }
}
