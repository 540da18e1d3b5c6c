import Compute
import ControlPlane
import Digest
import Foundation
import Images

/// RunInstances, DescribeInstances, TerminateInstances, RebootInstances, StopInstances,
/// StartInstances and DescribeInstanceStatus. The API only records: it checks the request,
/// places the instances (scheduler over the hosts' reports, in the same transaction that takes
/// their room and fixed addresses) and queues their work; compute workers do it.
enum InstanceActions {
    static func settings(_ call: EC2Call) throws(EC2Error) -> ComputeSettings {
        guard let compute = call.settings.compute else {
            throw EC2Error("UnsupportedOperation", "This EC2 API does not run instances.")
        }
        return compute
    }

    static func newID(_ prefix: String) -> String { prefix + "-" + String(Hex.encode(Digests.randomBytes(9)).prefix(17)) }

    // MARK: RunInstances

    static func run(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let compute = try settings(call)
        let imageID = try call.request.required("ImageId")
        let minCount = try call.request.int("MinCount") ?? 1, maxCount = try call.request.int("MaxCount") ?? minCount
        guard minCount >= 1, maxCount >= minCount, maxCount <= compute.maxPerRequest else {
            throw EC2Error("InvalidParameterValue",
                           "MinCount and MaxCount must be 1 to \(compute.maxPerRequest) with MinCount <= MaxCount (got \(minCount), \(maxCount)).")
        }
        let typeName = call.request["InstanceType"] ?? Flavor.defaultName
        guard let flavor = compute.flavors.first(where: { $0.name == typeName }) else {
            throw EC2Error("InvalidParameterValue", "Invalid value '\(typeName)' for InstanceType: use one of "
                           + compute.flavors.map(\.name).joined(separator: ", ") + ".")
        }
        guard let image = try await launchable(call, imageID, .machine) else {
            throw EC2Error("InvalidAMIID.Malformed", "Invalid id: \"\(imageID)\" (expecting \"ami-...\")")
        }
        let kernel = try await launchable(call, call.request["KernelId"] ?? image.kernelID, .kernel)
        let ramdisk = try await launchable(call, call.request["RamdiskId"] ?? image.ramdiskID, .ramdisk)
        guard let kernel else {
            throw EC2Error("InvalidParameterValue", "The image \(image.id) names no kernel and none was given (KernelId): it cannot boot here.")
        }
        var publicKey: String?
        let keyName = call.request["KeyName"]
        if let keyName {
            guard let pair = try await call.store.keyPairs(project: call.project, names: [keyName]).first else {
                throw EC2Error("InvalidKeyPair.NotFound", "The key pair '\(keyName)' does not exist")
            }
            publicKey = pair.publicKey
        }
        let groups = try await securityGroups(call)
        var userData: String?
        if let data = call.request["UserData"], !data.isEmpty {
            guard let decoded = Data(base64Encoded: data) else {
                throw EC2Error("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
            }
            guard decoded.count <= 16 * 1024 else { throw EC2Error("InvalidParameterValue", "User data is limited to 16384 bytes.") }
            userData = data
        }
        let zone = call.request["Placement.AvailabilityZone"].flatMap { $0.isEmpty ? nil : $0 }
        if let zone, !call.settings.zones.contains(zone) {
            throw EC2Error("InvalidParameterValue", "Invalid availability zone: [\(zone)]")
        }
        let token = call.request["ClientToken"].flatMap { $0.isEmpty ? nil : $0 }
        if let token, token.utf8.count > 64 || !token.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) {
            throw EC2Error("InvalidParameterValue", "ClientToken is at most 64 printable ASCII characters.")
        }
        let current = try await call.store.instances(project: call.project)
        let live = current.filter { !$0.state.isFinal }.count
        // A retry of an earlier request (same ClientToken) is answered from the store, whatever the limit says now.
        let isRetry = token.map { t in current.contains { $0.clientToken == t } } ?? false
        guard isRetry || live + minCount <= compute.maxInstancesPerProject else {
            throw EC2Error("InstanceLimitExceeded",
                           "Your quota allows for \(max(0, compute.maxInstancesPerProject - live)) more running instance(s). You requested at least \(minCount).")
        }
        let allowed = min(maxCount, compute.maxInstancesPerProject - live)
        let template = Instance(id: "", project: call.project, user: call.caller.user, reservationID: newID("r"), imageID: image.id,
                                kernelID: kernel.id, ramdiskID: ramdisk?.id, instanceType: flavor.name, vcpus: flavor.vcpus,
                                memoryMiB: flavor.memoryMiB, diskGiB: flavor.diskGiB, keyName: keyName, publicKey: publicKey,
                                userData: userData, groupIDs: groups.map(\.id), zone: zone ?? call.settings.zones.first ?? "nova",
                                clientToken: token)
        let timeout = compute.heartbeatTimeout, wantedZone = zone
        let request = LaunchRequest(template: template, minCount: minCount, maxCount: max(minCount, allowed),
                                    fixedRange: compute.fixedRange, reserved: compute.reserved, place: { hosts in
            let now = Date().timeIntervalSince1970
            let reports = hosts.map {
                HostReport(name: $0.name, zone: $0.zone, freeMemoryMiB: $0.memoryMiB - $0.usedMemoryMiB, freeVCPUs: $0.vcpus - $0.usedVCPUs,
                           freeDiskGiB: $0.diskGiB - $0.usedDiskGiB, instances: $0.instances, heartbeat: Double($0.heartbeat) / 1e6)
            }
            do {
                return try Scheduler.place(flavor, minCount: minCount, maxCount: max(minCount, allowed), zone: wantedZone, hosts: reports, now: now,
                                           heartbeatTimeout: timeout)
            } catch let error as Scheduler.NoCapacity {
                throw ControlPlaneError.insufficientCapacity(error.description)
            }
        }, newID: { newID("i") })
        let instances: [Instance]
        do { instances = try await call.store.launch(request) } catch ControlPlaneError.insufficientCapacity(let why) {
            throw EC2Error("InsufficientInstanceCapacity", why)
        }
        call.logger.info("RunInstances \(instances.map(\.id).joined(separator: " ")) of \(image.id) for \(call.project)")
        guard let first = instances.first else { throw EC2Error("InsufficientInstanceCapacity", "No instance could be placed.") }
        let names = try await groupNames(call)
        return [.text("reservationId", first.reservationID), .text("ownerId", call.project),
                .set("groupSet", first.groupIDs.map { [.text("groupId", $0), .text("groupName", names[$0] ?? $0)] }),
                .set("instancesSet", instances.map { item($0, groupNames: names) })]
    }

