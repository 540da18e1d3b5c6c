import Foundation

/// What `nova-manage project zipfile` handed a user, under the same names: `novarc` (EC2,
/// awscli and object-store variables; sourced from anywhere, it finds its files beside it),
/// `cacert.pem` (the cloud's certificate bundles are encrypted for), `cert.pem` and `pk.pem`
/// (the user's certificate and key, which sign bundles), and an awscli `config`.
public struct CredentialsBundle: Sendable {
    public var endpoints: CloudEndpoints
    public var credential: EC2Credential
    public var storageKey: String
    public var cloudCertificatePEM: String
    public var userCertificatePEM: String
    public var userKeyPEM: String

    public init(endpoints: CloudEndpoints, credential: EC2Credential, storageKey: String, cloudCertificatePEM: String,
                userCertificatePEM: String, userKeyPEM: String) {
        self.endpoints = endpoints
        self.credential = credential
        self.storageKey = storageKey
        self.cloudCertificatePEM = cloudCertificatePEM
        self.userCertificatePEM = userCertificatePEM
        self.userKeyPEM = userKeyPEM
    }

    /// The files, with their modes (the keys owner-only).
    public var files: [(name: String, contents: String, mode: UInt16)] {
        [("novarc", novarc, 0o600), ("cacert.pem", cloudCertificatePEM, 0o644), ("cert.pem", userCertificatePEM, 0o644),
         ("pk.pem", userKeyPEM, 0o600), ("config", awsConfig, 0o644)]
    }

    /// Shell-quoted (single quotes).
    static func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    var novarc: String {
        let c = credential
        return """
            # Nimbus credentials of \(c.user) in project \(c.project). Source it: . novarc
            NIMBUS_KEY_DIR=$(cd "$(dirname "${BASH_SOURCE:-$0}")" && pwd)
            export EC2_URL=\(Self.q(endpoints.ec2URL))
            export EC2_ACCESS_KEY=\(Self.q(c.accessKey))
            export EC2_SECRET_KEY=\(Self.q(c.secretKey))
            export EC2_USER_ID=\(Self.q(c.project))
            export EC2_CERT="${NIMBUS_KEY_DIR}/cert.pem"
            export EC2_PRIVATE_KEY="${NIMBUS_KEY_DIR}/pk.pem"
            export EUCALYPTUS_CERT="${NIMBUS_KEY_DIR}/cacert.pem"
            export AWS_ACCESS_KEY_ID=\(Self.q(c.accessKey))
            export AWS_SECRET_ACCESS_KEY=\(Self.q(c.secretKey))
            export AWS_DEFAULT_REGION=\(Self.q(endpoints.region))
            export AWS_ENDPOINT_URL_EC2=\(Self.q(endpoints.ec2URL))
            export AWS_CONFIG_FILE="${NIMBUS_KEY_DIR}/config"
            export ST_AUTH=\(Self.q(endpoints.authURL))
            export ST_USER=\(Self.q("\(c.project):\(c.user)"))
            export ST_KEY=\(Self.q(storageKey))
            export OS_AUTH_URL=\(Self.q(endpoints.authURL))
            export OS_USERNAME=\(Self.q("\(c.project):\(c.user)"))
            export OS_PASSWORD=\(Self.q(storageKey))
            export OS_AUTH_VERSION=1.0

            """
    }

    var awsConfig: String {
        """
        [default]
        region = \(endpoints.region)
        services = nimbus

        [services nimbus]
        ec2 =
          endpoint_url = \(endpoints.ec2URL)

        """
    }
}
