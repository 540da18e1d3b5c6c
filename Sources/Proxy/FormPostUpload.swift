import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// Browser uploads (Swift's `formpost`): a `multipart/form-data` POST to a container (or a
/// prefix in it) stores each file field as an object, if the form's `signature` is the HMAC,
/// under one of the temp URL keys, of `path\nredirect\nmax_file_size\nmax_file_count\nexpires`.
struct FormPostUpload {
    let context: ProxyContext
    /// Most distinct form fields (Swift's forms carry a handful).
    static let maxFields = 64
    static let maxValueLength = 4096

    struct FormError: Error {
        let status: Int
        let message: String
    }

    /// The boundary of a form POST, nil for any other request.
    static func boundary(_ request: HTTPRequest) -> String? {
        guard request.method == "POST", let type = request.header("content-type") else { return nil }
        let (value, params) = ContentTypeParams.headerParams(type)
        guard value.lowercased() == "multipart/form-data" else { return nil }
        return params.first { $0.0 == "boundary" }?.1
    }

    func handle(_ request: HTTPRequest, _ path: SwiftPath, boundary: String) async throws -> HTTPResponse {
        do {
            return try await translate(request, path, boundary: boundary)
        } catch let error as MultipartReader.Invalid {
            return .text(400, "FormPostUpload: \(error.description)", headers: ["Content-Type": "text/plain"])
        } catch let error as FormError {
            if error.status == 401 { return HTTPResponse(status: 401, headers: ["Content-Type": "text/plain"],
                                                         body: .bytes(ByteBuffer(string: "FormPostUpload: \(error.message.capitalized)"))) }
            return .text(error.status, "FormPostUpload: \(error.message)", headers: ["Content-Type": "text/plain"])
        }
    }

    private func translate(_ request: HTTPRequest, _ path: SwiftPath, boundary: String) async throws -> HTTPResponse {
        let keys = await self.keys(path, txid: request.transactionID)
        let reader = MultipartReader(body: request.body, boundary: boundary)
        var attributes: [String: String] = [:]
        var status = ""
        var message = ""
        var fileCount = 0
        var responseHeaders = HTTPHeaders()
        parts: while let event = try await reader.next() {
            guard case .part(let headers) = event else { continue }
            func header(_ n: String) -> String? { headers.first { $0.0 == n }?.1 }
            let (disposition, params) = ContentTypeParams.headerParams(header("content-disposition") ?? "")
            func param(_ n: String) -> String? { params.first { $0.0 == n }?.1 }
            if disposition.lowercased() == "form-data", let filename = param("filename"), !filename.isEmpty {
                fileCount += 1
                guard let maxCount = Int(attributes["max_file_count"] ?? "0") else { throw FormError(status: 400, message: "max_file_count not an integer") }
                if fileCount > maxCount {
                    status = HTTPStatusText.statusLine(400)
                    message = "max file count exceeded"
                    break parts
                }
                var fileAttributes = attributes
                fileAttributes["filename"] = filename
                if attributes["content-type"] == nil, let t = header("content-type") { fileAttributes["content-type"] = t.isEmpty ? "application/octet-stream" : t }
                if attributes["content-encoding"] == nil, let e = header("content-encoding") { fileAttributes["content-encoding"] = e }
                let (code, headers) = try await store(request, path, fileAttributes, reader: reader, keys: keys)
                status = HTTPStatusText.statusLine(code)
                responseHeaders = headers
                if !(200..<300).contains(code) { break parts }
            } else {
                var data: [UInt8] = []
                while let e = try await reader.next() {
                    if case .data(let d) = e, data.count < Self.maxValueLength {
                        data += d.readableBytesView.prefix(Self.maxValueLength - data.count)
                    }
                    if case .partEnd = e { break }
                }
                if let name = param("name") {
                    // Fields are read before the signature is checked: keep their number bounded.
                    guard attributes.count < Self.maxFields || attributes[name.lowercased()] != nil else {
                        throw HTTPError.badRequest("FormPostUpload: too many form fields")
                    }
                    var value = String(decoding: data, as: UTF8.self)
                    while let last = value.unicodeScalars.last, "\r\n-".unicodeScalars.contains(last) { value.unicodeScalars.removeLast() }
                    attributes[name.lowercased()] = value
                }
            }
        }
        if status.isEmpty {
            status = HTTPStatusText.statusLine(400)
            message = "no files to process"
        }
        var headers = HTTPHeaders()
        for (k, v) in responseHeaders where k.lowercased().hasPrefix("access-control") { headers.add(name: k, value: v) }
        let code = Int(status.prefix(3)) ?? 400
        guard var redirect = attributes["redirect"], !redirect.isEmpty else {
            var body = status
            if !message.isEmpty { body += "\r\nFormPost: " + message.capitalized }
            headers.add(name: "Content-Type", value: "text/plain")
            return HTTPResponse(status: code, headers: headers, body: .bytes(ByteBuffer(string: body)))
        }
        redirect += redirect.contains("?") ? "&" : "?"
        redirect += "status=\(code)&message=\(PercentCoding.encodePath(message))"
        headers.add(name: "Location", value: redirect)
        headers.add(name: "Content-Type", value: "text/html; charset=UTF-8")
        return HTTPResponse(status: 303, headers: headers,
                            body: .bytes(ByteBuffer(string: "<html><body><p><a href=\"\(redirect)\">Click to continue...</a></p></body></html>")))
    }

