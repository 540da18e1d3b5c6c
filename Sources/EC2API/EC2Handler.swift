import AWSAuth
import ControlPlane
import Digest
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore

/// The EC2 Query API: authenticates each call with SigV4 against the control plane's EC2
/// credentials, runs the action, and answers EC2's XML — errors included, rendered here (EC2's
/// error document, 4xx for anything the client caused), never by the HTTP kit.
public struct EC2Handler: HTTPHandler {
    let store: any ControlPlaneStore
    let settings: EC2Settings
    let clock: any WallClock
    let logger: Logger

    /// Largest form body of a call.
    static let maxBody = 1 << 20

    public init(store: any ControlPlaneStore, settings: EC2Settings, clock: any WallClock = SystemClock(), logger: Logger) {
        self.store = store
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        let requestID = UUID().uuidString.lowercased()
        do {
            let (call, caller) = try await authenticate(request, requestID: requestID)
            let body = try await run(call, caller: caller, endpoint: request.header("host") ?? "ec2.\(settings.region)")
            return Self.xml(200, EC2XML.response(call.action, requestID: requestID, body))
        } catch let error as EC2Error {
            logger.info("ec2 \(request.method) refused: \(error.code) \(error.message)", metadata: ["txid": "\(request.transactionID)"])
            return Self.xml(error.status, error.xml(requestID: requestID))
        } catch let error as HTTPError {
            // The body was over the limit, or the client went away while sending it.
            return errorResponse(error)
        } catch let error as ControlPlaneError where !Self.isServerFault(error) {
            // A refusal no action mapped to its own code: still the client's, so a 400.
            logger.info("ec2 \(request.method) refused: \(error)", metadata: ["txid": "\(request.transactionID)"])
            return Self.xml(400, EC2Error("InvalidParameterValue", "\(error)").xml(requestID: requestID))
        } catch {
            logger.error("ec2 call failed: \(error)", metadata: ["txid": "\(request.transactionID)"])
            return Self.xml(500, EC2Error("InternalError", "An internal error has occurred.", status: 500).xml(requestID: requestID))
        }
    }

    /// The server's own refusals (and any `HTTPError`) as EC2 error documents.
    public func errorResponse(_ error: HTTPError) -> HTTPResponse {
        let code: String
        switch error.status {
        case 413: code = "RequestEntityTooLarge"
        case 503: code = "Unavailable"
        case 500...: code = "InternalError"
        default: code = "InvalidRequest"
        }
        let message = error.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        return Self.xml(error.status, EC2Error(code, message.isEmpty ? "The request is malformed." : message, status: error.status)
            .xml(requestID: UUID().uuidString.lowercased()))
    }

    static func xml(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/xml;charset=UTF-8"], body: .bytes(ByteBuffer(string: text)))
    }

    /// The call and the credentials that signed it.
    func authenticate(_ request: HTTPRequest, requestID: String) async throws -> (EC2Request, EC2Credential) {
        guard request.method == "GET" || request.method == "POST" else {
            throw EC2Error("UnsupportedProtocol", "The EC2 Query API takes GET and POST, not \(request.method).")
        }
        if let length = request.contentLength, length > Self.maxBody {
            throw EC2Error("RequestEntityTooLarge", "A request body may hold at most \(Self.maxBody) bytes.", status: 413)
        }
        let body = Array(try await request.body.collect(limit: Self.maxBody).readableBytesView)
        let signed = SignedRequest(method: request.method, path: request.path, query: request.query,
                                   headers: request.headers.map { ($0.name, $0.value) })
        var pairs = signed.queryItemsForCall
        if request.method == "POST" { pairs += FormDecoding.pairs(String(decoding: body, as: UTF8.self)) }
        let credential: EC2Credential
        do {
            if request.header("authorization") == nil, SigV2.isSigned(pairs) {
                // Older EC2 tools (euca2ools, boto 2) sign with Signature Version 2.
                let auth = try SigV2.authorization(pairs)
                guard Self.isAccessKeyShaped(auth.accessKey), let known = try await store.credentials(accessKey: auth.accessKey) else {
                    throw SigV4Error.unknownAccessKey(auth.accessKey)
                }
                try SigV2.verify(method: request.method, host: request.header("host") ?? "", path: request.path, params: pairs, auth: auth,
                                 secret: known.secretKey, now: clock.now())
                return (try EC2Request(pairs: pairs.filter { !Self.sigV2Parameters.contains($0.0) }, requestID: requestID), known)
            }
            let auth = try SigV4.authorization(of: signed)
            // A signature made for another service (S3, with the same keys) is not one for EC2.
            guard auth.service == "ec2" else { throw SigV4Error.incomplete("the credential scope's service must be ec2, not \(auth.service)") }
            guard Self.isAccessKeyShaped(auth.accessKey), let known = try await store.credentials(accessKey: auth.accessKey) else {
                    throw SigV4Error.unknownAccessKey(auth.accessKey)
                }
            try SigV4.verify(signed, auth: auth, secret: known.secretKey, payloadHash: Digests.sha256Hex(body), encodePath: true,
                             now: clock.now())
            credential = known
        } catch let error as SigV4Error {
            throw Self.ec2Error(error)
        }
        return (try EC2Request(pairs: pairs, requestID: requestID), credential)
    }

