import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// Container quotas (`X-Container-Meta-Quota-Bytes` / `-Quota-Count`, set by the owner) and
/// account quotas (`X-Account-Meta-Quota-Bytes`, set only by a reseller admin), checked when
/// an object is written, as Swift's `container_quotas` and `account_quotas` do.
enum Quotas {
    /// Rejects bad quota values on a container PUT/POST.
    static func checkContainerHeaders(_ headers: HTTPHeaders) throws {
        if let v = headers.first(name: "x-container-meta-quota-bytes"), !v.isEmpty, !v.allSatisfy(\.isASCIIDigit) {
            throw HTTPError.badRequest("Invalid bytes quota.")
        }
        if let v = headers.first(name: "x-container-meta-quota-count"), !v.isEmpty, !v.allSatisfy(\.isASCIIDigit) {
            throw HTTPError.badRequest("Invalid count quota.")
        }
    }

    /// Only a reseller admin sets an account's quota.
    static func checkAccountHeaders(_ headers: HTTPHeaders, identity: Identity?) throws {
        var quota = headers.first(name: "x-account-meta-quota-bytes")
        if let remove = headers.first(name: "x-remove-account-meta-quota-bytes"), !remove.isEmpty { quota = "0" }
        guard let quota else { return }
        guard identity?.isResellerAdmin == true else { throw HTTPError.forbidden }
        if !quota.isEmpty && !quota.allSatisfy(\.isASCIIDigit) { throw HTTPError.standard(400) }
    }

    /// 413 when writing `length` more bytes (one more object) would pass the container's quota.
    static func checkContainer(_ path: ObjectPath, length: Int64, context: ProxyContext, txid: String) async throws {
        var info = await context.containerInfo(account: path.account, container: path.container, txid: txid)
        // Usage in the shared cache may be old: a container with a quota is read from its
        // servers (once per request: the request's scope keeps what it read).
        if info.headers.contains(where: { $0.0.lowercased().hasPrefix("x-container-meta-quota-") }) {
            info = await context.containerInfo(account: path.account, container: path.container, txid: txid, fresh: true)
        }
        guard info.exists else { return }
        func meta(_ key: String) -> Int64? {
            info.headers.first { $0.0.lowercased() == "x-container-meta-\(key)" }.flatMap { Int64($0.1) }
        }
        if let quota = meta("quota-bytes"), quota < info.bytesUsed.clampedAdding(length) { throw exceeded }
        if let quota = meta("quota-count"), quota < info.objectCount.clampedAdding(1) { throw exceeded }
    }

    /// 413 when writing `length` more bytes would pass the account's quota.
    static func checkAccount(_ path: ObjectPath, length: Int64, context: ProxyContext, txid: String) async throws {
        guard let cached = await context.accountInfo(path.account, txid: txid), cached.header("x-account-meta-quota-bytes") != nil,
              let account = await context.accountInfo(path.account, txid: txid, fresh: true),
              let quota = account.header("x-account-meta-quota-bytes").flatMap({ Int64($0) }), quota >= 0 else { return }
        let used = account.header("x-account-bytes-used").flatMap { Int64($0) } ?? 0
        if quota < used.clampedAdding(length) { throw exceeded }
    }

    /// Both quotas, for writes stages make themselves (bulk extraction, form posts).
    static func checkWrite(_ path: ObjectPath, length: Int64, context: ProxyContext, txid: String) async throws {
        try await checkContainer(path, length: length, context: context, txid: txid)
        try await checkAccount(path, length: length, context: context, txid: txid)
    }

    static var exceeded: HTTPError { HTTPError(413, "Upload exceeds quota.") }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
