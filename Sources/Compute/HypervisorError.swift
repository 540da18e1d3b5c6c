/// A refusal from the hypervisor, with libvirt's error code (`VIR_ERR_NO_DOMAIN` is 42) so
/// callers can tell "already gone" from a real failure.
public struct HypervisorError: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// libvirt's VIR_ERR_NO_DOMAIN.
    public static let noDomain: Int32 = 42
    /// libvirt's VIR_ERR_OPERATION_INVALID (e.g. destroying a domain that is not running).
    public static let operationInvalid: Int32 = 55

    public var isNoDomain: Bool { code == Self.noDomain }

    public var description: String { "libvirt error \(code): \(message)" }
}
