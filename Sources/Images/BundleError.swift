/// Why a bundle cannot be made, read or registered — each a reason a user understands, shown
/// as a failed image's state reason or by the CLI.
public struct BundleError: Error, Equatable, CustomStringConvertible, Sendable {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
