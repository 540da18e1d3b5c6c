import ControlPlane

/// AllocateAddress, DescribeAddresses, ReleaseAddress: floating addresses from the configured pool.
enum AddressActions {
    static func allocate(_ call: EC2Call) async throws -> [EC2XML.Node] {
        if let domain = call.request["Domain"], domain != "standard" {
            throw EC2Error("InvalidParameterValue", "This cloud has no VPC; the only address domain is standard.")
        }
        guard let address = try await call.store.allocateAddress(project: call.project, pool: call.settings.floatingPool) else {
            throw EC2Error("AddressLimitExceeded", "No floating address is free in this cloud's pool.")
        }
        return [.text("publicIp", address.ip), .text("domain", "standard")]
    }

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        var addresses = try await call.store.addresses(project: call.project)
        let wanted = call.request.list("PublicIp")
        if let missing = wanted.first(where: { ip in !addresses.contains { $0.ip == ip } }) {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(missing)' not found.")
        }
        if !wanted.isEmpty { addresses = addresses.filter { wanted.contains($0.ip) } }
        for (name, values) in call.request.filters {
            switch name {
            case "public-ip": addresses = addresses.filter { values.contains($0.ip) }
            case "instance-id": addresses = addresses.filter { $0.instanceID.map(values.contains) ?? false }
            case "domain": addresses = addresses.filter { _ in values.contains("standard") }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
        }
        return [.set("addressesSet", addresses.map { a in
            [.text("publicIp", a.ip), .text("domain", "standard")] + (a.instanceID.map { [EC2XML.Node.text("instanceId", $0)] } ?? [])
                + [.set("tagSet", [])]
        })]
    }

    static func release(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let ip = try call.request.required("PublicIp")
        do { try await call.store.releaseAddress(project: call.project, ip: ip) } catch ControlPlaneError.notFound {
            throw EC2Error("InvalidAddress.NotFound", "Address '\(ip)' not found.")
        }
        return [.text("return", "true")]
    }
}
