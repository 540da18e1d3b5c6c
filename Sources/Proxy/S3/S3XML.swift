import AWSAuth
import Foundation
import HTTPServerKit
import NIOCore
import NIOHTTP1
import NimbusCore

/// S3's response documents: `<Root xmlns="http://s3.amazonaws.com/doc/2006-03-01/">…`.
enum S3XML {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    static func document(_ root: String, _ body: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root) xmlns=\"\(namespace)\">\(body)</\(root)>"
    }

    /// `<name>text</name>`, the text escaped.
    static func e(_ name: String, _ text: String) -> String { "<\(name)>\(XMLText.escape(text))</\(name)>" }

    static func response(_ xml: String, status: Int = 200, requestID: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/xml")
        headers.add(name: "x-amz-request-id", value: requestID)
        return HTTPResponse(status: status, headers: headers, body: .bytes(ByteBuffer(string: xml)))
    }

    /// A Swift listing's `last_modified` (`2026-12-01T04:31:44.123450`) as S3 writes times
    /// (`2026-12-01T04:31:44.123Z`).
    /// A listing's `last_modified` as S3 shows it: rounded up to the second, as the object's
    /// `Last-Modified` is (a client compares the two).
    static func time(fromSwiftListing text: String) -> String {
        let whole = text.split(separator: ".", maxSplits: 1)
        let fraction = whole.count > 1 ? whole[1].prefix { $0.isNumber } : ""
        guard let seconds = listingSeconds(String(whole.first ?? "")) else {
            return text.hasSuffix("Z") ? text : text + ".000Z"
        }
        return iso8601(seconds + (fraction.contains { $0 != "0" } ? 1 : 0))
    }

    /// Seconds since the epoch of a listing's `yyyy-MM-ddTHH:mm:ss` (UTC): SigV4's
    /// `yyyymmddThhmmssZ` without the separators.
    static func listingSeconds(_ text: String) -> Double? {
        let b = Array(text.utf8)
        guard b.count == 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":")
        else { return nil }
        return SigV4.time(text.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z")
    }

    /// An HTTP date (`Last-Modified`) as S3's ISO 8601 with milliseconds.
    static func time(fromHTTPDate text: String) -> String? {
        guard let seconds = HTTPDate.parse(text) else { return nil }
        return iso8601(Double(seconds))
    }

    static func iso8601(_ seconds: Double) -> String {
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int((seconds - seconds.rounded(.down)) * 1000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
