import HTTPServerKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
@testable import Proxy

/// ACLs without sockets: anonymous requests reach only what a bucket's or object's ACL grants,
/// and are then made as the bucket's owner; canned ACLs, grant headers and policy documents.
@Suite struct S3AccessTests {
    /// A Swift stand-in where `bkt` is registered to AUTH_test with `bucketACL`, and `bkt/key`
    /// exists with `objectACL`; it records the requests (and as whom) that reach it.
    final class Store: Sendable {
        let seen = NIOLockedValueBox<[(method: String, uri: String, as: String?)]>([])
        /// The copy-source pin each PUT found in its request's scope.
        let pins = NIOLockedValueBox<[[(String, String?)]]>([])
        let bucketACL: String?
        let objectACL: String?
        /// `bkt/key` is a large object made through Swift (its segments anywhere in the account).
        let swiftLargeObject: Bool

        init(bucketACL: String?, objectACL: String?, swiftLargeObject: Bool = false) {
            self.bucketACL = bucketACL
            self.objectACL = objectACL
            self.swiftLargeObject = swiftLargeObject
        }

        var next: Next {
            Next { request, env in
                let uri = request.head.uri
                self.seen.withLockedValue { $0.append((request.method, uri, env.identity?.storageAccount)) }
                if request.method == "PUT" {
                    let pin = env.scope.copySourcePin
                    self.pins.withLockedValue { $0.append(pin) }
                    if uri == "/v1/AUTH_test/bkt/copy" { return HTTPResponse(status: 201, headers: ["ETag": "abc"]) }
                }
                if uri == "/v1/AUTH_.s3api/buckets/bkt" { return HTTPResponse(status: 200, headers: [S3BucketRegistry.ownerHeader: "AUTH_test"]) }
                if uri == "/v1/AUTH_test/bkt" {
                    return HTTPResponse(status: 204, headers: HTTPHeaders(self.bucketACL.map { [(S3ACL.bucketSysmeta, $0)] } ?? []))
                }
                if uri.split(separator: "?").first == "/v1/AUTH_test/bkt/key" {
                    var h = HTTPHeaders([("ETag", "abc"), ("Content-Length", "3"), ("X-Timestamp", "1796140000.00000")])
                    if self.swiftLargeObject { h.add(name: "X-Static-Large-Object", value: "True") }
                    if let acl = self.objectACL { h.add(name: S3ACL.objectSysmeta, value: acl) }
                    return HTTPResponse(status: 200, headers: h, body: request.method == "GET" ? .bytes(ByteBuffer(string: "abc")) : .empty)
                }
                return HTTPResponse(status: 404)
            }
        }
    }

    static func anonymous(_ method: String, _ uri: String, _ store: Store, headers: [(String, String)] = []) async throws -> (HTTPResponse, String) {
        let request = HTTPRequest(method: method, uri: uri, headers: HTTPHeaders([("Host", "127.0.0.1:8080")] + headers))
        let env = RequestEnvironment(request: request, context: PipelineTests.context())
        let response = try await S3API(options: [:]).handle(request, env, next: store.next)
        return (response, try await PipelineTests.body(response))
    }

    @Test func anAnonymousReadOfAPublicReadObjectIsMadeAsTheOwner() async throws {
        let store = Store(bucketACL: nil, objectACL: "public-read")
        let (r, body) = try await Self.anonymous("GET", "/bkt/key", store)
        #expect(r.status == 200 && body == "abc", "\(body)")
        let get = try #require(store.seen.withLockedValue { $0.last })
        #expect(get.method == "GET" && get.uri == "/v1/AUTH_test/bkt/key" && get.as == "AUTH_test")
    }

