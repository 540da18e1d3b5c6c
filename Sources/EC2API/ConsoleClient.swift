import ControlPlane
import Foundation
import HTTPClientKit
import NIOCore
import NIOHTTP1

/// Reads an instance's console from the compute worker that runs it (its console endpoint,
/// with the token the worker recorded in the store): GetConsoleOutput never reads another
/// host's files, and a worker busy downloading an image still answers at once.
public struct ConsoleClient: Sendable {
    let client: BackendClient

    public init(client: BackendClient = BackendClient(connectTimeout: .seconds(2))) {
        self.client = client
    }

    /// The console's last bytes and when they were written; nil when the worker has none.
    public func output(of instanceID: String, on host: ComputeHost) async throws -> (bytes: [UInt8], timestamp: Date)? {
        // A worker that has not reported its endpoint yet has no console to show.
        if host.endpoint.isEmpty { return nil }
        guard let url = URL(string: host.endpoint), let address = url.host, let port = url.port else {
            throw EC2Error("InternalError", "The compute host \(host.name) has no console endpoint.", status: 500)
        }
        var headers = HTTPHeaders()
        headers.add(name: "X-Worker-Token", value: host.token)
        headers.add(name: "Host", value: "\(address):\(port)")
        let r: BackendResponse
        do {
            r = try await client.request(host: address, port: port, method: "GET", uri: "/v1/console/\(instanceID)", headers: headers,
                                         timeout: .seconds(5))
        } catch {
            throw EC2Error("Unavailable", "The compute host \(host.name) does not answer; try again.", status: 503)
        }
        switch r.status {
        case 200:
            let stamp = r.headers.first(name: "X-Console-Timestamp").flatMap(Double.init).map(Date.init(timeIntervalSince1970:)) ?? Date()
            return (Array(r.body.readableBytesView), stamp)
        case 404: return nil
        default: throw EC2Error("Unavailable", "The compute host \(host.name) could not read the console (HTTP \(r.status)).", status: 503)
        }
    }
}
