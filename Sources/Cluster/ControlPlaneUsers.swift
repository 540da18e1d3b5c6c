import ControlPlane
import Proxy

/// The control plane's project members as tempauth users: `project:user` with the member's
/// object-store key reaches `AUTH_<project>` as its owner (`.admin`), whatever the member's
/// project role — roles govern the control plane, ownership of the account is the project's.
public struct ControlPlaneUsers: TempAuthUserSource {
    let store: any ControlPlaneStore

    public init(store: any ControlPlaneStore) { self.store = store }

    public func user(account: String, user: String, key: String) async -> TempAuthUser? {
        guard (try? await store.checkStorageKey(user: user, project: account, key: key)) == true else { return nil }
        return TempAuthUser(account: account, user: user, key: key, groups: [".admin"])
    }

    /// A member's EC2 keys sign S3 calls to the project's account.
    public func s3Credentials(accessKey: String) async -> (secret: String, user: TempAuthUser)? {
        // Keys as the control plane makes them; anything else never reaches the store.
        guard accessKey.utf8.count == 20, accessKey.hasPrefix("NIMB"),
              let c = try? await store.credentials(accessKey: accessKey) else { return nil }
        return (c.secretKey, TempAuthUser(account: c.project, user: c.user, key: "", groups: [".admin"]))
    }
}
