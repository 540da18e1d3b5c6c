import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking TCP socket for tests that must send exactly the bytes they choose.
final class RawSocket {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads time out after `timeout` seconds.
    init?(port: Int, timeout: Int = 30) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        var t = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Up to `max` bytes; empty when the peer closed; nil on timeout.
    func receive(max: Int = 65536) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: max)
        let n = recv(fd, &buf, buf.count, 0)
        if n < 0 { return nil }
        return Array(buf[0..<n])
    }

    /// Reads until the peer closes (true) or a read times out (false).
    func waitForClose() -> Bool {
        while let got = receive() {
            if got.isEmpty { return true }
        }
        return false
    }
}

/// Runs blocking socket work on a Dispatch thread: blocking one of Swift's few cooperative
/// threads (two on a 2-core machine) would starve the very server the test talks to.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
