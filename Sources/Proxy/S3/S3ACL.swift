import HTTPServerKit
import NIOHTTP1
import NimbusCore

/// An S3 access control list: who owns a bucket or an object (an account: S3 owner ids are
/// accounts) and what is granted to whom — accounts by id (`CanonicalUser`), everyone
/// (`AllUsers`) or every signed requester (`AuthenticatedUsers`). Kept as system metadata
/// (`X-Container-Sysmeta-S3api-Acl`, `X-Object-Sysmeta-S3api-Acl`), set by canned ACLs
/// (`x-amz-acl`), grant headers (`x-amz-grant-*`) or an AccessControlPolicy document, and
/// enforced by `S3Access` for requests from other accounts and anonymous ones.
struct S3ACL: Equatable, Sendable {
    enum Permission: String, Sendable, CaseIterable {
        case read = "READ", write = "WRITE", readACP = "READ_ACP", writeACP = "WRITE_ACP", fullControl = "FULL_CONTROL"
    }

    enum Grantee: Equatable, Sendable {
        /// An account, by its id.
        case user(String)
        /// A group, by its URI.
        case group(String)
    }

    struct Grant: Equatable, Sendable {
        let grantee: Grantee
        let permission: Permission
    }

    let owner: String
    var grants: [Grant]

    static let bucketSysmeta = "X-Container-Sysmeta-S3api-Acl"
    static let objectSysmeta = "X-Object-Sysmeta-S3api-Acl"
    static let allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
    static let authenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
    static let logDelivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
    static let groups: Set<String> = [allUsers, authenticatedUsers, logDelivery]
    static let cannedNames: Set<String> = ["private", "public-read", "public-read-write", "authenticated-read", "bucket-owner-read",
                                           "bucket-owner-full-control"]

    /// The owner's FULL_CONTROL and nothing else.
    static func `private`(_ owner: String) -> S3ACL { S3ACL(owner: owner, grants: [Grant(grantee: .user(owner), permission: .fullControl)]) }

    /// A canned ACL: its grants to groups (or to the bucket's owner), then the owner's FULL_CONTROL.
    static func canned(_ name: String, owner: String, bucketOwner: String) -> S3ACL? {
        var grants: [Grant] = []
        switch name {
        case "private": break
        case "public-read": grants = [Grant(grantee: .group(allUsers), permission: .read)]
        case "public-read-write": grants = [Grant(grantee: .group(allUsers), permission: .read), Grant(grantee: .group(allUsers), permission: .write)]
        case "authenticated-read": grants = [Grant(grantee: .group(authenticatedUsers), permission: .read)]
        case "bucket-owner-read", "bucket-owner-full-control":
            var acl = S3ACL.private(owner)
            if bucketOwner != owner {
                acl.grants.append(Grant(grantee: .user(bucketOwner), permission: name == "bucket-owner-read" ? .read : .fullControl))
            }
            return acl
        default: return nil
        }
        return S3ACL(owner: owner, grants: grants + [Grant(grantee: .user(owner), permission: .fullControl)])
    }

    /// What a stored value says (a canned name, as older objects keep it, or `stored`'s
    /// form); private to `owner` without one.
    init(stored: String?, owner: String) {
        guard let stored else {
            self = .private(owner)
            return
        }
        if let canned = Self.canned(stored, owner: owner, bucketOwner: owner) {
            self = canned
            return
        }
        let fields = stored.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 2, fields[0] == "v1" else {
            self = .private(owner)
            return
        }
        var grants: [Grant] = []
        for field in fields.dropFirst(2) {
            let parts = field.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, let permission = Permission(rawValue: parts[1]) else { continue }
            grants.append(Grant(grantee: parts[0] == "G" ? .group(parts[2]) : .user(parts[2]), permission: permission))
        }
        self.init(owner: fields[1], grants: grants)
    }

    init(owner: String, grants: [Grant]) {
        self.owner = owner
        self.grants = grants
    }

    /// `v1|<owner>|U:<permission>:<id>|G:<permission>:<uri>…`
    var stored: String {
        (["v1", owner] + grants.map { g -> String in
            switch g.grantee {
            case .user(let id): return "U:\(g.permission.rawValue):\(id)"
            case .group(let uri): return "G:\(g.permission.rawValue):\(uri)"
            }
        }).joined(separator: "|")
    }

    /// Whether `requester` (an account; nil: anonymous) has `permission`. The owner may always
    /// read and change the ACL, whatever it grants (as S3).
    func allows(_ permission: Permission, requester: String?) -> Bool {
        if requester == owner, permission == .readACP || permission == .writeACP { return true }
        return grants.contains { g in
            guard g.permission == permission || g.permission == .fullControl else { return false }
            switch g.grantee {
            case .user(let id): return id == requester
            case .group(let uri): return uri == Self.allUsers || (uri == Self.authenticatedUsers && requester != nil)
            }
        }
    }

