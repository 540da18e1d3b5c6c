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
}
