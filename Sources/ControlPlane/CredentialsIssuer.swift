import NIOPosix

/// Issues a user's credentials bundle for a project, for `nimbus manage project zipfile` on the
/// cloud's host and for the admin API's `GenerateX509ForUser` alike: the EC2 keys and the
/// object-store key (made on first use), and a new certificate signed by the cloud, recorded so
/// the bundles it signs register.
public enum CredentialsIssuer {
    public static func bundle(store: any ControlPlaneStore, authority: CloudAuthority, endpoints: CloudEndpoints,
                              user: String, project: String) async throws -> CredentialsBundle {
        let credential = try await store.credentials(user: user, project: project)
        let storageKey = try await store.storageKey(user: user, project: project)
        // An RSA key takes tens of milliseconds of CPU: on a thread pool, not Swift's shared threads.
        let issued = try await NIOThreadPool.singleton.runIfActive { try authority.issue(user: user, project: project) }
        let certificatePEM = try issued.certificate.pem()
        try await store.addCertificate(certificatePEM, user: user, project: project)
        return CredentialsBundle(endpoints: endpoints, credential: credential, storageKey: storageKey,
                                 cloudCertificatePEM: try authority.certificate.pem(), userCertificatePEM: certificatePEM,
                                 userKeyPEM: try issued.key.pem())
    }
}
