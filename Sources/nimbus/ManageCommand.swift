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

/// Where a cloud on this host keeps its control-plane store (or, with `--control-db`, the
/// PostgreSQL database a cloud spread over several hosts uses).
struct StoreOptions: ParsableArguments {
    @Option(help: "Data directory of the local cloud (as for nimbus aio).")
    var dataDir: String = "./var/aio"

    @Option(help: "The control plane's PostgreSQL database (postgres://user@host:port/db) when it lives on another host; the cloud's control.key, cloud-key.pem, cloud-cert.pem and endpoints.json must be copied into the data directory's control/.")
    var controlDb: String?

    /// The control directory: store, sealing key, cloud key and certificate, endpoints.
    var controlDirectory: String { URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/control" }
}

/// Which cloud `nimbus manage` acts on: the one whose data directory is here (its store, or
/// its PostgreSQL database with `--control-db`), or a remote one's admin API (`--url`).
struct ManageOptions: ParsableArguments {
    @OptionGroup var local: StoreOptions

    @Option(help: "A remote cloud's EC2 API (e.g. http://cloud:8773/services/Admin), called with an administrator's EC2_ACCESS_KEY and EC2_SECRET_KEY.")
    var url: String?

    func target() async throws -> any ManageTarget {
        if let url {
            guard local.controlDb == nil else { throw ValidationError("--url and --control-db name two different clouds; give one") }
            let env = ProcessInfo.processInfo.environment
            guard let access = env["EC2_ACCESS_KEY"] ?? env["AWS_ACCESS_KEY_ID"], let secret = env["EC2_SECRET_KEY"] ?? env["AWS_SECRET_ACCESS_KEY"] else {
                throw ValidationError("--url needs an administrator's EC2_ACCESS_KEY and EC2_SECRET_KEY (source their novarc)")
            }
            return RemoteManageTarget(api: try EC2Caller(url: url, accessKey: access, secret: secret, region: env["AWS_DEFAULT_REGION"] ?? "nimbus"))
        }
        let dir = local.controlDirectory, remoteDatabase = local.controlDb != nil
        let database = local.controlDb ?? ControlPlaneDatabase.location(controlDirectory: dir)
        let store = try ControlPlaneSQLStore.open(database: database, keyFile: "\(dir)/control.key", createKey: !remoteDatabase)
        try await store.migrate()
        return LocalManageTarget(store: store, controlDirectory: dir, remote: remoteDatabase)
    }
}

/// Runs a manage verb: refusals (the store's or the remote API's) print as one line and exit 1.
func managing(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ControlPlaneError {
        FileHandle.standardError.write(Data("nimbus manage: \(error)\n".utf8))
        throw ExitCode(1)
    } catch let error as EC2Caller.Failure {
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
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                try await store.target().makeAdmin(name)
                print("admin \(name)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @Argument var name: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                try await store.target().createUser(name)
                print("user \(name)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                for u in try await store.target().users() { print(u.admin ? "\(u.name)\tadmin" : u.name) }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (memberships and credentials too).")
        @Argument var name: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing { try await store.target().deleteUser(name) }
        }
    }

    struct Exports: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a user's EC2 keys for a project as shell exports.")
        @Argument var name: String
        @Argument var project: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                let k = try await store.target().keys(user: name, project: project)
                print("export EC2_ACCESS_KEY=\(k.access)\nexport EC2_SECRET_KEY=\(k.secret)")
                print("export AWS_ACCESS_KEY_ID=\(k.access)\nexport AWS_SECRET_ACCESS_KEY=\(k.secret)")
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
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                let p = try await store.target().createProject(name, manager: manager)
                print("project \(p.name) (manager \(p.manager), object-store account \(p.account))")
            }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add a user to a project.")
        @Argument var project: String
        @Argument var user: String
        @Option(help: "admin or member.") var role: String = "member"
        @OptionGroup var store: ManageOptions
        func run() async throws {
            guard let r = ProjectRole(rawValue: role) else { throw ValidationError("--role must be admin or member") }
            try await managing { try await store.target().addMember(user, to: project, role: r) }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove a user from a project.")
        @Argument var project: String
        @Argument var user: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing { try await store.target().removeMember(user, from: project) }
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's members and roles.")
        @Argument var project: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                for m in try await store.target().members(of: project) { print("\(m.user)\t\(m.role)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects.")
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                for p in try await store.target().projects() { print("\(p.name)\tmanager \(p.manager)") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project (memberships and credentials too).")
        @Argument var name: String
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing { try await store.target().deleteProject(name) }
        }
    }

    struct Zipfile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a user's credentials for a project (novarc, cacert.pem, cert.pem, pk.pem, config) into a zip file.")
        @Argument var project: String
        @Argument var user: String
        @Argument(help: "The zip file to write.") var file: String = "nimbus.zip"
        @OptionGroup var store: ManageOptions
        func run() async throws {
            try await managing {
                let files = try await store.target().bundleFiles(user: user, project: project)
                try ZipWriter.write(files, to: file)
                print("wrote \(file) for \(user) in project \(project)")
            }
        }
    }
}