    @Test func aPrivateObjectOrAnUnlistableBucketIsRefusedBeforeAnyRead() async throws {
        let store = Store(bucketACL: "private", objectACL: nil)
        let (r, body) = try await Self.anonymous("GET", "/bkt/key", store)
        #expect(r.status == 403 && body.contains("<Code>AccessDenied</Code>"))
        let (list, _) = try await Self.anonymous("GET", "/bkt?list-type=2", store)
        #expect(list.status == 403)
        let (put, _) = try await Self.anonymous("PUT", "/bkt/other", store)
        #expect(put.status == 403)
        #expect(store.seen.withLockedValue { $0.allSatisfy { $0.method == "HEAD" } }, "nothing but the ACL lookups reached Swift")
        let (missing, missingBody) = try await Self.anonymous("GET", "/nobucket/key", store)
        #expect(missing.status == 404 && missingBody.contains("<Code>NoSuchBucket</Code>"))
    }

    @Test func aPublicReadWriteBucketTakesAnonymousWrites() async throws {
        let store = Store(bucketACL: "public-read-write", objectACL: nil)
        let (r, _) = try await Self.anonymous("DELETE", "/bkt/key", store)
        #expect(r.status == 204)
        #expect(store.seen.withLockedValue { $0.contains { $0.method == "DELETE" && $0.as == "AUTH_test" } })
        let (acl, _) = try await Self.anonymous("GET", "/bkt?acl", store)
        #expect(acl.status == 403, "ACLs stay the owner's")
    }

    @Test func aCopyMadeAsTheOwnerPinsTheSourceItsACLCheckSaw() async throws {
        let store = Store(bucketACL: "public-read-write", objectACL: "public-read")
        let (r, body) = try await Self.anonymous("PUT", "/bkt/copy", store, headers: [("x-amz-copy-source", "/bkt/key")])
        #expect(r.status == 200 && body.contains("<CopyObjectResult "), "\(body)")
        let pin = try #require(store.pins.withLockedValue { $0.last })
        #expect(pin.count == 2)
        #expect(pin.contains { $0.0 == "X-Timestamp" && $0.1 == "1796140000.00000" })
        #expect(pin.contains { $0.0 == S3ACL.objectSysmeta && $0.1 == "public-read" })
        let (refused, _) = try await Self.anonymous("PUT", "/bkt/copy", Store(bucketACL: "public-read-write", objectACL: "private"),
                                                    headers: [("x-amz-copy-source", "/bkt/key")])
        #expect(refused.status == 403, "the source's ACL does not grant READ")
    }

    @Test func anAnonymousDeleteNeverReachesASwiftLargeObjectsSegments() async throws {
        let store = Store(bucketACL: "public-read-write", objectACL: nil, swiftLargeObject: true)
        let (r, _) = try await Self.anonymous("DELETE", "/bkt/key", store)
        #expect(r.status == 204)
        let delete = try #require(store.seen.withLockedValue { $0.last(where: { $0.method == "DELETE" }) })
        #expect(delete.uri == "/v1/AUTH_test/bkt/key", "a plain DELETE of the manifest, not ?multipart-manifest=delete")
    }

    @Test func everyCannedACLSurvivesItsPolicyDocumentAndItsStoredForm() throws {
        for name in S3ACL.cannedNames {
            let acl = try #require(S3ACL.canned(name, owner: "AUTH_alt", bucketOwner: "AUTH_test"))
            #expect(try S3ACL.fromPolicy(Array(acl.policy.utf8), owner: "AUTH_alt") == acl, "\(name)")
            #expect(S3ACL(stored: acl.stored, owner: "AUTH_test") == acl, "\(name)")
        }
        // Older objects keep the canned name itself.
        #expect(S3ACL(stored: "public-read", owner: "AUTH_test") == S3ACL.canned("public-read", owner: "AUTH_test", bucketOwner: "AUTH_test"))
        let readable = Array(try #require(S3ACL.canned("public-read", owner: "AUTH_test", bucketOwner: "AUTH_test")).policy.utf8)
        #expect(throws: S3Error.self, "a policy naming another owner") { try S3ACL.fromPolicy(readable, owner: "AUTH_other") }
        #expect(throws: S3Error.self) { try S3ACL.fromPolicy(Array("<AccessControlPolicy>".utf8), owner: "AUTH_test") }
    }

    @Test func grantsAnswerForTheGranteeOnly() throws {
        let acl = S3ACL(owner: "AUTH_a", grants: [
            .init(grantee: .user("AUTH_b"), permission: .read),
            .init(grantee: .user("AUTH_c"), permission: .fullControl),
            .init(grantee: .group(S3ACL.authenticatedUsers), permission: .readACP),
        ])
        #expect(acl.allows(.read, requester: "AUTH_b") && !acl.allows(.write, requester: "AUTH_b"))
        #expect(acl.allows(.write, requester: "AUTH_c") && acl.allows(.writeACP, requester: "AUTH_c"), "FULL_CONTROL is every permission")
        #expect(acl.allows(.readACP, requester: "AUTH_z") && !acl.allows(.readACP, requester: nil), "authenticated, not anonymous")
        #expect(!acl.allows(.read, requester: "AUTH_a") && acl.allows(.writeACP, requester: "AUTH_a"),
                "an owner who granted itself nothing may still change the ACL")
    }

