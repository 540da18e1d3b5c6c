import Compute
import Foundation
import Testing

/// The hypervisor layer against libvirt's test driver (`test:///default`: in-process, no
/// daemon, no VM), through the real C API.
@Suite struct LibvirtHypervisorTests {
    static func spec(_ name: String) -> DomainSpec {
        var s = DomainSpec(name: name, memoryMiB: 256, vcpus: 1)
        s.virtType = "test"
        s.kernel = "/boot/vmlinuz"
        s.ramdisk = "/boot/initrd.gz"
        s.consoleLog = "/tmp/\(name)-console.log"
        s.bridge = "nimbr0"
        s.mac = "52:54:00:0b:00:0b"
        return s
    }

    @Test func domainsAreDefinedStartedStoppedAndUndefined() async throws {
        let h = try LibvirtHypervisor(uri: "test:///default")
        let name = "nimbus-i-\(UUID().uuidString.prefix(8).lowercased())"
        #expect(try await h.define(xml: Self.spec(name).xml) == name)
        #expect(try await h.domains().contains(name))
        #expect(try await h.state(name) == .shutOff)
        try await h.start(name)
        let running = try await h.state(name)
        #expect(running == .running && running.isActive)
        try await h.destroy(name)
        try await h.destroy(name)  // already stopped: nothing to do, no error
        #expect(try await h.state(name) == .shutOff)
        try await h.undefine(name)
        try await h.undefine(name)  // already gone: nothing to do, no error
        #expect(try await !h.domains().contains(name))
    }

    @Test func aMissingDomainIsLibvirtsNoDomainError() async throws {
        let h = try LibvirtHypervisor(uri: "test:///default")
        await #expect(throws: HypervisorError.self) { try await h.start("no-such-domain") }
        do { _ = try await h.state("no-such-domain") } catch let e as HypervisorError {
            #expect(e.isNoDomain, "\(e)")
        }
        await #expect(throws: HypervisorError.self) { _ = try await h.define(xml: "<domain type='test'><name>bad") }
        #expect(throws: HypervisorError.self) { _ = try LibvirtHypervisor(uri: "nonsense:///x") }
    }

    @Test func domainXMLEscapesWhatItIsGiven() {
        var s = Self.spec("a'b<c>")
        s.virtType = "qemu"
        s.disk = "/var/lib/nimbus/instances/i-1/disk.qcow2"
        let xml = s.xml
        #expect(xml.contains("<name>a'b&lt;c&gt;</name>"))
        #expect(xml.contains("<domain type='qemu'>") && xml.contains("machine='q35'") && xml.contains("<memballoon model='none'/>"))
        #expect(xml.contains("<source file='/var/lib/nimbus/instances/i-1/disk.qcow2'/>"))
        #expect(Flavor.classics.map(\.name) == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"])
    }
}
