import ControlPlane
import Foundation

/// The metadata service's answers from the control-plane store: the live instance holding the
/// caller's fixed address, its key (as it was at launch), groups, public address and user data.
public struct StoreMetadataSource: InstanceMetadataSource {
    let store: any ControlPlaneStore

    public init(store: any ControlPlaneStore) { self.store = store }

    public func metadata(forFixedIP ip: String) async throws -> InstanceMetadata? {
        guard let i = try await store.instance(fixedIP: ip) else { return nil }
        let groups = try await store.securityGroups(project: i.project)
        let names = i.groupIDs.compactMap { id in groups.first { $0.id == id }?.name }
        let publicIP = try await store.addresses(project: i.project).first { $0.instanceID == i.id }?.ip
        var keys: [(name: String, openssh: String)] = []
        if let name = i.keyName, let key = i.publicKey { keys.append((name, key)) }
        return InstanceMetadata(instanceID: i.id, imageID: i.imageID, reservationID: i.reservationID, instanceType: i.instanceType,
                                localIPv4: i.fixedIP ?? ip, publicIPv4: publicIP, availabilityZone: i.zone, securityGroups: names,
                                publicKeys: keys, userData: i.userData.flatMap { Data(base64Encoded: $0) }.map(Array.init))
    }
}
