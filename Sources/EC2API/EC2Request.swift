import AWSAuth

/// One EC2 Query API call: `Action`, `Version` and its parameters, from a form body (POST) or a
/// query string (GET), with EC2's flattened lists (`ImageId.1`, `Filter.1.Value.2`).
public struct EC2Request: Sendable {
    public let action: String
    public let version: String
    public let parameters: [String: String]
    public let requestID: String

    public init(pairs: [(String, String)], requestID: String) throws(EC2Error) {
        var params: [String: String] = [:]
        for (k, v) in pairs where params[k] == nil { params[k] = v }
        guard let action = params["Action"], !action.isEmpty else { throw .missingParameter("Action") }
        self.action = action
        version = params["Version"] ?? ""
        parameters = params
        self.requestID = requestID
    }

    public subscript(_ name: String) -> String? { parameters[name] }

    /// A required parameter.
    public func required(_ name: String) throws(EC2Error) -> String {
        guard let v = parameters[name], !v.isEmpty else { throw .missingParameter(name) }
        return v
    }

    /// A flattened list: `prefix.1`, `prefix.2`, … in index order.
    public func list(_ prefix: String) -> [String] {
        parameters.compactMap { key, value -> (Int, String)? in
            guard key.hasPrefix(prefix + "."), let n = Int(key.dropFirst(prefix.count + 1)), n >= 1 else { return nil }
            return (n, value)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// `Filter.N.Name` / `Filter.N.Value.M` as name → values, read in one pass; at most 50
    /// filters of 200 values of 255 characters (each value is matched against every item).
    public var filters: [String: [String]] {
        get throws(EC2Error) {
            let structures = structures("Filter")
            guard structures.count <= 50 else { throw EC2Error("FilterLimitExceeded", "At most 50 filters per call.") }
            var out: [String: [String]] = [:]
            for filter in structures {
                guard let name = filter["Name"], !name.isEmpty else { throw EC2Error("InvalidParameterValue", "Every filter needs a Name.") }
                let values = filter.compactMap { key, value -> (Int, String)? in
                    guard key.hasPrefix("Value."), let n = Int(key.dropFirst(6)) else { return nil }
                    return (n, value)
                }.sorted { $0.0 < $1.0 }.map(\.1)
                guard values.count <= 200, values.allSatisfy({ $0.utf8.count <= 255 }) else {
                    throw EC2Error("InvalidParameterValue", "A filter has at most 200 values of at most 255 characters.")
                }
                out[name, default: []] += values
            }
            return out
        }
    }
}

extension EC2Request {
    /// A structure list: `prefix.N.Field…` as one dictionary of `Field…` → value per N, in
    /// index order (`IpPermissions.1.IpRanges.1.CidrIp` → `[["IpRanges.1.CidrIp": …]]`).
    public func structures(_ prefix: String) -> [[String: String]] { Self.structures(parameters, prefix) }

    static func structures(_ parameters: [String: String], _ prefix: String) -> [[String: String]] {
        var byIndex: [Int: [String: String]] = [:]
        let head = prefix + "."
        for (key, value) in parameters where key.hasPrefix(head) {
            let rest = key.dropFirst(head.count)
            guard let dot = rest.firstIndex(of: "."), let n = Int(rest[..<dot]), n >= 1, n <= 1000 else { continue }
            byIndex[n, default: [:]][String(rest[rest.index(after: dot)...])] = value
        }
        return byIndex.keys.sorted().compactMap { byIndex[$0] }
    }

    /// An optional integer parameter; `InvalidParameterValue` when present and not one.
    public func int(_ name: String) throws(EC2Error) -> Int? {
        guard let text = parameters[name], !text.isEmpty else { return nil }
        guard let n = Int(text) else { throw EC2Error("InvalidParameterValue", "Value (\(text)) for parameter \(name) is invalid. Expected an integer.") }
        return n
    }
}
