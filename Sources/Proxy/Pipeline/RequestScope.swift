import NIOConcurrencyHelpers

/// What one client request learned about accounts and containers, so that every stage and
/// the controller look each up at most once (Swift's `swift.infocache`), and which object
/// features the pipeline's stages switched on for it.
final class RequestScope: Sendable {
    private struct State {
        var containers = Lookups<ContainerInfo>()
        var accounts = Lookups<AccountInfo>()
        var usesSharedCache = false
        var features: ObjectFeatures = []
        var writer: ObjectWriter = .plain
        var symloopMax: Int?
        var objectSysmeta: [(String, String)] = []
        var objectFooters: (@Sendable () -> [(String, String)])?
        var containerSysmeta: [(String, String)] = []
        var copySourcePin: [(String, String?)] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Whether lookups may use the proxy's shared short-lived cache (the `cache` stage).
    var usesSharedCache: Bool {
        get { state.withLockedValue { $0.usesSharedCache } }
        set { state.withLockedValue { $0.usesSharedCache = newValue } }
    }

    /// The object features the stages enabled (`slo`, `dlo`, `symlink`).
    var features: ObjectFeatures { state.withLockedValue { $0.features } }

    func enable(_ feature: ObjectFeatures) { state.withLockedValue { $0.features.formUnion(feature) } }

    /// How many symlinks in a row a read follows (the `symlink` stage's `symloop_max`).
    var symloopMax: Int? {
        get { state.withLockedValue { $0.symloopMax } }
        set { state.withLockedValue { $0.symloopMax = newValue } }
    }

    /// How the proxy server writes the object of a PUT: the stage that claimed it says.
    var writer: ObjectWriter {
        get { state.withLockedValue { $0.writer } }
        set { state.withLockedValue { $0.writer = newValue } }
    }

    /// System metadata (`X-Object-Sysmeta-*`) a stage stores with the object of a PUT (plain or
    /// a large object's manifest), as Swift's middleware put it on the request (a client's own
    /// never gets past `gatekeeper`).
    var objectSysmeta: [(String, String)] {
        get { state.withLockedValue { $0.objectSysmeta } }
        set { state.withLockedValue { $0.objectSysmeta = newValue } }
    }

    /// System metadata a stage learns only from the bytes of a plain object PUT (a checksum it
    /// computed or a client's trailer brought), asked for once the body has ended and sent to
    /// the object servers as footers (trailer fields of a chunked body), as Swift's EC and
    /// encryption send theirs. Consumed by the PUT.
    var objectFooters: (@Sendable () -> [(String, String)])? {
        get { state.withLockedValue { $0.objectFooters } }
        set { state.withLockedValue { $0.objectFooters = newValue } }
    }

    /// System metadata (`X-Container-Sysmeta-*`) a stage stores with the container of the next
    /// container PUT or POST (s3api's bucket ACL), consumed by it.
    var containerSysmeta: [(String, String)] {
        get { state.withLockedValue { $0.containerSysmeta } }
        set { state.withLockedValue { $0.containerSysmeta = newValue } }
    }

    /// Headers the source of the next copy must still have when it is read (nil: must not have
    /// the header): a stage that checked the source first (s3api's ACL check of a copy made as
    /// the bucket owner) pins what it checked, and a source replaced in between fails the copy
    /// with 412 instead of copying bytes the check never saw. Consumed by the copy.
    var copySourcePin: [(String, String?)] {
        get { state.withLockedValue { $0.copySourcePin } }
        set { state.withLockedValue { $0.copySourcePin = newValue } }
    }

    /// A container looked up during this request; with `fresh`, only one read from the backend.
    func container(_ key: String, fresh: Bool) -> ContainerInfo? { state.withLockedValue { $0.containers.get(key, fresh: fresh) } }

    func remember(container key: String, _ info: ContainerInfo, fromBackend: Bool) {
        state.withLockedValue { $0.containers.entries[key] = (info, fromBackend) }
    }

    /// Forgets a container this request changed.
    func forget(container key: String) { _ = state.withLockedValue { $0.containers.entries.removeValue(forKey: key) } }

    func account(_ key: String, fresh: Bool) -> AccountInfo? { state.withLockedValue { $0.accounts.get(key, fresh: fresh) } }

    func remember(account key: String, _ info: AccountInfo, fromBackend: Bool) {
        state.withLockedValue { $0.accounts.entries[key] = (info, fromBackend) }
    }

    func forget(account key: String) { _ = state.withLockedValue { $0.accounts.entries.removeValue(forKey: key) } }

    /// Lookups of one kind, each marked with whether it was read from the backend during the
    /// request (a quota check wants that, not a shared-cache copy).
    struct Lookups<Info: Sendable>: Sendable {
        var entries: [String: (Info, fromBackend: Bool)] = [:]

        func get(_ key: String, fresh: Bool) -> Info? {
            guard let (info, fromBackend) = entries[key], fromBackend || !fresh else { return nil }
            return info
        }
    }
}

/// Object features a stage switches on for a request; without its stage in the pipeline, the
/// proxy server serves a manifest or a symlink as the plain object it is stored as.
struct ObjectFeatures: OptionSet, Sendable {
    let rawValue: Int
    /// Static large objects (`slo`).
    static let slo = ObjectFeatures(rawValue: 1)
    /// Dynamic large objects (`dlo`).
    static let dlo = ObjectFeatures(rawValue: 2)
    /// Symlinks are followed (`symlink`).
    static let symlink = ObjectFeatures(rawValue: 4)
    static let all: ObjectFeatures = [.slo, .dlo, .symlink]
}

/// What an object PUT stores, as the stage that recognised it decided. The proxy server does
/// the write, so the stages between (quotas, versioned writes) see the PUT as Swift's do.
enum ObjectWriter: Sendable {
    /// The request body (or, with `X-Copy-From`, the copy source — `copy`).
    case plain
    /// A static large object's manifest (`slo`, `?multipart-manifest=put`).
    case sloManifest
    /// A symlink (`symlink`, `X-Symlink-Target`).
    case symlink
}