    /// An image the caller may launch, of the wanted type, `available`.
    static func launchable(_ call: EC2Call, _ id: String?, _ type: ImageType) async throws -> ImageRecord? {
        guard let image = try await ImageActions.visible(call, id, type) else { return nil }
        guard image.state == .available else {
            throw EC2Error("InvalidAMIID.Unavailable", "The image \(id) is \(image.state.rawValue)"
                           + (image.state == .failed ? ": \(image.stateReason ?? "its registration failed")" : "; wait until it is available."))
        }
        return image
    }

    /// The groups named by SecurityGroup.N / SecurityGroupId.N, or the project's `default`.
    static func securityGroups(_ call: EC2Call) async throws -> [SecurityGroup] {
        let all = try await call.store.securityGroups(project: call.project)
        let names = call.request.list("SecurityGroup"), ids = call.request.list("SecurityGroupId")
        var chosen: [SecurityGroup] = []
        for name in names {
            guard let g = all.first(where: { $0.name == name }) else { throw EC2Error("InvalidGroup.NotFound", "The security group '\(name)' does not exist") }
            chosen.append(g)
        }
        for id in ids {
            guard let g = all.first(where: { $0.id == id }) else { throw EC2Error("InvalidGroup.NotFound", "The security group '\(id)' does not exist") }
            chosen.append(g)
        }
        if chosen.isEmpty, let d = all.first(where: { $0.name == "default" }) { chosen = [d] }
        var seen = Set<String>()
        return chosen.filter { seen.insert($0.id).inserted }
    }

