import CRsync
import Foundation

/// librsync's whole-file operations (signature, delta, patch), as duplicity uses them:
/// MD4 signatures with the original rollsum (magic `0x72730136`) and 8-byte strong sums.
public enum Rsync {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// duplicity 0.8.22's block length for a file of `size` bytes.
    public static func blockLength(forSize size: Int64) -> Int {
        if size < 1_024_000 { return 512 }
        return min(2048, Int(size / 1_024_000) * 512)
    }

    /// Writes the signature of `basis` to `signature`.
    public static func signature(of basis: String, to signature: String, blockLength: Int? = nil) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: basis)[.size] as? Int64) ?? 0
        try withFiles([(basis, "rb"), (signature, "wb")]) { f in
            let rc = rs_sig_file(f[0], f[1], blockLength ?? Self.blockLength(forSize: size), 8, RS_MD4_SIG_MAGIC, nil)
            guard rc == RS_DONE else { throw Failure(description: "rs_sig_file failed (\(rc.rawValue)) for \(basis)") }
        }
    }

    /// Writes the delta turning the file `signature` describes into `newFile`.
    public static func delta(signature: String, newFile: String, to delta: String) throws {
        try withFiles([(signature, "rb"), (newFile, "rb"), (delta, "wb")]) { f in
            var sums: OpaquePointer?
            var rc = rs_loadsig_file(f[0], &sums, nil)
            guard rc == RS_DONE, let sums else { throw Failure(description: "cannot load signature \(signature) (\(rc.rawValue))") }
            defer { rs_free_sumset(sums) }
            rc = rs_build_hash_table(sums)
            guard rc == RS_DONE else { throw Failure(description: "rs_build_hash_table failed (\(rc.rawValue))") }
            rc = rs_delta_file(sums, f[1], f[2], nil)
            guard rc == RS_DONE else { throw Failure(description: "rs_delta_file failed (\(rc.rawValue)) for \(newFile)") }
        }
    }

    /// Applies `delta` to `basis`, writing `output`.
    public static func patch(basis: String, delta: String, to output: String) throws {
        try withFiles([(basis, "rb"), (delta, "rb"), (output, "wb")]) { f in
            let rc = rs_patch_file(f[0], f[1], f[2], nil)
            guard rc == RS_DONE else { throw Failure(description: "rs_patch_file failed (\(rc.rawValue)): corrupt delta or wrong basis") }
        }
    }

    private static func withFiles(_ specs: [(String, String)], _ body: ([UnsafeMutablePointer<FILE>]) throws -> Void) throws {
        var files: [UnsafeMutablePointer<FILE>] = []
        defer { for f in files { fclose(f) } }
        for (path, mode) in specs {
            guard let f = fopen(path, mode) else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
            files.append(f)
        }
        try body(files)
    }
}
