/// A virtual machine as the control plane records it: what was asked for (image, type, key,
/// groups, user data), where it was placed, its addresses, its state, and the work a compute
/// worker still has to do for it (`task`).
public struct Instance: Sendable, Equatable {
    /// EC2's instance states, plus `error` (a launch that failed: shown to EC2 clients as
    /// `terminated` with a state reason, as EC2 does, so waiters stop at once).
    public enum State: String, Sendable, CaseIterable {
        case pending, running, shuttingDown = "shutting-down", terminated, stopping, stopped, error

        /// EC2's state code.
        public var code: Int {
            switch self {
            case .pending: return 0
            case .running: return 16
            case .shuttingDown: return 32
            case .terminated, .error: return 48
            case .stopping: return 64
            case .stopped: return 80
            }
        }

        /// The name EC2 clients see.
        public var ec2Name: String { self == .error ? "terminated" : rawValue }

        /// Whether the instance is gone (its resources may be reused).
        public var isFinal: Bool { self == .terminated || self == .error }
    }

    /// Work a compute worker does for an instance; one at a time, the newest request winning.
    public enum Task: String, Sendable {
        case spawn, reboot, stop, start, terminate
    }

    public var id: String
    public var project: String
    public var user: String
    public var reservationID: String
    public var imageID: String
    public var kernelID: String?
    public var ramdiskID: String?
    public var instanceType: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var diskGiB: Int
    public var keyName: String?
    /// The key pair's public key as it was at launch (the metadata service hands it out).
    public var publicKey: String?
    /// Base64, as RunInstances received it.
    public var userData: String?
    /// Security group ids.
    public var groupIDs: [String]
    public var zone: String
    public var host: String?
    public var state: State
    /// Why it is in `error` (or was stopped), in words.
    public var stateReason: String?
    public var launchIndex: Int
    public var clientToken: String?
    public var fixedIP: String?
    public var mac: String?
    public var task: Task?
    /// Bumped by every new task, so a worker finishing an older one does not clear a newer one.
    public var taskSeq: Int64
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, project: String, user: String, reservationID: String, imageID: String, kernelID: String? = nil,
                ramdiskID: String? = nil, instanceType: String, vcpus: Int, memoryMiB: Int, diskGiB: Int, keyName: String? = nil,
                publicKey: String? = nil, userData: String? = nil, groupIDs: [String] = [], zone: String, host: String? = nil,
                state: State = .pending, stateReason: String? = nil, launchIndex: Int = 0, clientToken: String? = nil,
                fixedIP: String? = nil, mac: String? = nil, task: Task? = nil, taskSeq: Int64 = 0, createdAt: Int64 = 0, updatedAt: Int64 = 0) {
        self.id = id
        self.project = project
        self.user = user
        self.reservationID = reservationID
        self.imageID = imageID
        self.kernelID = kernelID
        self.ramdiskID = ramdiskID
        self.instanceType = instanceType
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.diskGiB = diskGiB
        self.keyName = keyName
        self.publicKey = publicKey
        self.userData = userData
        self.groupIDs = groupIDs
        self.zone = zone
        self.host = host
        self.state = state
        self.stateReason = stateReason
        self.launchIndex = launchIndex
        self.clientToken = clientToken
        self.fixedIP = fixedIP
        self.mac = mac
        self.task = task
        self.taskSeq = taskSeq
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A compute host as its worker reports it: capacity, zone and the time of its last heartbeat
/// (microseconds). What is free is worked out from the instances placed on it.
public struct ComputeHost: Sendable, Equatable {
    public var name: String
    public var zone: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var diskGiB: Int
    public var heartbeat: Int64
    /// Where the worker answers for its instances' consoles (`http://host:port`), and the
    /// token it wants from callers.
    public var endpoint = ""
    public var token = ""
    /// Resources taken by its instances that are not gone.
    public var usedVCPUs = 0
    public var usedMemoryMiB = 0
    public var usedDiskGiB = 0
    public var instances = 0

    public init(name: String, zone: String, vcpus: Int, memoryMiB: Int, diskGiB: Int, heartbeat: Int64) {
        self.name = name
        self.zone = zone
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.diskGiB = diskGiB
        self.heartbeat = heartbeat
    }
}

/// What RunInstances asks the store to record, all or nothing: `count` instances alike but for
/// their launch index, placed by `place` (given the live hosts, it answers a host per
/// instance) with a fixed address each from `fixedRange`.
public struct LaunchRequest: Sendable {
    public var template: Instance
    public var minCount: Int
    public var maxCount: Int
    /// Addresses instances may get, in order, and those never given (gateway, DHCP server).
    public var fixedRange: [String]
    public var reserved: Set<String>
    /// Chooses hosts: the live hosts in, one host name per instance out (at least `minCount`);
    /// throws when nothing fits.
    public var place: @Sendable ([ComputeHost]) throws -> [String]
    /// Makes instance ids.
    public var newID: @Sendable () -> String

    public init(template: Instance, minCount: Int, maxCount: Int, fixedRange: [String], reserved: Set<String>,
                place: @escaping @Sendable ([ComputeHost]) throws -> [String], newID: @escaping @Sendable () -> String) {
        self.template = template
        self.minCount = minCount
        self.maxCount = maxCount
        self.fixedRange = fixedRange
        self.reserved = reserved
        self.place = place
        self.newID = newID
    }
}
