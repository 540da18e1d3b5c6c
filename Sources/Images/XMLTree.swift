import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One element of a small XML document: name, attributes, children and its own text.
struct XMLTreeNode: Sendable {
    var name: String
    var attributes: [String: String]
    var children: [XMLTreeNode] = []
    var text = ""

    func child(_ name: String) -> XMLTreeNode? { children.first { $0.name == name } }
}

/// Builds an element tree with Foundation's XMLParser (libxml2; external entities are never
/// resolved). For small documents such as bundle manifests.
enum XMLTree {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ bytes: [UInt8]) throws -> XMLTreeNode {
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw ParseError(description: parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element")
        }
        return root
    }

    /// XMLParser's delegate: a stack of open elements.
    final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLTreeNode] = []
        var root: XMLTreeNode?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            guard stack.count < 32 else {
                parser.abortParsing()
                return
            }
            stack.append(XMLTreeNode(name: name, attributes: attributes))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard var node = stack.popLast() else { return }
            node.text = node.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
        }
    }
}
