import Foundation
import Testing

/// The captured boto3/awscli calls (`Tests/AWSAuthTests/Vectors`, recorded against moto) replayed
/// in order against Nimbus, re-signed with Nimbus credentials: each is decoded as the clients
/// sent it, answers with the same status (and error code), and carries every element the
/// captured answer had — but those only EC2's VPC API or moto add.
@Suite struct SampleReplayTests {
    /// Elements of the captured answers that belong to the VPC-era API (rule ids, ARNs,
    /// allocation and association ids, network interfaces) or to moto; clients do not need them.
    static let notNeeded: Set<String> = [
        "securityGroupArn", "vpcId", "securityGroupRuleSet", "securityGroupRuleId", "isEgress", "allocationId", "associationId",
        "networkInterfaceId", "networkInterfaceOwnerId", "privateIpAddress", "createTime", "requestId", "RequestID",
    ]
    /// Per action: elements of the VPC API's answer that EC2-Classic answers do not carry.
    static let notNeededIn: [String: Set<String>] = [
        "AuthorizeSecurityGroupIngress": ["item", "fromPort", "toPort", "groupId", "ipProtocol", "cidrIpv4", "tagSet"],
        "DescribeAddresses": ["instanceId"],
        "DeleteKeyPair": ["keyPairId"],
    ]
    static let replayed = ["007", "008", "009", "010", "011", "012", "018", "019", "020", "021", "023", "028", "030", "031", "033",
                           "034", "035", "039", "043", "044"]

    struct Sample {
        let file: String
        let form: String
        let status: Int
        let xml: String
        var action: String { form.split(separator: "&").first { $0.hasPrefix("Action=") }.map { String($0.dropFirst(7)) } ?? "" }
    }

    static func samples() throws -> [Sample] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AWSAuthTests/Vectors")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().compactMap { name in
            guard replayed.contains(String(name.prefix(3))) else { return nil }
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let parts = text.components(separatedBy: "=== RESPONSE ===")
            let request = parts[0].trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "\n")
            let response = parts[1].trimmingCharacters(in: .whitespacesAndNewlines)
            let status = Int(response.split(separator: " ")[1]) ?? 0
            let xml = response.range(of: "<?xml").map { String(response[$0.lowerBound...]) } ?? ""
            return Sample(file: name, form: request.last ?? "", status: status, xml: xml)
        }
    }

    static func elements(_ xml: String) -> Set<String> {
        var out = Set<String>()
        // Egress rules are the VPC API's (moto shows a default allow-all); EC2-Classic groups have none.
        var xml = xml
        if let a = xml.range(of: "<ipPermissionsEgress>"), let b = xml.range(of: "</ipPermissionsEgress>"), a.upperBound <= b.lowerBound {
            xml.removeSubrange(a.upperBound..<b.lowerBound)
        }
        var rest = xml[...]
        while let open = rest.firstIndex(of: "<") {
            rest = rest[rest.index(after: open)...]
            let name = rest.prefix { $0 != ">" && $0 != " " && $0 != "/" }
            if !name.isEmpty, !name.hasPrefix("?") { out.insert(String(name)) }
        }
        return out
    }

    static func code(_ xml: String) -> String? {
        guard let a = xml.range(of: "<Code>"), let b = xml.range(of: "</Code>") else { return nil }
        return String(xml[a.upperBound..<b.lowerBound])
    }

    @Test func capturedCallsReplayWithTheSameShape() async throws {
        let c = try await EC2APITests().cloud()
        var ourAddress = ""
        for sample in try Self.samples() {
            var form = sample.form
            // The address moto handed out is not ours: release the one we allocated.
            if sample.action == "ReleaseAddress" {
                form = form.split(separator: "&").map { $0.hasPrefix("PublicIp=") ? "PublicIp=\(ourAddress)" : String($0) }.joined(separator: "&")
            }
            let (status, body) = try await c.call(form)
            #expect(status == sample.status, "\(sample.file): \(status) \(body)")
            if sample.status != 200 {
                #expect(Self.code(body) == Self.code(sample.xml), "\(sample.file): \(body)")
                continue
            }
            #expect(body.contains("<\(sample.action)Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>"), "\(sample.file)")
            let missing = Self.elements(sample.xml).subtracting(Self.elements(body)).subtracting(Self.notNeeded)
                .subtracting(Self.notNeededIn[sample.action] ?? [])
            #expect(missing.isEmpty, "\(sample.file) lacks \(missing.sorted()): \(body)")
            if sample.action == "AllocateAddress", let a = body.range(of: "<publicIp>"), let b = body.range(of: "</publicIp>") {
                ourAddress = String(body[a.upperBound..<b.lowerBound])
            }
        }
        await c.stop()
    }
}