    @Test func grantHeadersParseAndRefuseWhatCannotBeGranted() throws {
        func request(_ headers: [(String, String)]) -> HTTPRequest { HTTPRequest(method: "PUT", uri: "/bkt", headers: HTTPHeaders(headers)) }
        let acl = try #require(try S3ACL.requested(request([("x-amz-grant-read", "id=\"AUTH_b\", uri=\"\(S3ACL.allUsers)\""),
                                                           ("x-amz-grant-write-acp", "id=AUTH_c")]), owner: "AUTH_a", bucketOwner: "AUTH_a"))
        #expect(acl.grants == [.init(grantee: .user("AUTH_b"), permission: .read), .init(grantee: .group(S3ACL.allUsers), permission: .read),
                               .init(grantee: .user("AUTH_c"), permission: .writeACP)])
        #expect(throws: S3Error.self) { try S3ACL.requested(request([("x-amz-grant-read", "emailAddress=\"a@b.c\"")]), owner: "A", bucketOwner: "A") }
        #expect(throws: S3Error.self) { try S3ACL.requested(request([("x-amz-grant-read", "uri=http://example.com/nogroup")]), owner: "A", bucketOwner: "A") }
        #expect(throws: S3Error.self) {
            try S3ACL.requested(request([("x-amz-acl", "private"), ("x-amz-grant-read", "id=AUTH_b")]), owner: "A", bucketOwner: "A")
        }
        // An id goes into system metadata headers and the stored form: no line breaks, no `|`.
        #expect(throws: S3Error.self) { try S3ACL.requested(request([("x-amz-grant-read", "id=AUTH_b|G:FULL_CONTROL:x")]), owner: "A", bucketOwner: "A") }
        let injected = "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>AUTH_b&#13;&#10;X-Object-Sysmeta-Evil: 1</ID></Grantee>"
            + "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
        #expect(throws: S3Error.self, "an id with CR LF in a policy") { try S3ACL.fromPolicy(Array(injected.utf8), owner: "AUTH_a") }
    }

    @Test func uploadIDsNeverStartLikeAnOption() {
        for _ in 0..<2000 {
            let id = S3Multipart.newUploadID()
            #expect(id.utf8.count == 24 && !id.hasPrefix("-") && !id.hasPrefix("_"), "\(id)")
        }
    }

    @Test func anObjectGrantedToEveryoneByPolicyIsReadAnonymously() async throws {
        let acl = S3ACL(owner: "AUTH_test", grants: [.init(grantee: .group(S3ACL.allUsers), permission: .read)])
        let (r, body) = try await Self.anonymous("GET", "/bkt/key", Store(bucketACL: nil, objectACL: acl.stored))
        #expect(r.status == 200 && body == "abc")
        let (acp, _) = try await Self.anonymous("GET", "/bkt/key?acl", Store(bucketACL: nil, objectACL: acl.stored))
        #expect(acp.status == 403, "READ is not READ_ACP")
    }
}
