import NimbusCore

/// An instance's libvirt domain: direct kernel boot of the registered kernel and ramdisk, the
/// machine image as a copy-on-write overlay, one NIC on the project's bridge, the serial console
/// logged to a file (GetConsoleOutput reads it). Rendered as libvirt's domain XML.
public struct DomainSpec: Sendable, Equatable {
    /// `qemu` (TCG: what works on these machines), `kvm` when /dev/kvm really works, `test`
    /// for libvirt's test driver.
    public var virtType = "qemu"
    public var name: String
    public var uuid: String?
    public var memoryMiB: Int
    public var vcpus: Int
    public var kernel: String?
    public var ramdisk: String?
    public var cmdline = "console=ttyS0"
    /// The instance's disk (a qcow2 overlay over the cached machine image).
    public var disk: String?
    public var bridge: String?
    public var mac: String?
    /// Where the serial console is logged.
    public var consoleLog: String?

    public init(name: String, memoryMiB: Int, vcpus: Int) {
        self.name = name
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
    }

    public var xml: String {
        func e(_ s: String) -> String { XMLText.escape(s) }
        var x = "<domain type='\(e(virtType))'>\n  <name>\(e(name))</name>\n"
        if let uuid { x += "  <uuid>\(e(uuid))</uuid>\n" }
        x += "  <memory unit='MiB'>\(memoryMiB)</memory>\n  <vcpu>\(vcpus)</vcpu>\n"
        x += "  <os>\n    <type arch='x86_64'\(virtType == "test" ? "" : " machine='q35'")>hvm</type>\n"
        if let kernel { x += "    <kernel>\(e(kernel))</kernel>\n" }
        if let ramdisk { x += "    <initrd>\(e(ramdisk))</initrd>\n" }
        if kernel != nil { x += "    <cmdline>\(e(cmdline))</cmdline>\n" }
        x += "  </os>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <devices>\n"
        if let disk {
            x += "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(e(disk))'/>"
                + "<target dev='vda' bus='virtio'/></disk>\n"
        }
        if let bridge {
            x += "    <interface type='bridge'><source bridge='\(e(bridge))'/>"
            if let mac { x += "<mac address='\(e(mac))'/>" }
            x += "<model type='virtio'/></interface>\n"
        }
        if let consoleLog {
            x += "    <serial type='pty'><log file='\(e(consoleLog))' append='on'/><target port='0'/></serial>\n"
            x += "    <console type='pty'><target type='serial' port='0'/></console>\n"
        }
        if virtType != "test" { x += "    <memballoon model='none'/>\n" }
        return x + "  </devices>\n</domain>\n"
    }
}
