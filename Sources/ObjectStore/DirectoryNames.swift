import Foundation

/// The names in a directory, read with `opendir`/`readdir`: an empty list when it does not
/// exist. Foundation's `contentsOfDirectory` builds and throws an `NSError` for a missing
/// directory, which every PUT to a device with volumes met (its objects have no hash
/// directory) — 2 % of a small PUT's CPU.
enum DirectoryNames {
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: bytes[..<length], as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
