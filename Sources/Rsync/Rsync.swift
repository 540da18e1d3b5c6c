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

    /// The signature of `basis`, in memory (signatures are ~1 % of the file).
    public static func signature(of basis: String, blockLength: Int? = nil) throws -> [UInt8] {
        let size = (try? FileManager.default.attributesOfItem(atPath: basis)[.size] as? Int64) ?? 0
        return try withMemoryOutput { out in
            try withFiles([(basis, "rb")]) { f in
                let rc = rs_sig_file(f[0], out, blockLength ?? Self.blockLength(forSize: size), 8, RS_MD4_SIG_MAGIC, nil)
                guard rc == RS_DONE else { throw Failure(description: "rs_sig_file failed (\(rc.rawValue)) for \(basis)") }
            }
        }
    }

    /// Writes the delta turning the file whose signature is `signature` into `newFile`.
    public static func delta(signature: [UInt8], newFile: String, to delta: String) throws {
        var sig = signature
        try sig.withUnsafeMutableBytes { raw in
            guard let f = fmemopen(raw.baseAddress, raw.count, "rb") else { throw Failure(description: "fmemopen failed") }
            defer { fclose(f) }
            try withFiles([(newFile, "rb"), (delta, "wb")]) { files in
                try Self.delta(sums: f, newFile: files[0], to: files[1], name: newFile)
            }
        }
    }

    private static func delta(sums sigFile: UnsafeMutablePointer<FILE>, newFile: UnsafeMutablePointer<FILE>,
                              to out: UnsafeMutablePointer<FILE>, name: String) throws {
        var sums: OpaquePointer?
        var rc = rs_loadsig_file(sigFile, &sums, nil)
        guard rc == RS_DONE, let sums else { throw Failure(description: "cannot load the signature of \(name) (\(rc.rawValue))") }
        defer { rs_free_sumset(sums) }
        rc = rs_build_hash_table(sums)
        guard rc == RS_DONE else { throw Failure(description: "rs_build_hash_table failed (\(rc.rawValue))") }
        rc = rs_delta_file(sums, newFile, out, nil)
        guard rc == RS_DONE else { throw Failure(description: "rs_delta_file failed (\(rc.rawValue)) for \(name)") }
    }

    /// Runs `body` with a FILE that collects what is written into memory.
    private static func withMemoryOutput(_ body: (UnsafeMutablePointer<FILE>) throws -> Void) throws -> [UInt8] {
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let f = open_memstream(&buffer, &size) else { throw Failure(description: "open_memstream failed") }
        var closed = false
        defer {
            if !closed { fclose(f) }
            free(buffer)
        }
        try body(f)
        fclose(f)
        closed = true
        guard let buffer else { return [] }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
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
