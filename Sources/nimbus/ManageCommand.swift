import ArgumentParser
import ControlPlane
import Foundation

/// `nimbus manage user|project …`: the control plane's identities, managed as Nova's operators
/// did with `nova-manage` (on the local cloud's store under `--data-dir`).
struct ManageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manage", abstract: "Manage users and projects (nova-manage style).",
        subcommands: [UserCommand.self, ProjectCommand.self])
}

/// Where the local cloud keeps its control-plane store.
struct StoreOptions: ParsableArguments {
    @Option(help: "Data directory of the local cloud (as for nimbus aio).")
    var dataDir: String = "./var/aio"

    @Option(help: "The control plane's PostgreSQL database (postgres://user@host:port/db) when it lives on another host; its sealing key must be in the data directory's control/control.key.")
    var controlDb: String?

    /// The control directory: store, sealing key, cloud key and certificate, endpoints.
    var controlDirectory: String { URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/control" }

    func store() async throws -> ControlPlaneSQLStore {
        let dir = controlDirectory
        let database = controlDb ?? ControlPlaneDatabase.location(controlDirectory: dir)
        let store = try ControlPlaneSQLStore.open(database: database, keyFile: "\(dir)/control.key")
        try await store.migrate()
        return store
    }
}

/// Runs a manage verb: control-plane refusals print as one line and exit 1.
func managing(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ControlPlaneError {
        FileHandle.standardError.write(Data("nimbus manage: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Users: admin, create, list, delete, exports.",
        subcommands: [Admin.self, Create.self, List.self, Delete.self, Exports.self])

    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a cloud administrator (or make a user one).")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                let s = try await store.store()
                if try await s.user(name) != nil { try await s.setAdmin(name, true) } else { _ = try await s.createUser(name, admin: true) }
                print("admin \(name)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                _ = try await store.store().createUser(name, admin: false)
                print("user \(name)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                for u in try await store.store().users() { print(u.isAdmin ? "\(u.name)\tadmin" : u.name) }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (memberships and credentials too).")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing { try await store.store().deleteUser(name) }
        }
    }

    struct Exports: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a user's EC2 keys for a project as shell exports.")
        @Argument var name: String
        @Argument var project: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                let c = try await store.store().credentials(user: name, project: project)
                print("export EC2_ACCESS_KEY=\(c.accessKey)\nexport EC2_SECRET_KEY=\(c.secretKey)")
                print("export AWS_ACCESS_KEY_ID=\(c.accessKey)\nexport AWS_SECRET_ACCESS_KEY=\(c.secretKey)")
            }
        }
    }
}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Projects: create, add-member, remove-member, members, list, delete, zipfile.",
        subcommands: [Create.self, AddMember.self, RemoveMember.self, Members.self, List.self, Delete.self, Zipfile.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project with its manager.")
        @Argument var name: String
        @Argument var manager: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                let p = try await store.store().createProject(name, manager: manager)
                print("project \(p.name) (manager \(p.manager), object-store account \(p.storageAccount))")
            }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add a user to a project.")
        @Argument var project: String
        @Argument var user: String
        @Option(help: "admin or member.") var role: String = "member"
        @OptionGroup var store: StoreOptions
        func run() async throws {
            guard let r = ProjectRole(rawValue: role) else { throw ValidationError("--role must be admin or member") }
            try await managing { try await store.store().addMember(user, to: project, role: r) }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove a user from a project.")
        @Argument var project: String
        @Argument var user: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing { try await store.store().removeMember(user, from: project) }
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's members and roles.")
        @Argument var project: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                let s = try await store.store()
                guard try await s.project(project) != nil else { throw ControlPlaneError.notFound("project \(project)") }
                for m in try await s.members(of: project) { print("\(m.user)\t\(m.role.rawValue)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects.")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                for p in try await store.store().projects() { print("\(p.name)\tmanager \(p.manager)") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project (memberships and credentials too).")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing { try await store.store().deleteProject(name) }
        }
    }

    struct Zipfile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a user's credentials for a project (novarc, cacert.pem, cert.pem, pk.pem, config) into a zip file.")
        @Argument var project: String
        @Argument var user: String
        @Argument(help: "The zip file to write.") var file: String = "nimbus.zip"
        @OptionGroup var store: StoreOptions
        func run() async throws {
            try await managing {
                let s = try await store.store()
                let credential = try await s.credentials(user: user, project: project)
                let storageKey = try await s.storageKey(user: user, project: project)
                let authority = try CloudAuthority.open(directory: store.controlDirectory)
                let issued = try authority.issue(user: user, project: project)
                let certPEM = try issued.certificate.pem()
                try await s.setCertificate(certPEM, user: user, project: project)
                let bundle = CredentialsBundle(
                    endpoints: CloudEndpoints.load(directory: store.controlDirectory), credential: credential, storageKey: storageKey,
                    cloudCertificatePEM: try authority.certificate.pem(), userCertificatePEM: certPEM, userKeyPEM: try issued.key.pem())
                try ZipWriter.write(bundle.files, to: file)
                print("wrote \(file) for \(user) in project \(project)")
            }
        }
    }
}
