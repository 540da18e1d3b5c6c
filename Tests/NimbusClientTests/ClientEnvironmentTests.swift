import NimbusClient
import Testing

/// Which variables mean what, as python-swiftclient and duplicity read them.
@Suite struct ClientEnvironmentTests {
    @Test func tempauthVariablesWinUnlessKeystoneIsAskedFor() {
        let env = ["ST_AUTH": "http://p/auth/v1.0", "ST_USER": "test:tester", "ST_KEY": "k",
                   "OS_AUTH_URL": "http://k/v3", "OS_USERNAME": "demo", "OS_PASSWORD": "pw", "OS_PROJECT_NAME": "demo"]
        let v1 = ClientEnvironment.swiftclient(env)
        #expect(v1.effectiveAuthVersion == "1.0")
        #expect(v1.authURL == "http://p/auth/v1.0" && v1.user == "test:tester" && v1.key == "k")
        var asked = env
        asked["ST_AUTH_VERSION"] = "3"
        let v3 = ClientEnvironment.swiftclient(asked)
        #expect(v3.effectiveAuthVersion == "3")
        #expect(v3.authURL == "http://k/v3" && v3.user == "demo" && v3.key == "pw" && v3.projectName == "demo")
    }

    @Test func anOpenrcAloneMeansKeystoneWithTheVersionFromTheURL() {
        let env = ["OS_AUTH_URL": "https://k:5000/v3", "OS_USERNAME": "demo", "OS_PASSWORD": "pw", "OS_PROJECT_NAME": "demo",
                   "OS_USER_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "internal",
                   "OS_CACERT": "/etc/ca.pem"]
        let c = ClientEnvironment.swiftclient(env)
        #expect(c.effectiveAuthVersion == "3")
        #expect(c.regionName == "RegionOne" && c.interface == "internal" && c.userDomainName == "Default")
        #expect(c.tls.caFile == "/etc/ca.pem" && !c.tls.insecure)
        var v2 = env
        v2["OS_AUTH_URL"] = "http://k:5000/v2.0"
        v2["OS_USER_DOMAIN_NAME"] = nil
        #expect(ClientEnvironment.swiftclient(v2).effectiveAuthVersion == "2.0")
    }

    @Test func tenantColonUserIsSplitForKeystoneOnly() {
        let c = ClientEnvironment.swiftclient(["ST_AUTH": "http://k/v2.0", "ST_USER": "proj:bob", "ST_KEY": "pw", "ST_AUTH_VERSION": "2"])
        #expect(c.projectName == "proj" && c.user == "bob")
        let t = ClientEnvironment.swiftclient(["ST_AUTH": "http://p/auth/v1.0", "ST_USER": "test:tester", "ST_KEY": "k"])
        #expect(t.user == "test:tester" && t.projectName == nil)
    }

    @Test func duplicityVariablesDefaultToV1AndTakeKeystoneOnes() throws {
        #expect(ClientEnvironment.duplicity([:]) == nil)
        let v1 = try #require(ClientEnvironment.duplicity(["SWIFT_AUTHURL": "http://p/auth/v1.0", "SWIFT_USERNAME": "a:b", "SWIFT_PASSWORD": "k"]))
        #expect(v1.effectiveAuthVersion == "1.0" && v1.user == "a:b")
        let v3 = try #require(ClientEnvironment.duplicity([
            "SWIFT_AUTHURL": "http://k/v3", "SWIFT_AUTHVERSION": "3", "SWIFT_USERNAME": "demo", "SWIFT_PASSWORD": "pw",
            "SWIFT_PROJECT_NAME": "demo", "SWIFT_USER_DOMAIN_NAME": "Default", "SWIFT_REGIONNAME": "RegionOne"]))
        #expect(v3.effectiveAuthVersion == "3" && v3.projectName == "demo" && v3.regionName == "RegionOne")
        let pre = try #require(ClientEnvironment.duplicity(["SWIFT_PREAUTHURL": "http://p/v1/AUTH_x", "SWIFT_PREAUTHTOKEN": "t"]))
        #expect(pre.storageURL == "http://p/v1/AUTH_x" && pre.token == "t")
    }
}
