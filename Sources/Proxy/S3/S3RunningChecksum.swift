import Digest
import Foundation
import NIOConcurrencyHelpers

/// One running flexible checksum (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) over bytes fed in
/// order; its value is S3's base64 of the big-endian bytes.
final class S3RunningChecksum: Sendable {
    // The digests are non-copyable; a class holds them for the lock.
    private final class State: @unchecked Sendable {  // only touched inside `state`'s lock
        var crc: CRC?
        var digest: MessageDigest?
        init() {}
    }

    let algorithm: String
    private let state: NIOLockedValueBox<State>

    /// nil for an algorithm S3 does not have.
    init?(_ algorithm: String) {
        let s = State()
        switch algorithm {
        case "CRC32": s.crc = CRC(.crc32)
        case "CRC32C": s.crc = CRC(.crc32c)
        case "CRC64NVME": s.crc = CRC(.crc64nvme)
        case "SHA1": s.digest = MessageDigest(.sha1)
        case "SHA256": s.digest = MessageDigest(.sha256)
        default: return nil
        }
        self.algorithm = algorithm
        state = NIOLockedValueBox(s)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        state.withLockedValue { s in
            s.crc?.update(bytes)
            s.digest?.update(bytes)
        }
    }

    /// The value of everything fed (once: a digest resets).
    func base64() -> String {
        state.withLockedValue { s in
            let bytes: [UInt8]
            if let crc = s.crc { bytes = crc.bytes } else if let hex = s.digest?.finalizeHexAndReset() { bytes = Hex.decode(hex) ?? [] } else { bytes = [] }
            return Data(bytes).base64EncodedString()
        }
    }
}