    /// Access keys as the control plane makes them (`NIMB` and 16 of A-Z, 2-7): anything else is
    /// unknown without asking the store.
    static func isAccessKeyShaped(_ key: String) -> Bool {
        key.utf8.count == 20 && key.hasPrefix("NIMB")
            && key.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x32 && $0 <= 0x37) }
    }

    static func isServerFault(_ error: ControlPlaneError) -> Bool {
        if case .corruptSecret = error { return true }
        return false
    }

    /// The parameters that carry a SigV2 signature, not the call.
    static let sigV2Parameters: Set<String> = ["AWSAccessKeyId", "SignatureVersion", "SignatureMethod", "Signature", "Timestamp", "Expires"]

    /// SigV4's refusals as the codes EC2 clients know.
    static func ec2Error(_ error: SigV4Error) -> EC2Error {
        switch error {
        case .missing: return EC2Error("AuthFailure", "AWS was not able to validate the provided access credentials", status: 401)
        case .incomplete(let why): return EC2Error("IncompleteSignature", why)
        case .unknownAccessKey: return EC2Error("AuthFailure", "AWS was not able to validate the provided access credentials", status: 401)
        case .expired(let why): return EC2Error("RequestExpired", why)
        case .mismatch: return EC2Error("SignatureDoesNotMatch", error.description, status: 403)
        }
    }

    /// Runs one action for the caller's project.
    /// - Parameter endpoint: where the caller reached us (its `Host`), shown as the region's endpoint.
    func run(_ call: EC2Request, caller: EC2Credential, endpoint: String) async throws -> [EC2XML.Node] {
        let context = EC2Call(request: call, caller: caller, endpoint: endpoint, settings: settings, store: store, logger: logger)
        guard let action = Self.actions[call.action] ?? AdminActions.all[call.action] else {
            throw EC2Error("InvalidAction", "The action \(call.action) is not valid for this web service.")
        }
        return try await action(context)
    }

    /// Every action, by name.
    static let actions: [String: @Sendable (EC2Call) async throws -> [EC2XML.Node]] = [
        "DescribeRegions": RegionActions.describeRegions,
        "DescribeAvailabilityZones": RegionActions.describeAvailabilityZones,
        "CreateKeyPair": KeyPairActions.create,
        "ImportKeyPair": KeyPairActions.importKeyPair,
        "DescribeKeyPairs": KeyPairActions.describe,
        "DeleteKeyPair": KeyPairActions.delete,
        "CreateSecurityGroup": SecurityGroupActions.create,
        "DescribeSecurityGroups": SecurityGroupActions.describe,
        "DeleteSecurityGroup": SecurityGroupActions.delete,
        "AuthorizeSecurityGroupIngress": SecurityGroupActions.authorize,
        "RevokeSecurityGroupIngress": SecurityGroupActions.revoke,
        "AllocateAddress": AddressActions.allocate,
        "DescribeAddresses": AddressActions.describe,
        "ReleaseAddress": AddressActions.release,
        "RegisterImage": ImageActions.register,
        "DescribeImages": ImageActions.describe,
        "DeregisterImage": ImageActions.deregister,
        "DescribeImageAttribute": ImageActions.describeAttribute,
        "ModifyImageAttribute": ImageActions.modifyAttribute,
        "RunInstances": InstanceActions.run,
        "DescribeInstances": InstanceActions.describe,
        "TerminateInstances": InstanceActions.terminate,
        "RebootInstances": InstanceActions.reboot,
        "StopInstances": InstanceActions.stop,
        "StartInstances": InstanceActions.start,
        "DescribeInstanceStatus": InstanceActions.describeStatus,
        "GetConsoleOutput": InstanceActions.consoleOutput,
        "AssociateAddress": AddressActions.associate,
        "DisassociateAddress": AddressActions.disassociate,
    ]
}

extension SignedRequest {
    /// The call's parameters from the query, without SigV4's own (presigned requests carry them).
    var queryItemsForCall: [(String, String)] {
        FormDecoding.pairs(query).filter { !$0.0.hasPrefix("X-Amz-") }
    }
}
