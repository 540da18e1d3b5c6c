import Foundation
import NimbusClient
import Testing

/// Keystone's token requests and answers, against what python-swiftclient (keystoneclient /
/// keystoneauth1) was seen to send to the real Keystone 30.0.0 and what it answered.
@Suite struct KeystoneAuthTests {
    func json(_ bytes: [UInt8]) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    func password(url: String = "https://keystone.example:5000/v3") -> SwiftClient.Credentials {
        var c = SwiftClient.Credentials(authURL: url, user: "demo", key: "demopw")
        c.projectName = "demo"
        c.userDomainName = "Default"
        c.projectDomainName = "Default"
        return c
    }

    @Test func aV3PasswordRequestIsTheOneSwiftclientSends() throws {
        let r = try KeystoneAuth.request(password(), version: "3")
        #expect(r.url == "https://keystone.example:5000/v3/auth/tokens")
        let seen = """
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": "demopw", "name": "demo", \
            "domain": {"name": "Default"}}}}, "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
            """
        #expect(try json(r.body) == (try json(Array(seen.utf8))))
    }

    @Test func anApplicationCredentialAsksForNoScope() throws {
        var c = SwiftClient.Credentials(authURL: "http://127.0.0.1:5000/v3/")
        c.applicationCredentialID = "abc"
        c.applicationCredentialSecret = "s3cret"
        #expect(c.effectiveAuthVersion == "3")
        let r = try KeystoneAuth.request(c, version: "3")
        #expect(r.url == "http://127.0.0.1:5000/v3/auth/tokens")
        let seen = #"{"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"secret": "s3cret", "id": "abc"}}}}"#
        #expect(try json(r.body) == (try json(Array(seen.utf8))))
    }

    @Test func aV2RequestCarriesTheTenantAndAnUnversionedURLGetsItsVersion() throws {
        let r = try KeystoneAuth.request(password(url: "http://k:5000"), version: "2.0")
        #expect(r.url == "http://k:5000/v2.0/tokens")
        let seen = #"{"auth": {"passwordCredentials": {"password": "demopw", "username": "demo"}, "tenantName": "demo"}}"#
        #expect(try json(r.body) == (try json(Array(seen.utf8))))
        #expect(try KeystoneAuth.request(password(url: "http://k:5000"), version: "3").url == "http://k:5000/v3/auth/tokens")
    }

    let v3Answer = """
        {"token": {"project": {"id": "p1", "name": "demo"}, "catalog": [
          {"type": "identity", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "http://k/v3"}]},
          {"type": "object-store", "name": "swift", "endpoints": [
            {"interface": "admin", "region_id": "RegionOne", "url": "http://admin/v1/AUTH_p1"},
            {"interface": "public", "region_id": "RegionTwo", "url": "https://two/v1/AUTH_p1"},
            {"interface": "public", "region_id": "RegionOne", "url": "https://one/v1/AUTH_p1"},
            {"interface": "internal", "region_id": "RegionOne", "url": "http://internal/v1/AUTH_p1"}]}]}}
        """

    @Test func theObjectStoreEndpointIsPickedByRegionAndInterface() throws {
        let body = Array(v3Answer.utf8)
        let one = try KeystoneAuth.token(version: "3", subjectToken: "tok", body: body, region: "RegionOne", interface: nil)
        #expect(one == KeystoneAuth.Token(token: "tok", storageURL: "https://one/v1/AUTH_p1"))
        let inside = try KeystoneAuth.token(version: "3", subjectToken: "tok", body: body, region: "RegionOne", interface: "internalURL")
        #expect(inside.storageURL == "http://internal/v1/AUTH_p1")
        #expect(try KeystoneAuth.token(version: "3", subjectToken: "tok", body: body, region: nil, interface: "public").storageURL
                == "https://two/v1/AUTH_p1")
    }

    @Test func aMissingRegionOrTokenIsSaidInWords() throws {
        let body = Array(v3Answer.utf8)
        let region = #expect(throws: ClientError.self) {
            try KeystoneAuth.token(version: "3", subjectToken: "tok", body: body, region: "Elsewhere", interface: nil)
        }
        #expect(region?.description.contains("RegionOne, RegionTwo") == true)
        #expect(throws: ClientError.self) { try KeystoneAuth.token(version: "3", subjectToken: nil, body: body, region: nil, interface: nil) }
        #expect(throws: ClientError.self) { try KeystoneAuth.token(version: "3", subjectToken: "t", body: Array("<html>".utf8), region: nil, interface: nil) }
        let noSwift = #expect(throws: ClientError.self) {
            try KeystoneAuth.token(version: "3", subjectToken: "t", body: Array(#"{"token": {"catalog": []}}"#.utf8), region: nil, interface: nil)
        }
        #expect(noSwift?.description.contains("no public object-store endpoint") == true)
    }

    @Test func aV2AnswerGivesTheTokenIdAndTheServiceCatalogURL() throws {
        let body = Array("""
            {"access": {"token": {"id": "t2"}, "serviceCatalog": [{"type": "object-store", "endpoints": [
              {"region": "RegionOne", "publicURL": "http://pub/v1/AUTH_x", "internalURL": "http://int/v1/AUTH_x"}]}]}}
            """.utf8)
        let t = try KeystoneAuth.token(version: "2.0", subjectToken: nil, body: body, region: nil, interface: "internal")
        #expect(t == KeystoneAuth.Token(token: "t2", storageURL: "http://int/v1/AUTH_x"))
    }
}
