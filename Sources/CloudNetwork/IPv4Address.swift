/// An IPv4 address, strictly parsed (`a.b.c.d`, each 0–255, no leading zeros beyond `0`).
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var v: UInt32 = 0
        for o in octets {
            guard !o.isEmpty, o.count <= 3, o.allSatisfy({ $0.isASCII && $0.isNumber }), !(o.count > 1 && o.first == "0"),
                  let n = UInt32(o), n <= 255 else { return nil }
            v = v << 8 | n
        }
        value = v
    }

    public var description: String { "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)" }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv4 network `a.b.c.d/n` (host bits zero).
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    public let network: IPv4Address
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(parts[1]), (0...32).contains(p),
              let a = IPv4Address(String(parts[0])) else { return nil }
        let mask: UInt32 = p == 0 ? 0 : ~UInt32(0) << UInt32(32 - p)
        guard a.value & ~mask == 0 else { return nil }
        network = a
        prefix = p
    }

    public var description: String { "\(network)/\(prefix)" }

    public var mask: UInt32 { prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix) }

    /// The netmask in dotted form (`255.255.255.0`).
    public var netmask: IPv4Address { IPv4Address(mask) }

    public func contains(_ a: IPv4Address) -> Bool { a.value & mask == network.value }

    /// Host addresses (network and broadcast excluded below /31), for prefixes /16 and longer.
    public var hosts: [IPv4Address] {
        guard prefix >= 16 else { return [] }
        let size = UInt32(1) << UInt32(32 - prefix)
        let range: ClosedRange<UInt32> = size <= 2 ? 0...(size - 1) : 1...(size - 2)
        return range.map { IPv4Address(network.value + $0) }
    }
}
