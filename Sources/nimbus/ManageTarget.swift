import ControlPlane
import Foundation

/// What `nimbus manage` acts on: the control-plane store of a cloud on this host (or its
/// PostgreSQL database, `--control-db`), or a remote cloud's admin API (`--url`).
protocol ManageTarget: Sendable {
    func makeAdmin(_ name: String) async throws
    func createUser(_ name: String) async throws
    func users() async throws -> [(name: String, admin: Bool)]
    func deleteUser(_ name: String) async throws
    /// The user's EC2 keys for the project (made on first use).
    func keys(user: String, project: String) async throws -> (access: String, secret: String)
    func createProject(_ name: String, manager: String) async throws -> (name: String, manager: String, account: String)
    func addMember(_ user: String, to project: String, role: ProjectRole) async throws
    func removeMember(_ user: String, from project: String) async throws
    func members(of project: String) async throws -> [(user: String, role: String)]
    func projects() async throws -> [(name: String, manager: String)]
    func deleteProject(_ name: String) async throws
    /// A new credentials bundle's files.
    func bundleFiles(user: String, project: String) async throws -> [(name: String, contents: String, mode: UInt16)]
}

/// The store itself. With `remote` (a PostgreSQL database another host's cloud uses) nothing
/// of that cloud is made here: its sealing key, cloud key and certificate and endpoints must
/// have been copied into the control directory.
struct LocalManageTarget: ManageTarget {
    let store: ControlPlaneSQLStore
    let controlDirectory: String
    let remote: Bool

    func makeAdmin(_ name: String) async throws {
        if try await store.user(name) != nil { try await store.setAdmin(name, true) } else { _ = try await store.createUser(name, admin: true) }
    }

    func createUser(_ name: String) async throws { _ = try await store.createUser(name, admin: false) }

    func users() async throws -> [(name: String, admin: Bool)] { try await store.users().map { ($0.name, $0.isAdmin) } }

    func deleteUser(_ name: String) async throws { try await store.deleteUser(name) }

    func keys(user: String, project: String) async throws -> (access: String, secret: String) {
        let c = try await store.credentials(user: user, project: project)
        return (c.accessKey, c.secretKey)
    }

    func createProject(_ name: String, manager: String) async throws -> (name: String, manager: String, account: String) {
        let p = try await store.createProject(name, manager: manager)
        return (p.name, p.manager, p.storageAccount)
    }

    func addMember(_ user: String, to project: String, role: ProjectRole) async throws { try await store.addMember(user, to: project, role: role) }

    func removeMember(_ user: String, from project: String) async throws { try await store.removeMember(user, from: project) }

    func members(of project: String) async throws -> [(user: String, role: String)] {
        guard try await store.project(project) != nil else { throw ControlPlaneError.notFound("project \(project)") }
        return try await store.members(of: project).map { ($0.user, $0.role.rawValue) }
    }

    func projects() async throws -> [(name: String, manager: String)] { try await store.projects().map { ($0.name, $0.manager) } }

    func deleteProject(_ name: String) async throws { try await store.deleteProject(name) }

    func bundleFiles(user: String, project: String) async throws -> [(name: String, contents: String, mode: UInt16)] {
        let authority = try CloudAuthority.open(directory: controlDirectory, create: !remote)
        let endpoints = remote ? try CloudEndpoints.recorded(directory: controlDirectory) : CloudEndpoints.load(directory: controlDirectory)
        return try await CredentialsIssuer.bundle(store: store, authority: authority, endpoints: endpoints, user: user, project: project).files
    }
}

/// A remote cloud's admin API (Nova's admin actions on the EC2 endpoint), called with an
/// administrator's EC2 keys.
struct RemoteManageTarget: ManageTarget {
    let api: EC2Caller

    func makeAdmin(_ name: String) async throws { _ = try await api.call("RegisterUser", [("Name", name), ("Admin", "true")]) }

    func createUser(_ name: String) async throws { _ = try await api.call("RegisterUser", [("Name", name)]) }

    func users() async throws -> [(name: String, admin: Bool)] {
        try await api.call("DescribeUsers", []).items("userSet").map { ($0.value("username") ?? "", $0.value("isAdmin") == "true") }
    }

    func deleteUser(_ name: String) async throws { _ = try await api.call("DeregisterUser", [("Name", name)]) }

    func keys(user: String, project: String) async throws -> (access: String, secret: String) {
        let a = try await api.call("DescribeUser", [("Name", user), ("Project", project)])
        return (a.value("accesskey") ?? "", a.value("secretkey") ?? "")
    }

    func createProject(_ name: String, manager: String) async throws -> (name: String, manager: String, account: String) {
        let a = try await api.call("RegisterProject", [("Name", name), ("ManagerUser", manager)])
        return (a.value("projectname") ?? name, a.value("projectManagerId") ?? manager, a.value("storageAccount") ?? "")
    }

    func addMember(_ user: String, to project: String, role: ProjectRole) async throws {
        _ = try await api.call("ModifyProjectMember", [("User", user), ("Project", project), ("Operation", "add"), ("Role", role.rawValue)])
    }

    func removeMember(_ user: String, from project: String) async throws {
        _ = try await api.call("ModifyProjectMember", [("User", user), ("Project", project), ("Operation", "remove")])
    }

    func members(of project: String) async throws -> [(user: String, role: String)] {
        try await api.call("DescribeProjectMembers", [("Name", project)]).items("members").map { ($0.value("member") ?? "", $0.value("role") ?? "") }
    }

    func projects() async throws -> [(name: String, manager: String)] {
        try await api.call("DescribeProjects", []).items("projectSet").map { ($0.value("projectname") ?? "", $0.value("projectManagerId") ?? "") }
    }

    func deleteProject(_ name: String) async throws { _ = try await api.call("DeregisterProject", [("Name", name)]) }

    func bundleFiles(user: String, project: String) async throws -> [(name: String, contents: String, mode: UInt16)] {
        let items = try await api.call("GenerateX509ForUser", [("Name", user), ("Project", project)]).items("fileSet")
        return try items.map { item in
            guard let name = item.value("name"), let data = item.value("contents").flatMap({ Data(base64Encoded: $0) }),
                  let mode = item.value("mode").flatMap({ UInt16($0, radix: 8) }) else {
                throw EC2Caller.Failure(description: "GenerateX509ForUser: the answer's files are malformed")
            }
            return (name, String(decoding: data, as: UTF8.self), mode)
        }
    }
}
