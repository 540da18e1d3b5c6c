import Foundation
import NimbusCore
import Testing
@testable import ObjectStore

@Suite struct SuffixHashesTests {
    func device() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sh-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(dir)/tmp", withIntermediateDirectories: true)
        return dir
    }

    let hash = "0123456789abcdef0123456789abcabc"

    func put(_ dev: String, at ts: Timestamp) throws {
        let w = try DiskFile(devicePath: dev, partition: 7, hash: hash).writer()
        try [UInt8]([1, 2, 3]).withUnsafeBytes { try w.write($0) }
        try w.commit(metadata: ["X-Timestamp": ts.internalForm, "ETag": w.finalizeETag(), "Content-Length": "3"], timestamp: ts)
    }

    @Test func replicasWithTheSameFilesAgreeAndAWriteChangesTheHash() throws {
        let a = try device(), b = try device()
        let t1 = Timestamp(seconds: 1_700_000_000)
        try put(a, at: t1)
        try put(b, at: t1)
        let ha = try SuffixHashes.hashes(devicePath: a, partition: 7, reclaimAge: 3600, now: t1.seconds)
        let hb = try SuffixHashes.hashes(devicePath: b, partition: 7, reclaimAge: 3600, now: t1.seconds)
        #expect(ha == hb)
        #expect(ha.keys.sorted() == ["abc"])
        try put(b, at: Timestamp(seconds: t1.seconds + 1))
        let hb2 = try SuffixHashes.hashes(devicePath: b, partition: 7, reclaimAge: 3600, now: t1.seconds)
        #expect(hb2["abc"] != ha["abc"])
        #expect(SuffixHashes.listing(devicePath: b, partition: 7, suffix: "abc")[hash]?.count == 1)
    }

    @Test func oldTombstonesAreReclaimedWhenHashing() throws {
        let dev = try device()
        let t = Timestamp(seconds: 1_700_000_000)
        try DiskFile(devicePath: dev, partition: 7, hash: hash).delete(at: t, name: "/a/c/o")
        let fresh = try SuffixHashes.hashes(devicePath: dev, partition: 7, reclaimAge: 3600, now: t.seconds + 60)
        #expect(fresh["abc"] != nil)
        let later = try SuffixHashes.hashes(devicePath: dev, partition: 7, recalculate: ["abc"], reclaimAge: 3600, now: t.seconds + 7200)
        #expect(later.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(dev)/objects/7/abc"))
    }

    @Test func replicaFileWithBadFooterIsRefused() throws {
        let dev = try device()
        let w = try DiskFile(devicePath: dev, partition: 7, hash: hash).writer()
        try [UInt8](repeating: 9, count: 100).withUnsafeBytes { try w.write($0) }
        #expect(throws: (any Error).self) { try w.commitReplica(fileName: "1700000000.00000.data") }
        #expect(DiskFile(devicePath: dev, partition: 7, hash: hash).newestTimestamp() == nil)
    }
}
