import Foundation
import ZIPFoundation

/// Writes small text files into a new zip archive (whole or not at all), keeping their modes.
enum ZipWriter {
    static func write(_ files: [(name: String, contents: String, mode: UInt16)], to path: String) throws {
        // The archive holds secret keys: owner-only from its first byte, not only after a chmod.
        let previous = umask(0o077)
        defer { umask(previous) }
        let tmp = path + ".tmp-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let archive = try Archive(url: URL(fileURLWithPath: tmp), accessMode: .create)
        for file in files {
            let data = Data(file.contents.utf8)
            try archive.addEntry(with: file.name, type: .file, uncompressedSize: Int64(data.count), permissions: file.mode,
                                 compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        guard rename(tmp, path) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        chmod(path, 0o600)
    }
}
