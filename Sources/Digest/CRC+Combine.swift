extension CRC.Kind {
    /// The CRC of `A` followed by `B`, from the CRC of `A`, the CRC of `B` and `B`'s length —
    /// without the bytes (S3's `FULL_OBJECT` checksum of a multipart upload, from its parts').
    ///
    /// Feeding `n` bytes is affine in the register; with the initial and final values both all
    /// ones the constants cancel, so `crc(AB) = crc(A) · x^(8n) mod P ⊕ crc(B)` on the final
    /// values (zlib's `crc32_combine`, for any reflected CRC of width ≤ 64).
    public func combine(_ first: UInt64, _ second: UInt64, secondLength: Int64) -> UInt64 {
        (multiply(xToThe8Times(UInt64(max(0, secondLength))), first) ^ second) & mask
    }

    /// The reflected representation's top bit: the polynomial `1`.
    private var one: UInt64 { UInt64(1) << UInt64(width * 8 - 1) }

    /// `a · b mod P`, both reflected (zlib's `multmodp`).
    private func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var m = one
        var product: UInt64 = 0
        var b = b
        while m != 0 {
            if a & m != 0 { product ^= b }
            b = b & 1 == 1 ? (b >> 1) ^ polynomial : b >> 1
            m >>= 1
        }
        return product
    }

    /// `x^(8n) mod P`, by squaring: `x^(2^k)` for each set bit of `8n`.
    private func xToThe8Times(_ n: UInt64) -> UInt64 {
        var result = one
        var power = one >> 1  // x^1
        // 8n = n shifted by three: start from x^8 = (x^1)^(2^3).
        for _ in 0..<3 { power = multiply(power, power) }
        var n = n
        while n != 0 {
            if n & 1 == 1 { result = multiply(power, result) }
            power = multiply(power, power)
            n >>= 1
        }
        return result
    }
}