    /// Checks the signature and stores one file field; answers its status and headers.
    private func store(_ request: HTTPRequest, _ path: SwiftPath, _ attributes: [String: String], reader: MultipartReader,
                       keys: [String]) async throws -> (Int, HTTPHeaders) {
        guard !keys.isEmpty else { throw FormError(status: 401, message: "invalid signature") }
        guard let maxSize = Int64(attributes["max_file_size"] ?? "0") else { throw FormError(status: 400, message: "max_file_size not an integer") }
        var headers = HTTPHeaders()
        if let at = attributes["x_delete_at"] {
            guard Int64(at) != nil else { throw FormError(status: 400, message: "x_delete_at not an integer: Unix timestamp required.") }
            headers.add(name: "X-Delete-At", value: at)
        }
        if let after = attributes["x_delete_after"] {
            guard Int64(after) != nil else { throw FormError(status: 400, message: "x_delete_after not an integer: Number of seconds required.") }
            headers.add(name: "X-Delete-After", value: after)
        }
        if let t = attributes["content-type"] { headers.add(name: "Content-Type", value: t.isEmpty ? "application/octet-stream" : t) }
        if let e = attributes["content-encoding"] { headers.add(name: "Content-Encoding", value: e) }
        guard let expires = Int64(attributes["expires"] ?? "0") else { throw FormError(status: 400, message: "expired not an integer") }
        if Double(expires) < context.clock.now() { throw FormError(status: 401, message: "form expired") }
        let decodedPath = (try? PercentCoding.decodeUTF8(request.path)) ?? request.path
        let message = "\(decodedPath)\n\(attributes["redirect"] ?? "")\n\(attributes["max_file_size"] ?? "0")\n"
            + "\(attributes["max_file_count"] ?? "0")\n\(attributes["expires"] ?? "0")"
        guard let (algorithm, signature) = TempURLSignature.parseSignature(attributes["signature"] ?? "") else {
            throw FormError(status: 401, message: "invalid signature")
        }
        let valid = keys.contains { Digests.constantTimeEqual(Digests.hmac(algorithm, key: Array($0.utf8), message: Array(message.utf8)), signature) }
        guard valid else { throw FormError(status: 401, message: "invalid signature") }

        // As Swift does: `/v1/a/c` gets `/<filename>`, `/v1/a/c/prefix` gets `prefix<filename>`.
        let objectName = (path.object ?? "") + (attributes["filename"] ?? "filename")
        guard let container = path.container else { throw FormError(status: 400, message: "a form posts into a container") }
        let target = ObjectPath(account: path.account, container: container, object: objectName)
        try SwiftPath.validate(target, constraints: context.constraints)
        var sent: Int64 = 0
        var exceeded = false
        let proxy = ObjectProxy(context: context, identity: nil)
        do {
            let r = try await proxy.store(target, headers: headers, length: nil, txid: request.transactionID) {
                while let e = try await reader.next() {
                    switch e {
                    case .data(let d):
                        sent += Int64(d.readableBytes)
                        if sent > maxSize {
                            exceeded = true
                            throw FormError(status: 400, message: "max_file_size exceeded")
                        }
                        return d
                    case .partEnd: return nil
                    case .part: continue
                    }
                }
                return nil
            }
            return (r.status, r.headers)
        } catch let error as HTTPError where !exceeded {
            return (error.status, HTTPHeaders())
        }
    }

    /// The account's and container's temp URL keys.
    private func keys(_ path: SwiftPath, txid: String) async -> [String] {
        guard let container = path.container else { return [] }
        var keys: [String] = []
        if let account = await context.accountInfo(path.account, txid: txid) {
            for n in ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"] {
                if let k = account.header(n), !k.isEmpty { keys.append(k) }
            }
        }
        let info = await context.containerInfo(account: path.account, container: container, txid: txid)
        for n in ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"] {
            if let k = info.headers.first(where: { $0.0.lowercased() == n })?.1, !k.isEmpty { keys.append(k) }
        }
        return keys
    }
}
