/// What an instance learns about itself from the metadata service.
public struct InstanceMetadata: Sendable, Equatable {
    public var instanceID: String
    public var imageID: String
    public var reservationID: String
    public var instanceType: String
    public var localIPv4: String
    public var publicIPv4: String?
    public var availabilityZone: String
    public var securityGroups: [String]
    /// Key name and OpenSSH public line (`ssh-rsa AAAA… name`).
    public var publicKeys: [(name: String, openssh: String)]
    public var userData: [UInt8]?

    public init(instanceID: String, imageID: String, reservationID: String, instanceType: String, localIPv4: String,
                publicIPv4: String? = nil, availabilityZone: String, securityGroups: [String] = [],
                publicKeys: [(name: String, openssh: String)] = [], userData: [UInt8]? = nil) {
        self.instanceID = instanceID
        self.imageID = imageID
        self.reservationID = reservationID
        self.instanceType = instanceType
        self.localIPv4 = localIPv4
        self.publicIPv4 = publicIPv4
        self.availabilityZone = availabilityZone
        self.securityGroups = securityGroups
        self.publicKeys = publicKeys
        self.userData = userData
    }

    public static func == (a: InstanceMetadata, b: InstanceMetadata) -> Bool {
        a.instanceID == b.instanceID && a.imageID == b.imageID && a.reservationID == b.reservationID && a.instanceType == b.instanceType
            && a.localIPv4 == b.localIPv4 && a.publicIPv4 == b.publicIPv4 && a.availabilityZone == b.availabilityZone
            && a.securityGroups == b.securityGroups && a.publicKeys.map(\.name) == b.publicKeys.map(\.name)
            && a.publicKeys.map(\.openssh) == b.publicKeys.map(\.openssh) && a.userData == b.userData
    }
}

/// Finds the instance behind a source address (the metadata service answers per caller).
public protocol InstanceMetadataSource: Sendable {
    func metadata(forFixedIP ip: String) async throws -> InstanceMetadata?
}
