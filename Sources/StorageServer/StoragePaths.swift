import NimbusCore

/// Where a node keeps each kind of item on a device, following OpenStack Swift's layout.
struct StoragePaths: Sendable {
    let devicesRoot: String
    let hashPath: HashPathConfig

    func devicePath(_ device: String) -> String { "\(devicesRoot)/\(device)" }

    func containerDB(device: String, partition: Int, account: String, container: String) -> String {
        let h = hashPath.hash(account: account, container: container)
        return "\(devicePath(device))/containers/\(partition)/\(h.suffix(3))/\(h)/\(h).db"
    }

    func accountDB(device: String, partition: Int, account: String) -> String {
        let h = hashPath.hash(account: account)
        return "\(devicePath(device))/accounts/\(partition)/\(h.suffix(3))/\(h)/\(h).db"
    }
}
