import Foundation

/// Loads a daemon's JSON config file, with errors that name the file and the key at fault.
public enum ConfigFile {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "config \(path): cannot be read")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw LoadError(description: "config \(path): '\(where_(context.codingPath + [key]))' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw LoadError(description: "config \(path): '\(where_(context.codingPath))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw LoadError(description: "config \(path): not valid JSON at '\(where_(context.codingPath))'")
        }
    }

    static func where_(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
