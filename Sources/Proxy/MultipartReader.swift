import HTTPServerKit
import NIOCore

/// Reads a `multipart/form-data` request body part by part as it streams in, without holding
/// a whole part in memory (HTML form uploads may carry gigabytes).
final class MultipartReader: @unchecked Sendable {
    // @unchecked: used by the one task handling the request, never concurrently.
    enum Event {
        /// A part begins with these headers (names lowercased).
        case part([(String, String)])
        case data(ByteBuffer)
        case partEnd
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    private enum State { case preamble, headers, body, done }

    private let body: RequestBody
    private let delimiter: [UInt8]
    private var buffer: [UInt8] = []
    private var state = State.preamble
    private var pending: [Event] = []
    private var sourceEnded = false
    /// Most transport padding accepted after a delimiter.
    static let maxPadding = 1024

    init(body: RequestBody, boundary: String) {
        self.body = body
        delimiter = Array("--\(boundary)".utf8)
    }

    /// The next event, nil after the closing delimiter.
    func next() async throws -> Event? {
        while pending.isEmpty {
            if state == .done { return nil }
            let progressed = try parse()
            if !progressed {
                guard !sourceEnded else { throw Invalid(description: "truncated form data") }
                if let chunk = try await body.next() {
                    buffer.append(contentsOf: chunk.readableBytesView)
                } else {
                    sourceEnded = true
                }
            }
        }
        return pending.removeFirst()
    }

    /// Parses what the buffer allows; false when more input is needed.
    private func parse() throws -> Bool {
        switch state {
        case .done:
            return true
        case .preamble:
            guard let at = find(delimiter, from: 0) else {
                if buffer.count > 64 * 1024 { throw Invalid(description: "invalid starting boundary") }
                return false
            }
            guard at == 0 || (at >= 2 && buffer[at - 2] == 13 && buffer[at - 1] == 10) else {
                throw Invalid(description: "invalid starting boundary")
            }
            return try afterDelimiter(at + delimiter.count)
        case .headers:
            guard let end = find([13, 10, 13, 10], from: 0) else {
                if buffer.count > 64 * 1024 { throw Invalid(description: "part headers too long") }
                // A part with no headers at all starts right away with the blank line.
                if buffer.starts(with: [13, 10]) {
                    buffer.removeFirst(2)
                    pending.append(.part([]))
                    state = .body
                    return true
                }
                return false
            }
            let text = String(decoding: buffer[0..<end], as: UTF8.self)
            var headers: [(String, String)] = []
            for line in text.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((line[..<colon].trimmingCharacters(in: .whitespaces).lowercased(),
                                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            buffer.removeFirst(end + 4)
            pending.append(.part(headers))
            state = .body
            return true
        case .body:
            let marker = [13, 10] + delimiter
            if let at = find(marker, from: 0) {
                if at > 0 {
                    // The data first; the delimiter is then at the start of the buffer.
                    pending.append(.data(ByteBuffer(bytes: buffer[0..<at])))
                    buffer.removeFirst(at)
                    return true
                }
                // The part ends only once what follows the delimiter has arrived (else this
                // runs again with more bytes and must not report the end twice).
                guard try afterDelimiter(marker.count) else { return false }
                pending.append(.partEnd)
                return true
            }
            // Keep a tail that could be the start of the delimiter.
            let safe = buffer.count - marker.count
            if safe > 0 {
                pending.append(.data(ByteBuffer(bytes: buffer[0..<safe])))
                buffer.removeFirst(safe)
                return true
            }
            return false
        }
    }

    /// After a delimiter: `--` closes the body, CRLF starts the next part's headers.
    private func afterDelimiter(_ index: Int) throws -> Bool {
        guard buffer.count >= index + 2 else { return false }
        if buffer[index] == UInt8(ascii: "-") && buffer[index + 1] == UInt8(ascii: "-") {
            state = .done
            buffer = []
            return true
        }
        // Transport padding (spaces, tabs) may precede the CRLF.
        var i = index
        while i < buffer.count && (buffer[i] == 32 || buffer[i] == 9) { i += 1 }
        guard i - index <= Self.maxPadding else { throw Invalid(description: "invalid boundary") }
        guard buffer.count >= i + 2 else { return false }
        guard buffer[i] == 13 && buffer[i + 1] == 10 else { throw Invalid(description: "invalid boundary") }
        buffer.removeFirst(i + 2)
        state = .headers
        return true
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard buffer.count >= needle.count, let first = needle.first else { return nil }
        var i = start
        let last = buffer.count - needle.count
        while i <= last {
            if buffer[i] == first {
                var match = true
                for j in 1..<needle.count where buffer[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}
