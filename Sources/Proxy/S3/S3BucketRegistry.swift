import Foundation
import HTTPServerKit
import NIOConcurrencyHelpers
import NIOHTTP1
import NimbusCore

/// S3's bucket namespace is global; Swift's containers live in accounts. The registry keeps
/// which account owns each bucket made through S3 — one object per bucket, `<name>`, in the
/// container `buckets` of the internal account `AUTH_.s3api`, its owner in system metadata —
/// so another account's request finds the bucket (and is refused by its ACLs, or allowed by
/// them), an anonymous request finds it, and a second account cannot create the same name
/// (`BucketAlreadyExists`). Containers made through the Swift API are not registered: they are
/// found in the signer's own account, as before.
struct S3BucketRegistry {
    static let account = "AUTH_.s3api"
    static let container = "buckets"
    static let ownerHeader = "X-Object-Sysmeta-S3api-Owner"
    /// The registry's own identity: owner of `AUTH_.s3api` only (no user can log in as it).
    static let identity = Identity(account: ".s3api", user: "s3api", storageAccount: account, groups: [account])

    let call: S3Call

    /// The account that owns `bucket`, nil when no S3 request created it.
    func owner(of bucket: String) async throws -> String? {
        if let cached = call.settings.bucketCache.lookUp(bucket, now: call.env.context.clock.now()) { return cached }
        let r = try await call.swift("HEAD", Self.container, bucket, as: Self.identity, account: Self.account)
        let owner: String?
        switch r.status {
        case 200: owner = r.headers.first(name: Self.ownerHeader)
        case 404: owner = nil
        default: throw S3Error.fromSwift(r.status >= 500 ? r.status : 503, bucket: bucket, key: nil)
        }
        call.settings.bucketCache.store(bucket, owner, now: call.env.context.clock.now())
        return owner
    }

    /// Claims `bucket` for `owner`; answers the account that holds it when it is taken.
    func claim(_ bucket: String, for owner: String) async throws -> String? {
        var r = try await put(bucket, owner)
        if r.status == 404 {
            // The registry's container does not exist yet: made on first use.
            let made = try await call.swift("PUT", Self.container, as: Self.identity, account: Self.account)
            guard made.status == 201 || made.status == 202 else { throw S3Error.fromSwift(503, bucket: bucket, key: nil) }
            r = try await put(bucket, owner)
        }
        call.settings.bucketCache.forget(bucket)
        if r.status == 201 { return nil }
        guard r.status == 412 else { throw S3Error.fromSwift(r.status >= 500 ? r.status : 503, bucket: bucket, key: nil) }
        // Taken, but its holder not readable yet: say so rather than guess.
        guard let holder = try await self.owner(of: bucket) else {
            throw S3Error("OperationAborted", "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                          status: 409)
        }
        return holder
    }

    private func put(_ bucket: String, _ owner: String) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "If-None-Match", value: "*")
        headers.add(name: "Content-Type", value: "application/x-s3-bucket")
        call.env.scope.objectSysmeta = [(Self.ownerHeader, owner)]
        defer { call.env.scope.objectSysmeta = [] }
        return try await call.swift("PUT", Self.container, bucket, headers: headers, as: Self.identity, account: Self.account)
    }

    /// Gives the name back (after the bucket was deleted, or its creation failed).
    func release(_ bucket: String, owner: String) async throws {
        call.settings.bucketCache.forget(bucket)
        guard try await self.owner(of: bucket) == owner else { return }
        _ = try await call.swift("DELETE", Self.container, bucket, as: Self.identity, account: Self.account)
        call.settings.bucketCache.forget(bucket)
    }
}

/// Recent registry answers, so a bucket's owner costs one lookup per proxy every few seconds,
/// not one per request. A name another proxy claims or gives back is seen after `ttl` at most.
final class S3BucketCache: Sendable {
    private let entries = NIOLockedValueBox<[String: (account: String?, at: Double)]>([:])
    let ttl: Double
    let capacity = 10_000

    init(ttl: Double = 5) { self.ttl = ttl }

    /// The cached owner (`.some(nil)`: known not to be registered), nil when not cached.
    func lookUp(_ bucket: String, now: Double) -> String?? {
        entries.withLockedValue { e in
            guard let hit = e[bucket], now - hit.at < ttl else { return nil }
            return .some(hit.account)
        }
    }

    func store(_ bucket: String, _ account: String?, now: Double) {
        entries.withLockedValue { e in
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[bucket] = (account, now)
        }
    }

    func forget(_ bucket: String) { _ = entries.withLockedValue { $0.removeValue(forKey: bucket) } }
}
