import Digest
import Foundation
import HTTPServerKit
import NIOCore
import NIOPosix
import NimbusCore

/// A compute worker's console endpoint: `GET /v1/console/<instance id>` answers the last 64 KiB
/// of the instance's serial console log, for callers holding the worker's token (the EC2 API
/// reads it from the store). Served apart from the worker's tasks, so a busy worker still answers.
struct ConsoleHandler: HTTPHandler {
    let token: String
    let directory: String
    let pool: NIOThreadPool

    static let tail = 64 * 1024

    func errorResponse(_ error: HTTPError) -> HTTPResponse { .text(error.status, error.reason) }

    func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.method == "GET" else { throw HTTPError(405, "Method not allowed") }
        guard let given = request.header("x-worker-token"), Digests.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
            throw HTTPError(401, "Unauthorized")
        }
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count == 3, parts[0] == "v1", parts[1] == "console", Self.isInstanceID(parts[2]) else { throw HTTPError(404, "Not Found") }
        let path = ((directory as NSString).appendingPathComponent(parts[2]) as NSString).appendingPathComponent("console.log")
        let read: (bytes: [UInt8], modified: Double)? = try await pool.runIfActive {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { return nil }
            let size = Int(st.st_size)
            let start = max(0, size - Self.tail)
            var bytes = [UInt8](repeating: 0, count: size - start)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
            guard n >= 0 else { return nil }
            return (Array(bytes[..<n]), Double(st.st_mtim.tv_sec))
        }
        guard let read else { throw HTTPError(404, "Not Found") }
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/octet-stream", "X-Console-Timestamp": String(read.modified)],
                            body: .bytes(ByteBuffer(bytes: read.bytes)))
    }

    /// `i-` and 8 to 17 hex digits: nothing else reaches the file system.
    static func isInstanceID(_ s: String) -> Bool {
        s.hasPrefix("i-") && (10...19).contains(s.utf8.count) && s.utf8.dropFirst(2).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
