import ControlPlane
import Foundation

/// The cloud administrators' API, as Nova's (`nova/api/ec2/admin.py`, at `/services/Admin`,
/// used by its adminclient): users, projects, members and credentials bundles, for
/// `nimbus manage --url` on a host other than the cloud's. Every action wants a caller whose
/// user is a cloud administrator; anyone else gets `UnauthorizedOperation` and learns nothing.
enum AdminActions {
    static let all: [String: @Sendable (EC2Call) async throws -> [EC2XML.Node]] = [
        "DescribeUsers": describeUsers,
        "DescribeUser": describeUser,
        "RegisterUser": registerUser,
        "DeregisterUser": deregisterUser,
        "DescribeProjects": describeProjects,
        "RegisterProject": registerProject,
        "DeregisterProject": deregisterProject,
        "DescribeProjectMembers": describeProjectMembers,
        "ModifyProjectMember": modifyProjectMember,
        "GenerateX509ForUser": generateX509ForUser,
    ]

    static func requireAdmin(_ call: EC2Call) async throws {
        guard try await call.store.user(call.caller.user)?.isAdmin == true else {
            throw EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation: it is for cloud administrators.",
                           status: 403)
        }
    }

    static func userItem(_ u: User) -> [EC2XML.Node] { [.text("username", u.name), .text("isAdmin", u.isAdmin ? "true" : "false")] }

    static func describeUsers(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        return [.set("userSet", try await call.store.users().map(userItem))]
    }

    /// One user; with `Project`, its EC2 keys for that project too (Nova's answer carried them).
    static func describeUser(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let name = try call.request.required("Name")
        guard let user = try await call.store.user(name) else { throw ControlPlaneError.notFound("user \(name)") }
        var out = userItem(user)
        if let project = call.request["Project"], !project.isEmpty {
            let c = try await call.store.credentials(user: name, project: project)
            out += [.text("accesskey", c.accessKey), .text("secretkey", c.secretKey)]
        }
        return out
    }

    /// Creates a user; `Admin=true` makes one an administrator (an existing user too, as
    /// `nimbus manage user admin` does).
    static func registerUser(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let name = try call.request.required("Name")
        let admin = try flag(call, "Admin")
        if admin, try await call.store.user(name) != nil {
            try await call.store.setAdmin(name, true)
        } else {
            _ = try await call.store.createUser(name, admin: admin)
        }
        guard let user = try await call.store.user(name) else { throw ControlPlaneError.notFound("user \(name)") }
        return userItem(user)
    }

    static func deregisterUser(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let name = try call.request.required("Name")
        guard name != call.caller.user else { throw EC2Error("InvalidParameterValue", "An administrator cannot delete the user it calls as.") }
        try await call.store.deleteUser(name)
        return [.text("return", "true")]
    }

    static func projectItem(_ p: Project) -> [EC2XML.Node] {
        [.text("projectname", p.name), .text("projectManagerId", p.manager), .text("storageAccount", p.storageAccount)]
    }

    static func describeProjects(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        return [.set("projectSet", try await call.store.projects().map(projectItem))]
    }

    static func registerProject(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let p = try await call.store.createProject(try call.request.required("Name"), manager: try call.request.required("ManagerUser"))
        return projectItem(p)
    }

    static func deregisterProject(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let name = try call.request.required("Name")
        guard name != call.caller.project else {
            throw EC2Error("InvalidParameterValue", "An administrator cannot delete the project it calls from.")
        }
        try await call.store.deleteProject(name)
        return [.text("return", "true")]
    }

    static func describeProjectMembers(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let name = try call.request.required("Name")
        guard try await call.store.project(name) != nil else { throw ControlPlaneError.notFound("project \(name)") }
        let members = try await call.store.members(of: name)
        return [.set("members", members.map { [.text("member", $0.user), .text("role", $0.role.rawValue)] })]
    }

    /// `Operation=add` (with `Role`, default `member`) or `remove`.
    static func modifyProjectMember(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        let user = try call.request.required("User"), project = try call.request.required("Project")
        switch try call.request.required("Operation") {
        case "add":
            let text = call.request["Role"] ?? "member"
            guard let role = ProjectRole(rawValue: text) else { throw EC2Error("InvalidParameterValue", "Role must be admin or member, not '\(text)'.") }
            try await call.store.addMember(user, to: project, role: role)
        case "remove":
            try await call.store.removeMember(user, from: project)
        case let other:
            throw EC2Error("InvalidParameterValue", "Operation must be add or remove, not '\(other)'.")
        }
        return [.text("return", "true")]
    }

    /// The user's credentials bundle for `Project`: its files (novarc, cacert.pem, cert.pem,
    /// pk.pem, config) with their modes, each base64; the caller zips them.
    static func generateX509ForUser(_ call: EC2Call) async throws -> [EC2XML.Node] {
        try await requireAdmin(call)
        guard let issuing = call.settings.credentials else {
            throw EC2Error("UnsupportedOperation", "This API does not issue credentials (it has no cloud key).")
        }
        let user = try call.request.required("Name"), project = try call.request.required("Project")
        let bundle = try await CredentialsIssuer.bundle(store: call.store, authority: issuing.authority, endpoints: issuing.endpoints,
                                                        user: user, project: project)
        let files: [[EC2XML.Node]] = bundle.files.map {
            [.text("name", $0.name), .text("mode", String($0.mode, radix: 8)), .text("contents", Data($0.contents.utf8).base64EncodedString())]
        }
        return [.text("username", user), .set("fileSet", files)]
    }

    static func flag(_ call: EC2Call, _ name: String) throws(EC2Error) -> Bool {
        switch call.request[name] {
        case nil, "", "false": return false
        case "true": return true
        case let other?: throw EC2Error("InvalidParameterValue", "\(name) must be true or false, not '\(other)'.")
        }
    }
}
