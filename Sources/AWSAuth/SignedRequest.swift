/// The parts of an HTTP request a signature covers, as they came off the wire.
public struct SignedRequest: Sendable {
    public var method: String
    /// The path as sent (still percent-encoded), without the query.
    public var path: String
    /// The query string as sent, without `?`.
    public var query: String
    /// Headers in wire order (names in any case).
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, query: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// Every value of a header, in order.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name }.map(\.value)
    }

    func header(_ name: String) -> String? { values(name).first }

    /// The query's parameters, percent-decoded (`+` is a space, as form encoding has it).
    var queryItems: [(String, String)] { FormDecoding.pairs(query) }
}
