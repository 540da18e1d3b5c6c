import Foundation

/// Errors in one line a user can act on, for the command lines (`st:` and `nimbus:` lines):
/// ours as they are, the system's file errors as `path: reason` (never `NSCocoaErrorDomain …`).
public enum ErrorText {
    public static func line(_ error: any Error) -> String {
        if let e = error as? CocoaError {
            let path = e.filePath ?? (e.userInfo[NSFilePathErrorKey] as? String) ?? e.userInfo["NSDestinationFilePath"] as? String
            let reason = (e.underlying as? POSIXError).map { strerrorText($0.code.rawValue) } ?? Self.reason(e.code)
            return path.map { "\($0): \(reason)" } ?? reason
        }
        if let e = error as? POSIXError { return strerrorText(e.code.rawValue) }
        return "\(error)"
    }

    /// `no such file or directory`: strerror, lowercased to sit after a colon.
    public static func strerrorText(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }

    private static func reason(_ code: CocoaError.Code) -> String {
        switch code {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "no space left on the device"
        case .fileWriteFileExists: return "already exists"
        default: return "cannot be used (error \(code.rawValue))"
        }
    }
}
