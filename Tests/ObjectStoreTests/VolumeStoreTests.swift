import Foundation
import NimbusCore
import Testing
@testable import ObjectStore

/// Small object files packed into volumes: the same files a hash directory would hold, found
/// through the index, durable across a reopen, a torn tail cut off, big files kept as files.
// Serialized: these tests flush files from synchronous test functions, which hold one of Swift's
// few cooperative threads each (two on a 2-core machine) — together they starved other suites'
// servers under load.
@Suite(.serialized) struct VolumeStoreTests {
    /// A device directory with a registered store (unregistered and removed by `done`).
    func device() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vdev-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(dir)/tmp", withIntermediateDirectories: true)
        try VolumeStore.open(devicePath: dir)
        return dir
    }

    func done(_ dev: String) {
        VolumeStore.unregister(dev)
        try? FileManager.default.removeItem(atPath: dev)
    }

    func put(_ file: DiskFile, _ bytes: [UInt8], at ts: Timestamp, meta: [String: String] = [:]) throws {
        let w = try file.writer()
        try bytes.withUnsafeBytes { try w.write($0) }
        var m = meta
        m["X-Timestamp"] = ts.internalForm
        m["ETag"] = w.finalizeETag()
        m["Content-Length"] = String(bytes.count)
        try w.commit(metadata: m, timestamp: ts)
    }

    func contents(_ file: DiskFile) throws -> [UInt8]? {
        guard case .present(let r) = try file.open() else { return nil }
        var out = [UInt8](repeating: 0, count: Int(r.contentLength))
        var at = 0
        while at < out.count {
            let n = try out.withUnsafeMutableBytes { try r.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[at...]), at: Int64(at)) }
            if n == 0 { break }
            at += n
        }
        return out
    }

    let hash = "0123456789abcdef0123456789abcabc"

    @Test func aSmallObjectIsARecordNotAFileAndReadsBack() throws {
        let dev = try device()
        defer { done(dev) }
        let f = DiskFile(devicePath: dev, partition: 7, hash: hash)
        let bytes = (0..<5000).map { UInt8($0 % 253) }
        try put(f, bytes, at: Timestamp(seconds: 100), meta: ["X-Object-Meta-Color": "blue"])
        #expect(try contents(f) == bytes)
        guard case .present(let r) = try f.open() else { Issue.record("missing"); return }
        #expect(r.metadata["X-Object-Meta-Color"] == "blue")
        #expect(!FileManager.default.fileExists(atPath: f.directory), "no hash directory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dev)/tmp").isEmpty, "no temp file")
        #expect(VolumeStore.registered(dev)?.names(partition: 7, hash: hash) == ["\(Timestamp(seconds: 100).internalForm).data"])
    }

    @Test func newerVersionsTombstonesAndPostsReplaceOlderRecordsAcrossAReopen() throws {
        let dev = try device()
        defer { done(dev) }
        let f = DiskFile(devicePath: dev, partition: 7, hash: hash)
        try put(f, Array("one".utf8), at: Timestamp(seconds: 100))
        try put(f, Array("two".utf8), at: Timestamp(seconds: 200))
        try f.post(metadata: ["X-Object-Meta-Shade": "dark", "Content-Type": "text/plain"], at: Timestamp(seconds: 300))
        #expect(try contents(f) == Array("two".utf8))
        guard case .present(let r) = try f.open() else { Issue.record("missing"); return }
        #expect(r.metadata["X-Object-Meta-Shade"] == "dark")
        #expect(f.listing().map(\.1) == ["data", "meta"], "the older data was removed")
        // Reopen: the index is rebuilt from the records, removals included.
        try VolumeStore.open(devicePath: dev)
        #expect(f.listing().map(\.1) == ["data", "meta"])
        #expect(try contents(f) == Array("two".utf8))
        try f.delete(at: Timestamp(seconds: 400), name: "/a/c/o")
        try VolumeStore.open(devicePath: dev)
        guard case .deleted(let when) = try f.open() else { Issue.record("not deleted"); return }
        #expect(when == Timestamp(seconds: 400))
        #expect(f.listing().count == 1)
    }

    @Test func aTornTailIsCutOffAndEverythingBeforeItStays() throws {
        let dev = try device()
        defer { done(dev) }
        let a = DiskFile(devicePath: dev, partition: 1, hash: hash)
        let b = DiskFile(devicePath: dev, partition: 2, hash: "ffff456789abcdef0123456789abcdef")
        try put(a, Array("kept".utf8), at: Timestamp(seconds: 100))
        try put(b, [UInt8](repeating: 7, count: 3000), at: Timestamp(seconds: 100))
        let volume = try #require(VolumeStore.registered(dev)?.place(partition: 2, hash: b.hash, name: "\(Timestamp(seconds: 100).internalForm).data"))
        // A crash in the middle of the last record: its header and 100 bytes of it on disk.
        #expect(truncate(volume.path, off_t(volume.offset + 100)) == 0)
        let (_, files, cut, _) = try VolumeStore.open(devicePath: dev)
        let headLength = Int64(VolumeRecord.headerSize + b.hash.utf8.count + "\(Timestamp(seconds: 100).internalForm).data".utf8.count)
        #expect(files == 1 && cut == headLength + 100)
        #expect(try contents(a) == Array("kept".utf8))
        if case .present = try b.open() { Issue.record("the torn record must not be read") }
        // Garbage after the last record (a write that never completed) is cut too, and the
        // volume takes new records after it.
        let fd = open(volume.path, O_WRONLY | O_APPEND)
        _ = [UInt8](repeating: 0x4E, count: 40).withUnsafeBytes { write(fd, $0.baseAddress, 40) }
        close(fd)
        let (_, again, garbage, _) = try VolumeStore.open(devicePath: dev)
        #expect(again == 1 && garbage == 40)
        try put(b, Array("after".utf8), at: Timestamp(seconds: 300))
        try VolumeStore.open(devicePath: dev)
        #expect(try contents(b) == Array("after".utf8) && (try contents(a)) == Array("kept".utf8))
    }

    @Test func damageInTheMiddleSkipsOneRecordAndKeepsTheRest() throws {
        let dev = try device()
        defer { done(dev) }
        let files = (0..<3).map { DiskFile(devicePath: dev, partition: $0, hash: String(repeating: "\($0)", count: 29) + "abc") }
        for (i, f) in files.enumerated() { try put(f, [UInt8](repeating: UInt8(65 + i), count: 2000), at: Timestamp(seconds: 100)) }
        let name = "\(Timestamp(seconds: 100).internalForm).data"
        let middle = try #require(VolumeStore.registered(dev)?.place(partition: 1, hash: files[1].hash, name: name))
        // Bit rot in the middle record's bytes: its CRC no longer checks.
        let fd = open(middle.path, O_RDWR)
        var byte: UInt8 = 0x5A
        _ = pwrite(fd, &byte, 1, off_t(middle.offset + 10))
        close(fd)
        let (_, count, cut, damaged) = try VolumeStore.open(devicePath: dev)
        #expect(count == 2 && cut == 0)
        #expect(damaged == Int64(VolumeRecord.headerSize + files[1].hash.utf8.count + name.utf8.count) + middle.length)
        #expect(try contents(files[0]) == [UInt8](repeating: 65, count: 2000))
        #expect(try contents(files[2]) == [UInt8](repeating: 67, count: 2000), "the record after the damage is kept")
        guard case .missing = try files[1].open() else { Issue.record("the damaged record must not be read"); return }
        // New records still go after the last one.
        try put(files[1], Array("again".utf8), at: Timestamp(seconds: 200))
        try VolumeStore.open(devicePath: dev)
        #expect(try contents(files[1]) == Array("again".utf8) && (try contents(files[2])) == [UInt8](repeating: 67, count: 2000))
    }

    @Test func aRecordHiddenInAnObjectsBytesIsNeverTakenForOne() throws {
        let dev = try device()
        defer { done(dev) }
        let victim = DiskFile(devicePath: dev, partition: 1, hash: String(repeating: "b", count: 29) + "abc")
        let carrier = DiskFile(devicePath: dev, partition: 2, hash: String(repeating: "c", count: 29) + "abc")
        let after = DiskFile(devicePath: dev, partition: 3, hash: String(repeating: "d", count: 29) + "abc")
        // A far-future tombstone for `victim`, as a record, inside an uploaded object's bytes:
        // with every seed a client could guess.
        let tombstone = try MetadataFooter.encode(["X-Timestamp": Timestamp(seconds: 9e9).internalForm, "name": "/a/c/o"])
        var payload: [UInt8] = []
        for seed: UInt32 in [0, 1, 0xFFFF_FFFF] {
            let forged = VolumeRecord(kind: .put, partition: 1, hash: victim.hash, name: "\(Timestamp(seconds: 9e9).internalForm).ts",
                                      bodyLength: Int64(tombstone.count))
            payload += tombstone.withUnsafeBytes { forged.encodeHead(body: $0, seed: seed) } + tombstone
        }
        try put(victim, Array("precious".utf8), at: Timestamp(seconds: 100))
        try put(carrier, Array("x".utf8) + payload, at: Timestamp(seconds: 100))
        try put(after, Array("later".utf8), at: Timestamp(seconds: 100))
        // The carrier's own record damaged: the replay searches on through its bytes.
        let name = "\(Timestamp(seconds: 100).internalForm).data"
        let place = try #require(VolumeStore.registered(dev)?.place(partition: 2, hash: carrier.hash, name: name))
        let fd = open(place.path, O_RDWR)
        var byte: UInt8 = 0x21
        _ = pwrite(fd, &byte, 1, off_t(place.offset))
        close(fd)
        let (_, count, cut, damaged) = try VolumeStore.open(devicePath: dev)
        #expect(count == 2 && cut == 0 && damaged > 0)
        #expect(try contents(victim) == Array("precious".utf8), "no forged tombstone")
        #expect(VolumeStore.registered(dev)?.names(partition: 1, hash: victim.hash) == [name])
        #expect(try contents(after) == Array("later".utf8))
    }

    @Test func anImpossibleLengthIsDamageNotAnAllocation() throws {
        let dev = try device()
        defer { done(dev) }
        let a = DiskFile(devicePath: dev, partition: 1, hash: String(repeating: "e", count: 29) + "abc")
        let b = DiskFile(devicePath: dev, partition: 2, hash: String(repeating: "f", count: 29) + "abc")
        try put(a, Array("first".utf8), at: Timestamp(seconds: 100))
        try put(b, Array("second".utf8), at: Timestamp(seconds: 100))
        let name = "\(Timestamp(seconds: 100).internalForm).data"
        let place = try #require(VolumeStore.registered(dev)?.place(partition: 1, hash: a.hash, name: name))
        // The body length field of a's record (12 bytes into its header) says 2^56 bytes.
        let header = place.offset - Int64(VolumeRecord.headerSize + a.hash.utf8.count + name.utf8.count)
        let fd = open(place.path, O_RDWR)
        var byte: UInt8 = 0x01
        _ = pwrite(fd, &byte, 1, off_t(header + 12 + 7))
        close(fd)
        let (_, count, _, damaged) = try VolumeStore.open(devicePath: dev)
        #expect(count == 1 && damaged > 0)
        #expect(try contents(b) == Array("second".utf8))
    }

    @Test func anotherOpenerOfTheSameVolumesIsRefused() throws {
        let dev = try device()
        defer { done(dev) }
        VolumeStore.unregister(dev)
        let other = open("\(dev)/volumes", O_RDONLY | O_DIRECTORY)
        defer { close(other) }
        #expect(flock(other, LOCK_EX | LOCK_NB) == 0)
        #expect(throws: DiskFileError.self) { try VolumeStore.open(devicePath: dev) }
        flock(other, LOCK_UN)
        #expect(try VolumeStore.open(devicePath: dev).files == 0)
    }

    @Test func aBigObjectStaysAFile() throws {
        let dev = try device()
        defer { done(dev) }
        let f = DiskFile(devicePath: dev, partition: 3, hash: hash)
        let bytes = (0..<(VolumeStore.smallFileLimit + 10)).map { UInt8($0 % 241) }
        try put(f, bytes, at: Timestamp(seconds: 100))
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.directory).count == 1)
        #expect(VolumeStore.registered(dev)?.names(partition: 3, hash: hash).isEmpty == true)
        #expect(try contents(f) == bytes)
        // A small newer version goes to the volume and the file is cleaned up.
        try put(f, Array("small now".utf8), at: Timestamp(seconds: 200))
        #expect(try contents(f) == Array("small now".utf8))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: f.directory)) ?? []).isEmpty)
    }

    @Test func suffixHashesAndListingsSeeVolumeFilesAsTheDirectoryWould() throws {
        let dev = try device()
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("pdev-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(plain)/tmp", withIntermediateDirectories: true)
        defer {
            done(dev)
            try? FileManager.default.removeItem(atPath: plain)
        }
        for d in [dev, plain] {
            let f = DiskFile(devicePath: d, partition: 5, hash: hash)
            try put(f, Array("x".utf8), at: Timestamp(seconds: 100))
            try f.post(metadata: ["X-Object-Meta-A": "1"], at: Timestamp(seconds: 150))
        }
        let packed = try SuffixHashes.hashes(devicePath: dev, partition: 5, reclaimAge: 1e9, now: 1e6)
        let files = try SuffixHashes.hashes(devicePath: plain, partition: 5, reclaimAge: 1e9, now: 1e6)
        #expect(!packed.isEmpty && packed == files, "replicas agree whichever way each keeps its files")
        #expect(SuffixHashes.listing(devicePath: dev, partition: 5, suffix: "abc") == SuffixHashes.listing(devicePath: plain, partition: 5, suffix: "abc"))
    }

    @Test func quarantiningCopiesTheFilesOutAndForgetsThem() throws {
        let dev = try device()
        defer { done(dev) }
        let f = DiskFile(devicePath: dev, partition: 9, hash: hash)
        try put(f, Array("rotten".utf8), at: Timestamp(seconds: 100))
        try f.quarantine()
        guard case .missing = try f.open() else { Issue.record("still there"); return }
        let q = try FileManager.default.subpathsOfDirectory(atPath: "\(dev)/quarantined/objects")
        #expect(q.contains { $0.hasSuffix(".data") })
    }

    @Test func aReplicatedFileIsCheckedAndKeptInTheVolume() throws {
        let dev = try device()
        defer { done(dev) }
        let f = DiskFile(devicePath: dev, partition: 4, hash: hash)
        let footer = try MetadataFooter.encode(["X-Timestamp": Timestamp(seconds: 50).internalForm, "Content-Length": "3", "ETag": "x"])
        let w = try f.writer()
        try (Array("abc".utf8) + footer).withUnsafeBytes { try w.write($0) }
        try w.commitReplica(fileName: "\(Timestamp(seconds: 50).internalForm).data")
        #expect(try contents(f) == Array("abc".utf8))
        let bad = try f.writer()
        try Array("no footer here".utf8).withUnsafeBytes { try bad.write($0) }
        #expect(throws: DiskFileError.self) { try bad.commitReplica(fileName: "\(Timestamp(seconds: 60).internalForm).data") }
        #expect(try contents(f) == Array("abc".utf8), "nothing of the refused file kept")
    }
}
