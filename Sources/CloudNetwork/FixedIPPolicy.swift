/// Which fixed address an instance gets: the lowest of the project's range that no instance
/// holds and whose last DHCP lease has expired — an address released moments ago is not handed
/// out again while a guest may still use it (a bug Nova's developers hit).
public enum FixedIPPolicy {
    /// One address's standing: held by an instance, and/or leased until a time.
    public struct Standing: Sendable, Equatable {
        public var ip: IPv4Address
        public var instanceID: String?
        public var leaseExpires: Double?

        public init(ip: IPv4Address, instanceID: String?, leaseExpires: Double?) {
            self.ip = ip
            self.instanceID = instanceID
            self.leaseExpires = leaseExpires
        }
    }

    /// The addresses of `range` a new instance may take at `now`, lowest first. Reserved ones
    /// (the gateway, the metadata/DHCP host) are never offered.
    public static func free(in range: [IPv4Address], standings: [Standing], reserved: Set<IPv4Address>, now: Double) -> [IPv4Address] {
        var blocked = reserved
        for s in standings where s.instanceID != nil || (s.leaseExpires.map { $0 > now } ?? false) {
            blocked.insert(s.ip)
        }
        return range.filter { !blocked.contains($0) }
    }

    /// A MAC address for an instance on the bridge: libvirt's QEMU prefix and the fixed IP's
    /// last three octets, so a host line and its lease always agree.
    public static func mac(for ip: IPv4Address) -> String {
        let v = ip.value
        func hex(_ b: UInt32) -> String {
            let s = String(b & 255, radix: 16)
            return s.count == 1 ? "0" + s : s
        }
        return "52:54:00:\(hex(v >> 16)):\(hex(v >> 8)):\(hex(v))"
    }
}
