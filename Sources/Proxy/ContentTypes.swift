/// Guesses a Content-Type from an object name's extension, as Swift's proxy does with Python's
/// `mimetypes` when a client sends none.
enum ContentTypes {
    static let byExtension: [String: String] = [
        "txt": "text/plain", "html": "text/html", "htm": "text/html", "css": "text/css", "csv": "text/csv",
        "js": "application/javascript", "json": "application/json", "xml": "application/xml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "webp": "image/webp", "ico": "image/vnd.microsoft.icon", "pdf": "application/pdf", "zip": "application/zip",
        "gz": "application/gzip", "tgz": "application/gzip", "tar": "application/x-tar", "bz2": "application/x-bzip2",
        "xz": "application/x-xz", "mp3": "audio/mpeg", "mp4": "video/mp4", "wav": "audio/x-wav",
        "gpg": "application/pgp-encrypted", "iso": "application/x-iso9660-image", "md": "text/markdown",
    ]

    static func guess(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return "application/octet-stream" }
        return byExtension[String(name[name.index(after: dot)...]).lowercased()] ?? "application/octet-stream"
    }
}
