import CLibvirt
import Glibc
import NIOConcurrencyHelpers
import NIOPosix

/// The hypervisor through libvirt's C API (the `CLibvirt` system library). Every call blocks
/// (an RPC to libvirtd, or the test driver's work), so each runs on this hypervisor's own
/// threads, never on Swift's shared concurrency threads.
/// A connection that died (libvirtd restarted) is opened again on the next call: running
/// domains live on in their qemu processes and are found again by name.
// @unchecked Sendable: libvirt connections are thread-safe (one connection may serve calls from
// several threads at once, libvirt ≥ 0.6); the pointer is read and replaced under `lock`, and
// each call holds its own reference (virConnectRef) so replacing it never frees one in use.
public final class LibvirtHypervisor: Hypervisor, @unchecked Sendable {
    private var current: OpaquePointer?
    private let lock = NIOLock()
    private let pool: NIOThreadPool
    public let uri: String

    /// Opens `uri` (`qemu:///system`, `qemu:///session`, `test:///default`).
    public init(uri: String) throws {
        // Errors come back as HypervisorError; libvirt's default handler would also print them.
        virSetErrorFunc(nil) { _, _ in }
        guard let c = virConnectOpen(uri) else { throw Self.lastError("cannot connect to \(uri)") }
        current = c
        self.uri = uri
        pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
    }

    deinit {
        if let current { virConnectClose(current) }
        pool.shutdownGracefully { _ in }
    }

    /// The live connection with a reference for the caller (release it with virConnectClose),
    /// reopened when libvirtd went away (blocking: pool threads only).
    private func connection() throws -> OpaquePointer {
        try lock.withLock {
            if let c = current, virConnectIsAlive(c) == 1 {
                virConnectRef(c)
                return c
            }
            if let c = current { virConnectClose(c) }
            current = nil
            guard let c = virConnectOpen(uri) else { throw Self.lastError("cannot connect to \(uri)") }
            current = c
            virConnectRef(c)
            return c
        }
    }

    /// libvirt's error for the call that just failed on this thread.
    static func lastError(_ fallback: String) -> HypervisorError {
        guard let e = virGetLastError() else { return HypervisorError(code: -1, message: fallback) }
        let message = e.pointee.message.map { String(cString: $0) } ?? fallback
        let error = HypervisorError(code: e.pointee.code, message: message)
        virResetLastError()
        return error
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await pool.runIfActive { [self] in
            let c = try self.connection()
            defer { virConnectClose(c) }
            return try body(c)
        }
    }

    /// Runs `body` with the named domain (freed after).
    private static func withDomain<T>(_ c: OpaquePointer, _ name: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        guard let d = virDomainLookupByName(c, name) else { throw lastError("no domain \(name)") }
        defer { virDomainFree(d) }
        return try body(d)
    }

    public func define(xml: String) async throws -> String {
        try await run { c in
            guard let d = virDomainDefineXML(c, xml) else { throw Self.lastError("cannot define the domain") }
            defer { virDomainFree(d) }
            guard let name = virDomainGetName(d) else { throw Self.lastError("the domain has no name") }
            return String(cString: name)
        }
    }

    public func start(_ name: String) async throws {
        try await run { c in
            try Self.withDomain(c, name) { d in
                guard virDomainCreate(d) == 0 else { throw Self.lastError("cannot start \(name)") }
            }
        }
    }

    public func destroy(_ name: String) async throws {
        try await run { c in
            try Self.withDomain(c, name) { d in
                guard virDomainIsActive(d) == 1 else { return }
                guard virDomainDestroy(d) == 0 else {
                    let e = Self.lastError("cannot stop \(name)")
                    // Stopped meanwhile (by itself or another caller): what was asked is done.
                    if e.code == HypervisorError.operationInvalid { return }
                    throw e
                }
            }
        }
    }

    public func undefine(_ name: String) async throws {
        try await run { c in
            guard let d = virDomainLookupByName(c, name) else {
                let e = Self.lastError("no domain \(name)")
                if e.isNoDomain { return }
                throw e
            }
            defer { virDomainFree(d) }
            guard virDomainUndefine(d) == 0 else { throw Self.lastError("cannot undefine \(name)") }
        }
    }

    public func state(_ name: String) async throws -> DomainState {
        try await run { c in
            try Self.withDomain(c, name) { d in
                var state: Int32 = 0, reason: Int32 = 0
                guard virDomainGetState(d, &state, &reason, 0) == 0 else { throw Self.lastError("cannot read the state of \(name)") }
                return DomainState(rawValue: state) ?? .noState
            }
        }
    }

    public func domains() async throws -> [String] {
        try await run { c in
            var list: UnsafeMutablePointer<OpaquePointer?>?
            let n = virConnectListAllDomains(c, &list, 0)
            guard n >= 0 else { throw Self.lastError("cannot list domains") }
            defer { free(list) }
            var names: [String] = []
            for i in 0..<Int(n) {
                guard let d = list?[i] else { continue }
                if let name = virDomainGetName(d) { names.append(String(cString: name)) }
                virDomainFree(d)
            }
            return names.sorted()
        }
    }
}
