/// One device (disk) in a ring: where it lives and how much of the data it should hold.
public struct RingDevice: Codable, Sendable, Hashable {
    /// Stable id; also the index into the builder's device table.
    public var id: Int
    public var region: Int
    public var zone: Int
    public var ip: String
    public var port: Int
    /// The directory name under the node's devices root (e.g. `sdb1`).
    public var device: String
    /// Relative capacity; 0 drains the device on the next rebalance.
    public var weight: Double
    /// Free-form operator note.
    public var meta: String

    public init(id: Int, region: Int = 1, zone: Int, ip: String, port: Int, device: String, weight: Double, meta: String = "") {
        self.id = id
        self.region = region
        self.zone = zone
        self.ip = ip
        self.port = port
        self.device = device
        self.weight = weight
        self.meta = meta
    }

    /// `ip:port`, the address of the storage server holding this device.
    public var address: String { "\(ip):\(port)" }
}
