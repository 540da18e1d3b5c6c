/// dnsmasq's lease file (`<expiry> <mac> <ip> <hostname> <client-id>` a line, expiry in seconds
/// since the epoch, 0 for infinite). Expiries are read as numbers and compared as times: Nova
/// once compared them as strings of different formats and handed out addresses still leased.
public struct DnsmasqLease: Sendable, Equatable {
    /// Seconds since the epoch; nil for an infinite lease.
    public var expires: Double?
    public var mac: String
    public var ip: String
    public var hostname: String

    /// Whether the lease still holds at `now`.
    public func isActive(at now: Double) -> Bool { expires.map { $0 > now } ?? true }

    /// Parses a lease file; lines that are not leases (IPv6 `duid` lines, garbage) are skipped.
    public static func parse(_ text: String) -> [DnsmasqLease] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 4, let expiry = Int64(f[0]), expiry >= 0, IPv4Address(String(f[2])) != nil else { return nil }
            return DnsmasqLease(expires: expiry == 0 ? nil : Double(expiry), mac: String(f[1]).lowercased(), ip: String(f[2]),
                                hostname: String(f[3]))
        }
    }
}

/// dnsmasq's static hosts (`--dhcp-hostsfile`, reloaded on SIGHUP): one `mac,ip,hostname,lease`
/// line an instance, so each instance always gets its own fixed address.
public enum DnsmasqHosts {
    public struct Host: Sendable, Equatable {
        public var mac: String
        public var ip: String
        public var hostname: String

        public init(mac: String, ip: String, hostname: String) {
            self.mac = mac
            self.ip = ip
            self.hostname = hostname
        }
    }

    /// The file's text; `leaseSeconds` as dnsmasq reads it (`2m`-style suffixes are not used).
    public static func render(_ hosts: [Host], leaseSeconds: Int) -> String {
        hosts.sorted { (IPv4Address($0.ip)?.value ?? 0) < (IPv4Address($1.ip)?.value ?? 0) }
            .map { "\($0.mac),\($0.ip),\($0.hostname),\(leaseSeconds)\n" }.joined()
    }
}
