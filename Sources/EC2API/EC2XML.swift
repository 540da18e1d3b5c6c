import NimbusCore

/// EC2's response documents: `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
/// with `requestId` and lowerCamelCase elements; lists as `<xSet><item>…</item></xSet>`.
public enum EC2XML {
    public static let namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

    /// One element: text, or nested elements.
    public indirect enum Node: Sendable {
        case text(String, String)
        case element(String, [Node])
        case set(String, [[Node]])
    }

    public static func response(_ action: String, requestID: String, _ body: [Node]) -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(action)Response xmlns=\"\(namespace)\">"
        out += "<requestId>\(requestID)</requestId>"
        for node in body { render(node, into: &out) }
        return out + "</\(action)Response>"
    }

    static func render(_ node: Node, into out: inout String) {
        switch node {
        case .text(let name, let value): out += "<\(name)>\(XMLText.escape(value))</\(name)>"
        case .element(let name, let children):
            out += "<\(name)>"
            for c in children { render(c, into: &out) }
            out += "</\(name)>"
        case .set(let name, let items):
            out += "<\(name)>"
            for item in items {
                out += "<item>"
                for c in item { render(c, into: &out) }
                out += "</item>"
            }
            out += "</\(name)>"
        }
    }
}
