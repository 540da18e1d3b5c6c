import CCrypto

/// A libcrypto memory BIO: PEM and DER go through these to and from Swift byte arrays.
final class MemoryBIO {
    let bio: OpaquePointer

    /// An empty, writable BIO.
    init() throws(PKIError) {
        guard let b = BIO_new(BIO_s_mem()) else { throw .crypto("BIO_new") }
        bio = b
    }

    /// A BIO holding a copy of `bytes`, to be read.
    init(_ bytes: [UInt8]) throws(PKIError) {
        guard let b = BIO_new(BIO_s_mem()) else { throw .crypto("BIO_new") }
        bio = b
        guard bytes.isEmpty || BIO_write(b, bytes, Int32(clamping: bytes.count)) == Int32(clamping: bytes.count) else {
            throw .crypto("BIO_write")
        }
    }

    deinit { BIO_free(bio) }

    /// Everything written so far.
    var bytes: [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>?
        let n = nimbus_bio_mem_data(bio, &pointer)
        guard n > 0, let pointer else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
}
