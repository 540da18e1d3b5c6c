/// What the compute worker needs from a hypervisor: define a domain from its XML, start,
/// destroy and undefine it, read its state, list what exists. `LibvirtHypervisor` is the one
/// implementation (qemu:///system in production, test:///default in tests).
public protocol Hypervisor: Sendable {
    /// Defines (persistently) a domain; answers its name.
    func define(xml: String) async throws -> String
    func start(_ name: String) async throws
    /// Stops a domain at once (a no-op when it is not running).
    func destroy(_ name: String) async throws
    /// Forgets a stopped domain's definition (a no-op when it is gone).
    func undefine(_ name: String) async throws
    func state(_ name: String) async throws -> DomainState
    /// Names of every defined or running domain.
    func domains() async throws -> [String]
}