    static func groupNames(_ call: EC2Call) async throws -> [String: String] {
        Dictionary(try await call.store.securityGroups(project: call.project).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    static func timestamp(_ micros: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
    }

    static func state(_ s: Instance.State) -> EC2XML.Node {
        .element("instanceState", [.text("code", String(s.code)), .text("name", s.ec2Name)])
    }

    static func item(_ i: Instance, groupNames: [String: String], publicIP: String? = nil) -> [EC2XML.Node] {
        var out: [EC2XML.Node] = [
            .text("instanceId", i.id), .text("imageId", i.imageID), state(i.state),
            .text("privateDnsName", i.fixedIP.map { "ip-" + $0.replacingOccurrences(of: ".", with: "-") } ?? ""),
            .text("dnsName", publicIP ?? ""), .text("reason", i.stateReason ?? ""),
        ]
        if let k = i.keyName { out.append(.text("keyName", k)) }
        out += [.text("amiLaunchIndex", String(i.launchIndex)), .set("productCodes", []), .text("instanceType", i.instanceType),
                .text("launchTime", timestamp(i.createdAt)),
                .element("placement", [.text("availabilityZone", i.zone), .text("groupName", ""), .text("tenancy", "default")])]
        if let k = i.kernelID { out.append(.text("kernelId", k)) }
        if let r = i.ramdiskID { out.append(.text("ramdiskId", r)) }
        out.append(.element("monitoring", [.text("state", "disabled")]))
        if let ip = i.fixedIP { out.append(.text("privateIpAddress", ip)) }
        if let publicIP { out.append(.text("ipAddress", publicIP)) }
        out.append(.set("groupSet", i.groupIDs.map { [.text("groupId", $0), .text("groupName", groupNames[$0] ?? $0)] }))
        if i.state == .error || i.stateReason != nil {
            let reason = i.stateReason ?? ""
            let code = reason.hasPrefix("Server.") ? String(reason.prefix { $0 != ":" }) : (i.state == .error ? "Server.InternalError" : "Client.UserInitiatedShutdown")
            out.append(.element("stateReason", [.text("code", code), .text("message", reason)]))
        }
        out += [.text("architecture", "x86_64"), .text("rootDeviceType", "instance-store"), .set("blockDeviceMapping", []),
                .text("virtualizationType", "paravirtual"), .text("clientToken", i.clientToken ?? ""), .set("tagSet", []),
                .text("hypervisor", "xen"), .set("networkInterfaceSet", []), .text("ebsOptimized", "false")]
        return out
    }

    // MARK: DescribeInstances

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        _ = try settings(call)
        let selected = try await selected(call, allowMissing: false)
        var instances = selected.instances
        let publicIPs = try await publicAddresses(call)
        let names = try await groupNames(call)
        for (name, values) in try call.request.filters {
            instances = try instances.filter { i in
                switch name {
                case "instance-id": return values.contains(i.id)
                case "instance-state-name": return values.contains(i.state.ec2Name)
                case "instance-state-code": return values.contains(String(i.state.code))
                case "image-id": return values.contains(i.imageID)
                case "key-name": return i.keyName.map(values.contains) ?? false
                case "instance-type": return values.contains(i.instanceType)
                case "private-ip-address": return i.fixedIP.map(values.contains) ?? false
                case "ip-address": return publicIPs[i.id].map(values.contains) ?? false
                case "reservation-id": return values.contains(i.reservationID)
                case "availability-zone": return values.contains(i.zone)
                case "group-id", "instance.group-id": return i.groupIDs.contains(where: values.contains)
                case "group-name", "instance.group-name": return i.groupIDs.contains { names[$0].map(values.contains) ?? false }
                case "client-token": return i.clientToken.map(values.contains) ?? false
                case "kernel-id": return i.kernelID.map(values.contains) ?? false
                case "ramdisk-id": return i.ramdiskID.map(values.contains) ?? false
                case "owner-id": return values.contains(i.project)
                default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
                }
            }
        }
        var order: [String] = []
        var byReservation: [String: [Instance]] = [:]
        for i in instances {
            if byReservation[i.reservationID] == nil { order.append(i.reservationID) }
            byReservation[i.reservationID, default: []].append(i)
        }
        return [.set("reservationSet", order.map { r in
            let members = byReservation[r] ?? []
            return [.text("reservationId", r), .text("ownerId", call.project),
                    .set("groupSet", (members.first?.groupIDs ?? []).map { [.text("groupId", $0), .text("groupName", names[$0] ?? $0)] }),
                    .set("instancesSet", members.map { item($0, groupNames: names, publicIP: publicIPs[$0.id]) })]
        })]
    }

    /// The project's instances named by InstanceId.N (all when none is named).
    static func selected(_ call: EC2Call, allowMissing: Bool) async throws -> (instances: [Instance], ids: [String]) {
        let all = try await call.store.instances(project: call.project)
        let ids = call.request.list("InstanceId")
        guard !ids.isEmpty else { return (all, []) }
        for id in ids where !all.contains(where: { $0.id == id }) {
            let shaped = id.hasPrefix("i-") && id.utf8.count <= 19 && id.dropFirst(2).allSatisfy(\.isHexDigit) && id.utf8.count > 2
            throw EC2Error(shaped ? "InvalidInstanceID.NotFound" : "InvalidInstanceID.Malformed",
                           shaped ? "The instance ID '\(id)' does not exist" : "Invalid id: \"\(id)\"")
        }
        return (all.filter { ids.contains($0.id) }, ids)
    }

    static func publicAddresses(_ call: EC2Call) async throws -> [String: String] {
        var out: [String: String] = [:]
        for a in try await call.store.addresses(project: call.project) { if let i = a.instanceID { out[i] = a.ip } }
        return out
    }

    // MARK: Terminate, Reboot, Stop, Start

    static func change(_ call: EC2Call, _ task: Instance.Task, setName: String) async throws -> [EC2XML.Node] {
        _ = try settings(call)
        let ids = call.request.list("InstanceId")
        guard !ids.isEmpty else { throw EC2Error.missingParameter("InstanceId") }
        _ = try await selected(call, allowMissing: false)
        let changed: [(instance: Instance, previous: Instance.State)]
        do { changed = try await call.store.requestTask(task, project: call.project, ids: ids) } catch ControlPlaneError.incorrectState(let why) {
            throw EC2Error("IncorrectInstanceState", why)
        } catch ControlPlaneError.notFound(let what) {
            throw EC2Error("InvalidInstanceID.NotFound", "The \(what) does not exist")
        }
        call.logger.info("\(task.rawValue) \(ids.joined(separator: " ")) for \(call.project)")
        if task == .reboot { return [.text("return", "true")] }
        return [.set(setName, changed.map { c in
            [.text("instanceId", c.instance.id),
             .element("currentState", [.text("code", String(c.instance.state.code)), .text("name", c.instance.state.ec2Name)]),
             .element("previousState", [.text("code", String(c.previous.code)), .text("name", c.previous.ec2Name)])]
        })]
    }

    static func terminate(_ call: EC2Call) async throws -> [EC2XML.Node] { try await change(call, .terminate, setName: "instancesSet") }
    static func reboot(_ call: EC2Call) async throws -> [EC2XML.Node] { try await change(call, .reboot, setName: "instancesSet") }
    static func stop(_ call: EC2Call) async throws -> [EC2XML.Node] { try await change(call, .stop, setName: "instancesSet") }
    static func start(_ call: EC2Call) async throws -> [EC2XML.Node] { try await change(call, .start, setName: "instancesSet") }

    // MARK: DescribeInstanceStatus

    static func describeStatus(_ call: EC2Call) async throws -> [EC2XML.Node] {
        _ = try settings(call)
        var instances = try await selected(call, allowMissing: false).instances
        if call.request["IncludeAllInstances"] != "true" { instances = instances.filter { $0.state == .running } }
        for (name, values) in try call.request.filters {
            switch name {
            case "instance-state-name": instances = instances.filter { values.contains($0.state.ec2Name) }
            case "instance-state-code": instances = instances.filter { values.contains(String($0.state.code)) }
            case "availability-zone": instances = instances.filter { values.contains($0.zone) }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
        }
        return [.set("instanceStatusSet", instances.map { i in
            let status = i.state == .running ? "ok" : "not-applicable"
            return [.text("instanceId", i.id), .text("availabilityZone", i.zone), state(i.state),
                    .element("systemStatus", [.text("status", status)]), .element("instanceStatus", [.text("status", status)])]
        })]
    }

    // MARK: GetConsoleOutput

    /// EC2 shows the last 64 KiB of the console.
    static let consoleTail = 64 * 1024

    static func consoleOutput(_ call: EC2Call) async throws -> [EC2XML.Node] {
        _ = try settings(call)
        let id = try call.request.required("InstanceId")
        guard let instance = try await call.store.instances(project: call.project).first(where: { $0.id == id }) else {
            throw EC2Error("InvalidInstanceID.NotFound", "The instance ID '\(id)' does not exist")
        }
        var output: [UInt8] = []
        var stamp = Date()
        if let hostName = instance.host, !instance.state.isFinal,
           let host = try await call.store.computeHosts().first(where: { $0.name == hostName }),
           let console = try await call.settings.consoles.output(of: id, on: host) {
            output = Array(console.bytes.suffix(consoleTail))
            stamp = console.timestamp
        }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return [.text("instanceId", id), .text("timestamp", f.string(from: stamp)), .text("output", Data(output).base64EncodedString())]
    }
}
