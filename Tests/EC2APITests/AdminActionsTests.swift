import ControlPlane
import EC2API
import Foundation
import Testing

/// The administrators' API (`nimbus manage --url`): only cloud administrators, and each verb
/// changes the store as `nimbus manage` on the cloud's host would.
extension EC2APITests {
    @Test func adminActionsAreForAdministratorsAndManageUsersProjectsAndBundles() async throws {
        let c = try await cloud(issuing: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ControlPlaneSQLStore.sqlite(path: "\(dir)/control.db", keyFile: "\(dir)/control.key")
        func call(_ form: String) async throws -> (Int, String) { try await c.call(form + "&Version=2016-11-15") }

        let (refused, refusal) = try await call("Action=DescribeUsers")
        #expect(refused == 403 && refusal.contains("<Code>UnauthorizedOperation</Code>"), "a member who is not an administrator")
        #expect(try await call("Action=RegisterUser&Name=mallory").0 == 403)
        #expect(try await store.user("mallory") == nil)

        try await store.setAdmin("soren", true)
        #expect(try await call("Action=RegisterUser&Name=vish").0 == 200)
        let (_, users) = try await call("Action=DescribeUsers")
        #expect(users.contains("<item><username>soren</username><isAdmin>true</isAdmin></item>"))
        #expect(users.contains("<item><username>vish</username><isAdmin>false</isAdmin></item>"))
        let (_, project) = try await call("Action=RegisterProject&Name=other&ManagerUser=vish")
        #expect(project.contains("<storageAccount>AUTH_other</storageAccount>"))
        #expect(try await call("Action=ModifyProjectMember&User=soren&Project=other&Operation=add&Role=member").0 == 200)
        let (_, members) = try await call("Action=DescribeProjectMembers&Name=other")
        #expect(members.contains("<member>soren</member><role>member</role>") && members.contains("<member>vish</member><role>admin</role>"))

        // The keys DescribeUser hands out sign calls; the bundle's novarc carries the same ones.
        let (_, described) = try await call("Action=DescribeUser&Name=vish&Project=other")
        let access = try #require(value("accesskey", in: described)), secret = try #require(value("secretkey", in: described))
        #expect(try await c.call("Action=DescribeRegions&Version=2016-11-15", secret: secret, accessKey: access).0 == 200)
        let (bundled, bundle) = try await call("Action=GenerateX509ForUser&Name=vish&Project=other")
        #expect(bundled == 200)
        let files = bundle.components(separatedBy: "<item>").dropFirst().compactMap { item -> (String, String)? in
            guard let name = value("name", in: item), let text = value("contents", in: item), let data = Data(base64Encoded: text) else { return nil }
            return (name, String(decoding: data, as: UTF8.self))
        }
        #expect(files.map(\.0) == ["novarc", "cacert.pem", "cert.pem", "pk.pem", "config"])
        #expect(files.first?.1.contains("export EC2_ACCESS_KEY='\(access)'") == true)
        #expect(try await store.certificates(user: "vish", project: "other") == [try #require(files.first { $0.0 == "cert.pem" }?.1)])

        // Refusals are the caller's (4xx) and change nothing.
        #expect(try await call("Action=ModifyProjectMember&User=soren&Project=other&Operation=frob").1.contains("InvalidParameterValue"))
        #expect(try await call("Action=RegisterUser&Name=vish&Admin=yes").0 == 400)
        #expect(try await call("Action=DeregisterProject&Name=lab").0 == 400, "not the project the administrator calls from")
        #expect(try await call("Action=DeregisterUser&Name=soren").0 == 400, "not the administrator itself")
        #expect(try await call("Action=RegisterProject&Name=other&ManagerUser=vish").0 == 400)
        #expect(try await store.project("lab") != nil)

        #expect(try await call("Action=DeregisterProject&Name=other").0 == 200)
        #expect(try await call("Action=DeregisterUser&Name=vish").0 == 200)
        #expect(try await store.users().map(\.name) == ["soren"])
        await c.stop()
    }

    func value(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}
