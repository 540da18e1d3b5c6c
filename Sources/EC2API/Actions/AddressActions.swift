import ControlPlane
import Digest

/// AllocateAddress, DescribeAddresses, ReleaseAddress, AssociateAddress, DisassociateAddress:
/// floating addresses from the configured pool, at most `EC2Settings.addressQuota` per project. Each has a
/// stable `eipalloc-` id (and each association an `eipassoc-` id), since today's SDKs name
/// addresses by them.
enum AddressActions {
    static func allocationID(_ ip: String) -> String { "eipalloc-" + String(Digests.sha256Hex(Array(ip.utf8)).prefix(17)) }

    static func allocate(_ call: EC2Call) async throws -> [EC2XML.Node] {
        // Both domains are accepted (boto3 code often says vpc); this cloud's addresses are one kind.
        if let domain = call.request["Domain"], domain != "standard" && domain != "vpc" {
            throw EC2Error("InvalidParameterValue", "Invalid value '\(domain)' for domain: use standard or vpc.")
        }
        let quota = call.settings.addressQuota
        guard try await call.store.addresses(project: call.project).count < quota else {
            throw EC2Error("AddressLimitExceeded", "A project may hold at most \(quota) addresses.")
        }
        guard let address = try await call.store.allocateAddress(project: call.project, pool: call.settings.floatingPool) else {
            throw EC2Error("AddressLimitExceeded", "No floating address is free in this cloud's pool.")
        }
        return [.text("publicIp", address.ip), .text("domain", "standard"), .text("allocationId", allocationID(address.ip))]
    }

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        var addresses = try await call.store.addresses(project: call.project)
        let wanted = call.request.list("PublicIp"), ids = call.request.list("AllocationId")
        if let missing = wanted.first(where: { ip in !addresses.contains { $0.ip == ip } })
            ?? ids.first(where: { id in !addresses.contains { allocationID($0.ip) == id } }) {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(missing)' not found.")
        }
        if !wanted.isEmpty || !ids.isEmpty { addresses = addresses.filter { wanted.contains($0.ip) || ids.contains(allocationID($0.ip)) } }
        for (name, values) in try call.request.filters {
            switch name {
            case "public-ip": addresses = addresses.filter { values.contains($0.ip) }
            case "allocation-id": addresses = addresses.filter { values.contains(allocationID($0.ip)) }
            case "instance-id": addresses = addresses.filter { $0.instanceID.map(values.contains) ?? false }
            case "domain": addresses = addresses.filter { _ in values.contains("standard") }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
        }
        return [.set("addressesSet", addresses.map { a in
            [.text("publicIp", a.ip), .text("domain", "standard"), .text("allocationId", allocationID(a.ip))] + (a.instanceID.map { [EC2XML.Node.text("instanceId", $0)] } ?? [])
                + [.set("tagSet", [])]
        })]
    }

    static func associationID(_ ip: String, _ instanceID: String) -> String {
        "eipassoc-" + String(Digests.sha256Hex(Array((ip + instanceID).utf8)).prefix(17))
    }

    /// The address a call names by `PublicIp`, or by an id (`AllocationId`, `AssociationId`)
    /// that one of the project's addresses answers to.
    static func publicIP(_ call: EC2Call, id parameter: String, notFound: String, _ matches: @escaping (FloatingAddress, String) -> Bool)
    async throws -> String {
        if let ip = call.request["PublicIp"], !ip.isEmpty { return ip }
        guard let id = call.request[parameter], !id.isEmpty else { throw EC2Error.missingParameter("PublicIp") }
        guard let found = try await call.store.addresses(project: call.project).first(where: { matches($0, id) }) else {
            throw EC2Error(notFound, "The \(parameter == "AllocationId" ? "allocation" : "association") ID '\(id)' does not exist")
        }
        return found.ip
    }

    static func release(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let ip = try await publicIP(call, id: "AllocationId", notFound: "InvalidAllocationID.NotFound") { allocationID($0.ip) == $1 }
        do { try await call.store.releaseAddress(project: call.project, ip: ip) } catch ControlPlaneError.notFound {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        }
        return [.text("return", "true")]
    }

    static func associate(_ call: EC2Call) async throws -> [EC2XML.Node] {
        _ = try InstanceActions.settings(call)
        let instanceID = try call.request.required("InstanceId")
        let ip = try await publicIP(call, id: "AllocationId", notFound: "InvalidAllocationID.NotFound") { allocationID($0.ip) == $1 }
        do { try await call.store.associateAddress(project: call.project, ip: ip, instanceID: instanceID) } catch ControlPlaneError.notFound(let what) {
            if what.hasPrefix("instance") { throw EC2Error("InvalidInstanceID.NotFound", "The instance ID '\(instanceID)' does not exist") }
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        } catch ControlPlaneError.incorrectState(let why) {
            throw EC2Error("IncorrectInstanceState", why)
        }
        return [.text("return", "true"), .text("associationId", associationID(ip, instanceID))]
    }

    static func disassociate(_ call: EC2Call) async throws -> [EC2XML.Node] {
        _ = try InstanceActions.settings(call)
        let ip = try await publicIP(call, id: "AssociationId", notFound: "InvalidAssociationID.NotFound") { a, id in
            a.instanceID.map { associationID(a.ip, $0) == id } ?? false
        }
        do { try await call.store.disassociateAddress(project: call.project, ip: ip) } catch ControlPlaneError.notFound {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        }
        return [.text("return", "true")]
    }
}
