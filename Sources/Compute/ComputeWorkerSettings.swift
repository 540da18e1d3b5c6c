import Foundation

/// `nimbus compute worker`'s settings file (as `nimbus aio --compute` writes it).
public struct ComputeWorkerSettings: Sendable, Codable {
    /// The control directory: store location and sealing key.
    public var controlDirectory: String
    public var host: String = ProcessInfo.processInfo.hostName
    public var zone: String = "nova"
    /// Capacity offered; nil: this machine's, with Nova's allocation ratios (16 vCPUs a core,
    /// 1.5 × the memory).
    public var vcpus: Int?
    public var memoryMiB: Int?
    public var diskGiB: Int?
    public var stateDirectory: String
    /// libvirt's URI: `qemu:///system`, or `test:///default` (no VMs: the test driver).
    public var libvirtURI: String = "qemu:///system"
    /// `qemu` (TCG), `kvm` (when /dev/kvm really works), nil: chosen from the machine.
    public var virtType: String?
    public var bridge: String?
    public var domainPrefix: String = "nimbus"
    public var consoleHost: String = "127.0.0.1"
    public var consolePort: Int = 0
    /// The image registry: the object store's tempauth URL and the image service's login.
    public var registryAuthURL: String
    public var registryUser: String
    public var registryKey: String
    public var registryContainer: String = "nimbus-images"

    public init(controlDirectory: String, stateDirectory: String, registryAuthURL: String, registryUser: String, registryKey: String) {
        self.controlDirectory = controlDirectory
        self.stateDirectory = stateDirectory
        self.registryAuthURL = registryAuthURL
        self.registryUser = registryUser
        self.registryKey = registryKey
    }

    /// KVM only when /dev/kvm opens **and** the CPU has VMX/SVM (the PVM /dev/kvm of these
    /// machines opens but cannot boot Debian kernels); otherwise TCG.
    public static func detectVirtType() -> String {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return "qemu" }
        close(fd)
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = cpu.split(separator: "\n").first { $0.hasPrefix("flags") }.map { $0.split(separator: " ") } ?? []
        return flags.contains("vmx") || flags.contains("svm") ? "kvm" : "qemu"
    }

    /// The worker's configuration, capacity filled in from the machine where not given.
    public func workerConfig() -> ComputeWorker.Config {
        var st = statvfs()
        // The file system's size (overlays are thin: the scheduler counts what flavors promise).
        let diskTotal = statvfs(stateDirectory, &st) == 0 ? Int((UInt64(st.f_blocks) * UInt64(st.f_frsize)) >> 30) : 100
        var c = ComputeWorker.Config(host: host, vcpus: vcpus ?? ProcessInfo.processInfo.activeProcessorCount * 16,
                                     memoryMiB: memoryMiB ?? Int(Double(ProcessInfo.processInfo.physicalMemory >> 20) * 1.5),
                                     diskGiB: diskGiB ?? max(1, diskTotal), stateDirectory: stateDirectory)
        c.zone = zone
        c.bridge = bridge
        c.virtType = virtType ?? (libvirtURI.hasPrefix("test:") ? "test" : Self.detectVirtType())
        c.domainPrefix = domainPrefix
        c.consoleHost = consoleHost
        c.consolePort = consolePort
        return c
    }
}
