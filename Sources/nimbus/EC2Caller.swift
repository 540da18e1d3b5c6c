import AWSAuth
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1
import NimbusClient
import NimbusCore

/// A minimal EC2 Query API client (SigV4-signed form POSTs) for `nimbus image register` and
/// `nimbus manage --url`.
struct EC2Caller {
    let endpoint: SwiftClient.Endpoint
    let accessKey: String
    let secret: String
    let region: String
    let client = BackendClient()

    init(url: String, accessKey: String, secret: String, region: String) throws {
        endpoint = try SwiftClient.Endpoint(url)
        self.accessKey = accessKey
        self.secret = secret
        self.region = region
    }

    func shutdown() { client.shutdown() }

    /// A refused call: the action, EC2's error code and its message.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Answer {
        let text: String

        /// The `<item>`s of the set `name` (flat items, as the admin API answers).
        func items(_ name: String) -> [Answer] {
            guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex) else {
                return []
            }
            return text[start.upperBound..<end.lowerBound].components(separatedBy: "<item>").dropFirst().map {
                Answer(text: $0.components(separatedBy: "</item>").first ?? "")
            }
        }
        /// The first `<name>…</name>` text (enough for these flat answers).
        func value(_ name: String) -> String? {
            guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex) else {
                return nil
            }
            return XMLText.unescape(String(text[start.upperBound..<end.lowerBound]))
        }
    }

    func call(_ action: String, _ params: [(String, String)]) async throws -> Answer {
        let form = ([("Action", action), ("Version", "2016-11-15")] + params)
            .map { "\(FormDecoding.encode($0.0))=\(FormDecoding.encode($0.1))" }.joined(separator: "&")
        let body = Array(form.utf8)
        let host = "\(endpoint.host):\(endpoint.port)"
        let contentType = "application/x-www-form-urlencoded; charset=utf-8"
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Content-Type", value: contentType)
        for (k, v) in SigV4Signer.formPostHeaders(host: host, path: endpoint.path.isEmpty ? "/" : endpoint.path, body: body,
                                                  contentType: contentType, accessKey: accessKey, secret: secret, region: region, service: "ec2") {
            headers.add(name: k, value: v)
        }
        let r = try await client.request(host: endpoint.host, port: endpoint.port, secure: endpoint.secure, method: "POST", uri: endpoint.path.isEmpty ? "/" : endpoint.path,
                                         headers: headers, body: ByteBuffer(bytes: body), timeout: .seconds(120))
        let answer = Answer(text: String(buffer: r.body))
        guard r.status == 200 else {
            throw Failure(description: "\(action): \(answer.value("Code") ?? "HTTP \(r.status)"): \(answer.value("Message") ?? "")")
        }
        return answer
    }
}
