import NimbusCore

/// gpg is a child process waited for: in async code it runs on a thread of its own, never on one
/// of the few threads Swift's concurrency has (two on a 2-core machine; Dispatch's global queues
/// are the same threads on Linux), where a wait of a second would stall every other task of the
/// process — servers' handlers included.
extension GPG {
    public func encrypt(_ input: String, to output: String) async throws {
        try await Self.offPool { try self.encrypt(input, to: output) }
    }

    public func decrypt(_ input: String, to output: String) async throws {
        try await Self.offPool { try self.decrypt(input, to: output) }
    }

    func encryptionKeyIDs(of file: String) async throws -> [String] {
        try await Self.offPool { try self.encryptionKeyIDs(of: file) }
    }

    func recipientKeyIDs() async throws -> Set<String> {
        try await Self.offPool { try self.recipientKeyIDs() }
    }

    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await onOwnThread(work)
    }
}
