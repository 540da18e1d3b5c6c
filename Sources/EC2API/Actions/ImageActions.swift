import ControlPlane
import Foundation
import Images

/// RegisterImage (from a bundle in the caller's object-store account), DescribeImages,
/// DeregisterImage, Describe/ModifyImageAttribute (launch permissions, description).
/// Owners are projects; `imageOwnerId` and launch-permission `UserId`s are project names.
enum ImageActions {
    static func register(_ call: EC2Call) async throws -> [EC2XML.Node] {
        guard let registrar = call.settings.registrar else {
            throw EC2Error("UnsupportedOperation", "This EC2 API has no image registry configured.")
        }
        let location = try call.request.required("ImageLocation")
        let images = try await call.store.images()
        guard images.filter({ $0.project == call.project && $0.state == .pending }).count < Self.maxPendingPerProject else {
            throw EC2Error("ResourceLimitExceeded", "This project has \(Self.maxPendingPerProject) images being registered; wait for them.")
        }
        let manifest = try await registrar.fetchManifest(location, caller: call.caller)
        let name = call.request["Name"] ?? manifest.name
        // EC2's rule for AMI names: 3-128 letters, digits and ()[] ./-'@_
        guard (3...128).contains(name.utf8.count), name.unicodeScalars.allSatisfy({ $0.isASCII && (Self.nameCharacters.contains($0)) }) else {
            throw EC2Error("InvalidAMIName.Malformed", "Image names are 3 to 128 letters, digits, spaces and ( ) [ ] . / - ' @ _")
        }
        let description = call.request["Description"] ?? ""
        guard description.utf8.count <= 255, description.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw EC2Error("InvalidParameterValue", "Descriptions are at most 255 printable characters.")
        }
        let architecture = call.request["Architecture"] ?? manifest.architecture
        guard ["x86_64", "i386", "arm64"].contains(architecture) else {
            throw EC2Error("InvalidParameterValue", "Invalid architecture '\(architecture)': use x86_64, i386 or arm64.")
        }
        // A machine image's kernel and ramdisk: given here, or named by its manifest.
        var kernel: String?, ramdisk: String?
        if manifest.type == .machine {
            kernel = try await linked(call, call.request["KernelId"] ?? manifest.kernelID, .kernel)
            ramdisk = try await linked(call, call.request["RamdiskId"] ?? manifest.ramdiskID, .ramdisk)
        }
        if images.contains(where: { $0.project == call.project && $0.name == name && $0.state != .failed }) {
            throw EC2Error("InvalidAMIName.Duplicate", "AMI name \(name) is already in use by AMI of this project")
        }
        let record = ImageRecord(id: ImageID.random(manifest.type).description, project: call.project, location: location, name: name,
                                 description: description, imageType: manifest.type.rawValue,
                                 architecture: architecture, kernelID: kernel, ramdiskID: ramdisk, stateReason: registrar.pendingReason)
        try await call.store.addImage(record)
        registrar.start(record, manifest: manifest, caller: call.caller)
        return [.text("imageId", record.id)]
    }

    /// Images a project may have in `pending` at once.
    static let maxPendingPerProject = 10

    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ()[]./-'@_".unicodeScalars)

    /// Checks a kernel or ramdisk id a machine image links to: it exists, has that type and the caller may launch it.
    static func linked(_ call: EC2Call, _ id: String?, _ type: ImageType) async throws -> String? {
        try await visible(call, id, type)?.id
    }

    /// The image `id` names when the caller may launch it and it has the wanted type; nil for
    /// no id (or euca2ools' `true`), EC2's errors otherwise.
    static func visible(_ call: EC2Call, _ id: String?, _ type: ImageType) async throws -> ImageRecord? {
        guard let id, !id.isEmpty, id != "true" else { return nil }
        guard let parsed = ImageID(id) else { throw EC2Error("InvalidAMIID.Malformed", "Invalid id: \"\(id)\" (expecting \"\(type.prefix)-...\")") }
        guard let image = try await call.store.image(parsed.description), image.isLaunchable(by: call.project) else {
            throw EC2Error("InvalidAMIID.NotFound", "The image id '[\(id)]' does not exist")
        }
        guard image.imageType == type.rawValue else {
            throw EC2Error("InvalidParameterValue", "\(id) is a \(image.imageType) image, not a \(type.rawValue) image.")
        }
        return image
    }

    /// The ids a call names, validated.
    static func ids(_ call: EC2Call, _ key: String) throws(EC2Error) -> [String] {
        try call.request.list(key).map { text throws(EC2Error) in
            guard let id = ImageID(text) else { throw EC2Error("InvalidAMIID.Malformed", "Invalid id: \"\(text)\"") }
            return id.description
        }
    }

    static func describe(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let wanted = try ids(call, "ImageId")
        let all = try await call.store.images()
        var images = all.filter { $0.isLaunchable(by: call.project) }
        if !wanted.isEmpty {
            if let missing = wanted.first(where: { id in !images.contains { $0.id == id } }) {
                throw EC2Error("InvalidAMIID.NotFound", "The image id '[\(missing)]' does not exist")
            }
            images = images.filter { wanted.contains($0.id) }
        }
        let owners = call.request.list("Owner")
        if !owners.isEmpty {
            images = images.filter { i in owners.contains { $0 == "self" ? i.project == call.project : $0 == i.project } }
        }
        let executable = call.request.list("ExecutableBy")
        if !executable.isEmpty {
            images = images.filter { i in
                // As EC2: explicit launch permissions only — `all` the public images, `self` or a
                // project those shared with it (an owner's own right is not an explicit one).
                executable.contains { e in
                    switch e {
                    case "all": return i.isPublic
                    case "self": return i.launchProjects.contains(call.project)
                    default: return i.launchProjects.contains(e)
                    }
                }
            }
        }
        for (name, values) in try call.request.filters {
            let value: (ImageRecord) -> String?
            switch name {
            case "image-id": value = { $0.id }
            case "name": value = { $0.name }
            case "state": value = { $0.state.rawValue }
            case "image-type": value = { $0.imageType }
            case "architecture": value = { $0.architecture }
            case "is-public": value = { $0.isPublic ? "true" : "false" }
            case "owner-id": value = { $0.project }
            case "kernel-id": value = { $0.kernelID }
            case "ramdisk-id": value = { $0.ramdiskID }
            case "manifest-location": value = { $0.location }
            case "description": value = { $0.description }
            // What every image here is (see `item`): bundles in the object store, booted by KVM.
            case "root-device-type": value = { _ in "instance-store" }
            case "virtualization-type": value = { _ in "paravirtual" }
            case "hypervisor": value = { _ in "kvm" }
            default: throw EC2Error("InvalidParameterValue", "The filter '\(name)' is invalid")
            }
            images = images.filter { i in value(i).map { v in values.contains { Glob.matches($0, v) } } ?? false }
        }
        return [.set("imagesSet", images.map(item))]
    }

    static func item(_ i: ImageRecord) -> [EC2XML.Node] {
        var n: [EC2XML.Node] = [
            .text("imageId", i.id), .text("imageLocation", i.location), .text("imageState", i.state.rawValue),
            .text("imageOwnerId", i.project), .text("creationDate", ISO8601.format(microseconds: i.createdAt)),
            .text("isPublic", i.isPublic ? "true" : "false"), .text("architecture", i.architecture), .text("imageType", i.imageType),
        ]
        if let k = i.kernelID { n.append(.text("kernelId", k)) }
        if let r = i.ramdiskID { n.append(.text("ramdiskId", r)) }
        n += [.text("name", i.name)]
        if !i.description.isEmpty { n.append(.text("description", i.description)) }
        // Kept in step with the filters of the same names in `describe`.
        n += [.text("rootDeviceType", "instance-store"), .text("virtualizationType", "paravirtual"), .text("hypervisor", "kvm")]
        if i.state == .failed {  // (a pending image's reason is the service's bookkeeping, not shown)
            n.append(.element("stateReason", [.text("code", "Client.InvalidManifest"), .text("message", i.stateReason ?? "registration failed")]))
        }
        return n
    }

    /// The caller's own image (others' are invisible, or not theirs to change).
    static func owned(_ call: EC2Call) async throws -> ImageRecord {
        let text = try call.request.required("ImageId")
        guard let id = ImageID(text) else { throw EC2Error("InvalidAMIID.Malformed", "Invalid id: \"\(text)\"") }
        guard let image = try await call.store.image(id.description), image.isLaunchable(by: call.project) else {
            throw EC2Error("InvalidAMIID.NotFound", "The image id '[\(text)]' does not exist")
        }
        guard image.project == call.project else {
            throw EC2Error("AuthFailure", "Not authorized for image: \(image.id) (it belongs to another project)", status: 403)
        }
        return image
    }

    static func deregister(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let image = try await owned(call)
        try await call.store.deleteImage(image.id)
        // A pending image's copy is dropped when its registration ends.
        if image.state == .available { await call.settings.registrar?.discard(image.id) }
        return [.text("return", "true")]
    }

    static func describeAttribute(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let image = try await owned(call)
        let attribute = try call.request.required("Attribute")
        switch attribute {
        case "launchPermission":
            let items: [[EC2XML.Node]] = (image.isPublic ? [[.text("group", "all")]] : []) + image.launchProjects.map { [.text("userId", $0)] }
            return [.text("imageId", image.id), .set("launchPermission", items)]
        case "description": return [.text("imageId", image.id), .element("description", [.text("value", image.description)])]
        case "kernel": return [.text("imageId", image.id), .element("kernel", image.kernelID.map { [.text("value", $0)] } ?? [])]
        case "ramdisk": return [.text("imageId", image.id), .element("ramdisk", image.ramdiskID.map { [.text("value", $0)] } ?? [])]
        default: throw EC2Error("InvalidParameterValue", "Value (\(attribute)) for parameter attribute is invalid. Unknown attribute.")
        }
    }

    static func modifyAttribute(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let image = try await owned(call)
        var isPublic = image.isPublic
        var projects = Set(image.launchProjects)
        func apply(add: Bool, groups: [String], users: [String]) throws(EC2Error) {
            for g in groups {
                guard g == "all" else { throw EC2Error("InvalidParameterValue", "The only launch permission group is 'all', not '\(g)'.") }
                isPublic = add
            }
            for u in users { if add { projects.insert(u) } else { projects.remove(u) } }
        }
        let adds = call.request.structures("LaunchPermission.Add"), removes = call.request.structures("LaunchPermission.Remove")
        if !adds.isEmpty || !removes.isEmpty {
            try apply(add: true, groups: adds.compactMap { $0["Group"] }, users: adds.compactMap { $0["UserId"] })
            try apply(add: false, groups: removes.compactMap { $0["Group"] }, users: removes.compactMap { $0["UserId"] })
        } else if let op = call.request["OperationType"] {
            guard op == "add" || op == "remove" else { throw EC2Error("InvalidParameterValue", "OperationType is add or remove, not '\(op)'.") }
            try apply(add: op == "add", groups: call.request.list("UserGroup"), users: call.request.list("UserId"))
        } else if call.request["Description.Value"] != nil || call.request["Attribute"] == "description" {
            throw EC2Error("InvalidParameterCombination", "Changing an image's description is not supported; register it again.")
        } else {
            throw EC2Error("MissingParameter", "The request must contain LaunchPermission or OperationType")
        }
        for p in projects where try await call.store.project(p) == nil {
            throw EC2Error("InvalidUserID.Malformed", "The user ID '\(p)' is not a project of this cloud")
        }
        try await call.store.setImageLaunchPermission(image.id, isPublic: isPublic, projects: projects.sorted())
        return [.text("return", "true")]
    }
}

/// EC2 filter values: `*` any run of characters, `?` one character.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        // Iterative wildcard match with one backtrack point (linear for `*` patterns).
        var i = 0, j = 0, star = -1, mark = 0
        while j < t.count {
            if i < p.count, p[i] == "?" || p[i] == t[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == "*" {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }
}

/// EC2's timestamps: `2026-11-30T12:00:00.000Z`.
enum ISO8601 {
    static func format(microseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: Double(microseconds) / 1_000_000))
    }
}