    /// The AccessControlPolicy document GetBucketAcl/GetObjectAcl answer.
    var policy: String {
        func user(_ id: String) -> String { S3XML.e("ID", id) + S3XML.e("DisplayName", id) }
        var xml = ""
        // Groups first (as S3 lists a canned ACL's), then accounts, each in the order granted.
        let ordered = grants.filter { if case .group = $0.grantee { true } else { false } }
            + grants.filter { if case .user = $0.grantee { true } else { false } }
        for g in ordered {
            switch g.grantee {
            case .user(let id):
                xml += "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">" + user(id) + "</Grantee>"
            case .group(let uri):
                xml += "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">" + S3XML.e("URI", uri) + "</Grantee>"
            }
            xml += S3XML.e("Permission", g.permission.rawValue) + "</Grant>"
        }
        return S3XML.document("AccessControlPolicy", "<Owner>\(user(owner))</Owner><AccessControlList>\(xml)</AccessControlList>")
    }

    /// The ACL an AccessControlPolicy document sets on a resource owned by `owner` (its Owner
    /// may not name another).
    static func fromPolicy(_ bytes: [UInt8], owner: String) throws(S3Error) -> S3ACL {
        guard let tree = try? XMLTree.parse(bytes), tree.name == "AccessControlPolicy",
              let list = tree.child("AccessControlList") else { throw S3Error.malformedXML }
        if let named = tree.child("Owner")?.child("ID")?.text, named != owner {
            throw S3Error.accessDenied
        }
        var grants: [Grant] = []
        for grant in list.children where grant.name == "Grant" {
            guard let grantee = grant.child("Grantee"), let text = grant.child("Permission")?.text else { throw S3Error.malformedXML }
            guard let permission = Permission(rawValue: text) else { throw S3Error.malformedXML }
            if let uri = grantee.child("URI")?.text {
                guard groups.contains(uri) else { throw S3Error.invalidArgument("Invalid group uri", name: "uri", value: uri) }
                grants.append(Grant(grantee: .group(uri), permission: permission))
            } else if let id = grantee.child("ID")?.text {
                guard isPlausibleID(id) else { throw S3Error.invalidArgument("Invalid id", name: "CanonicalUser/ID", value: id) }
                grants.append(Grant(grantee: .user(id), permission: permission))
            } else if let email = grantee.child("EmailAddress")?.text {
                throw unresolvable(email)
            } else {
                throw S3Error.malformedXML
            }
        }
        return S3ACL(owner: owner, grants: grants)
    }

    /// The ACL a write asks for: `x-amz-acl` (a canned one) or `x-amz-grant-*` headers (not
    /// both); nil when neither. `owner` will own the resource, `bucketOwner` owns its bucket.
    static func requested(_ request: HTTPRequest, owner: String, bucketOwner: String) throws(S3Error) -> S3ACL? {
        let grantHeaders = request.headers.filter { $0.name.lowercased().hasPrefix("x-amz-grant-") }
        if let name = request.header("x-amz-acl") {
            guard grantHeaders.isEmpty else {
                throw S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
            }
            guard let acl = canned(name, owner: owner, bucketOwner: bucketOwner) else {
                throw S3Error.invalidArgument("The canned ACL is not valid.", name: "x-amz-acl", value: name)
            }
            return acl
        }
        guard !grantHeaders.isEmpty else { return nil }
        var grants: [Grant] = []
        for (name, value) in grantHeaders {
            let suffix = name.lowercased().dropFirst("x-amz-grant-".count).uppercased().replacingOccurrences(of: "-", with: "_")
            guard let permission = Permission(rawValue: suffix) else {
                throw S3Error.invalidArgument("Unknown grant header.", name: name, value: value)
            }
            for item in value.split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2 else { throw S3Error.invalidArgument("Invalid grant.", name: name, value: value) }
                let id = pair[1].count >= 2 && pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") ? String(pair[1].dropFirst().dropLast()) : pair[1]
                switch pair[0].lowercased() {
                case "id":
                    guard isPlausibleID(id) else { throw S3Error.invalidArgument("Invalid id", name: name, value: id) }
                    grants.append(Grant(grantee: .user(id), permission: permission))
                case "uri":
                    guard groups.contains(id) else { throw S3Error.invalidArgument("Invalid group uri", name: name, value: id) }
                    grants.append(Grant(grantee: .group(id), permission: permission))
                case "emailaddress": throw unresolvable(id)
                default: throw S3Error.invalidArgument("Invalid grantee type.", name: name, value: value)
                }
            }
        }
        return S3ACL(owner: owner, grants: grants)
    }

    /// An id that can be an account's: letters, digits and `_ - . : @`, at most 256 bytes. Ids
    /// go into system metadata headers and the stored form's `|`-separated fields, so nothing
    /// else (no control character, no `|`) may pass.
    static func isPlausibleID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 256 && id.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
                || b == UInt8(ascii: ".") || b == UInt8(ascii: ":") || b == UInt8(ascii: "@")
        }
    }

    /// Accounts have no e-mail addresses here.
    static func unresolvable(_ email: String) -> S3Error {
        S3Error("UnresolvableGrantByEmailAddress", "The e-mail address you provided does not match any account on record.",
                details: [("EmailAddressProvided", email)])
    }
}
