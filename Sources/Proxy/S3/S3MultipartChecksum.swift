import Digest
import Foundation
import HTTPServerKit
import NIOHTTP1

/// The checksum a multipart upload was created with (`x-amz-checksum-algorithm`,
/// `x-amz-checksum-type`): each part carries one of that algorithm (declared, trailed or
/// computed), and the completed object's is made from the parts' —
/// - `COMPOSITE`: the algorithm over the parts' raw checksums, then `-<part count>`;
/// - `FULL_OBJECT` (CRCs only): the CRC of the whole object, combined from the parts' CRCs
///   and sizes without reading them.
struct S3MultipartChecksum: Equatable {
    let algorithm: String
    let type: String

    static let algorithmSysmeta = "X-Object-Sysmeta-S3api-Checksum-Algorithm"
    static let typeSysmeta = "X-Object-Sysmeta-S3api-Checksum-Type"
    static let crcs: Set<String> = ["CRC32", "CRC32C", "CRC64NVME"]

    /// What CreateMultipartUpload asks for; nil without an algorithm. AWS's defaults:
    /// FULL_OBJECT for CRC-64/NVME (it has no composite form), COMPOSITE for the others.
    static func requested(_ request: HTTPRequest) throws(S3Error) -> S3MultipartChecksum? {
        let type = request.header("x-amz-checksum-type")?.uppercased()
        guard let text = request.header("x-amz-checksum-algorithm") else {
            if type != nil { throw S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.") }
            return nil
        }
        let algorithm = text.uppercased()
        guard S3BodyCheck.algorithms.contains(algorithm) else {
            throw S3Error.invalidArgument("Checksum algorithm provided is unsupported.", name: "x-amz-checksum-algorithm", value: text)
        }
        let chosen = type ?? (algorithm == "CRC64NVME" ? "FULL_OBJECT" : "COMPOSITE")
        switch chosen {
        case "FULL_OBJECT" where !crcs.contains(algorithm), "COMPOSITE" where algorithm == "CRC64NVME":
            throw S3Error("InvalidRequest", "The \(chosen) checksum type cannot be used with the \(algorithm.lowercased()) checksum algorithm.")
        case "FULL_OBJECT", "COMPOSITE":
            return S3MultipartChecksum(algorithm: algorithm, type: chosen)
        default:
            throw S3Error.invalidArgument("Value for x-amz-checksum-type header is invalid.", name: "x-amz-checksum-type", value: type ?? "")
        }
    }

    /// The one an upload's marker (or a completed object) keeps.
    init?(stored headers: HTTPHeaders) {
        if let algorithm = headers.first(name: Self.algorithmSysmeta), S3BodyCheck.algorithms.contains(algorithm),
           let type = headers.first(name: Self.typeSysmeta) {
            self.init(algorithm: algorithm, type: type)
        } else if let algorithm = headers.first(name: Self.legacyAlgorithmMeta), S3BodyCheck.algorithms.contains(algorithm) {
            // An upload begun before types existed kept its algorithm as metadata.
            self.init(algorithm: algorithm, type: algorithm == "CRC64NVME" ? "FULL_OBJECT" : "COMPOSITE")
        } else {
            return nil
        }
    }

    /// Where uploads begun by earlier versions keep their algorithm (not the object's metadata).
    static let legacyAlgorithmMeta = "X-Object-Meta-S3api-Checksum-Algorithm"

    init(algorithm: String, type: String) {
        self.algorithm = algorithm
        self.type = type
    }

    var sysmeta: [(String, String)] { [(Self.algorithmSysmeta, algorithm), (Self.typeSysmeta, type)] }

    var responseHeaders: HTTPHeaders { ["x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": type] }

    /// The XML element naming this algorithm's value (`ChecksumSHA256`).
    var element: String { "Checksum" + algorithm }

    /// The completed object's checksum from its parts' (base64 values, in order, and sizes);
    /// nil if a value is not this algorithm's.
    func combine(_ parts: [(value: String, size: Int64)]) -> String? {
        var raw: [[UInt8]] = []
        for p in parts {
            guard let bytes = Data(base64Encoded: p.value), S3BodyCheck.isWellFormed(p.value, algorithm: algorithm) else { return nil }
            raw.append(Array(bytes))
        }
        guard let first = raw.first else { return nil }
        if type == "FULL_OBJECT" {
            guard let kind = Self.crcKind(algorithm) else { return nil }
            var value = Self.integer(first)
            for (bytes, p) in zip(raw.dropFirst(), parts.dropFirst()) { value = kind.combine(value, Self.integer(bytes), secondLength: p.size) }
            let width = UInt64(kind.width)
            return Data((0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }).base64EncodedString()
        }
        let joined = raw.flatMap { $0 }
        let digest: [UInt8]
        if let kind = Self.crcKind(algorithm) {
            var crc = CRC(kind)
            crc.update(joined)
            digest = crc.bytes
        } else {
            digest = Digests.digest(algorithm == "SHA1" ? .sha1 : .sha256, joined)
        }
        return Data(digest).base64EncodedString() + "-\(parts.count)"
    }

    static func crcKind(_ algorithm: String) -> CRC.Kind? {
        ["CRC32": .crc32, "CRC32C": .crc32c, "CRC64NVME": .crc64nvme][algorithm]
    }

    private static func integer(_ bytes: [UInt8]) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }

    /// `ALG:value` as a part's or an object's checksum sysmeta keeps it.
    static func split(_ stored: String) -> (algorithm: String, value: String)? {
        guard let colon = stored.firstIndex(of: ":") else { return nil }
        return (String(stored[..<colon]), String(stored[stored.index(after: colon)...]))
    }
}
