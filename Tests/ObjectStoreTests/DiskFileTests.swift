import Foundation
import NimbusCore
import Testing
@testable import ObjectStore

@Suite struct DiskFileTests {
    func device() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dev-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(dir)/tmp", withIntermediateDirectories: true)
        return dir
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

    func readAll(_ r: ObjectReader) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(r.contentLength))
        _ = try out.withUnsafeMutableBytes { try r.read(into: $0, at: 0) }
        return out
    }

    @Test func writeThenReadReturnsSameBytesAndMetadata() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 3, hash: "0123456789abcdef0123456789abcdef")
        let bytes = (0..<100_000).map { UInt8($0 % 251) }
        try put(f, bytes, at: Timestamp(seconds: 100), meta: ["X-Object-Meta-Color": "blue"])
        guard case .present(let r) = try f.open() else { Issue.record("missing"); return }
        #expect(try readAll(r) == bytes)
        #expect(r.metadata["X-Object-Meta-Color"] == "blue")
        #expect(r.contentLength == 100_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dev)/tmp").isEmpty)
    }

    @Test func fullFourKiBOfMetadataIsKept() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 1, hash: "ffffffffffffffffffffffffffffffff")
        var meta: [String: String] = [:]
        for i in 0..<90 { meta["X-Object-Meta-K\(i)"] = String(repeating: "v", count: 40) }
        try put(f, [1, 2, 3], at: Timestamp(seconds: 1), meta: meta)
        guard case .present(let r) = try f.open() else { Issue.record("missing"); return }
        #expect(r.metadata.keys.filter { $0.hasPrefix("X-Object-Meta-") }.count == 90)
    }

    @Test func tombstoneHidesOlderDataAndCleansItUp() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 1, hash: "00000000000000000000000000000abc")
        try put(f, [1], at: Timestamp(seconds: 10))
        try f.delete(at: Timestamp(seconds: 20), name: "/a/c/o")
        guard case .deleted(let ts) = try f.open() else { Issue.record("not deleted"); return }
        #expect(ts == Timestamp(seconds: 20))
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.directory) == ["0000000020.00000.ts"])
    }

    @Test func postMetadataOverlaysUserMetadataOnly() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 1, hash: "11111111111111111111111111111111")
        try put(f, [1, 2], at: Timestamp(seconds: 10), meta: ["X-Object-Meta-Old": "x", "Content-Type": "a/b"])
        try f.post(metadata: ["X-Object-Meta-New": "y", "Content-Type": "c/d"], at: Timestamp(seconds: 11))
        guard case .present(let r) = try f.open() else { Issue.record("missing"); return }
        #expect(r.metadata["X-Object-Meta-Old"] == nil)
        #expect(r.metadata["X-Object-Meta-New"] == "y")
        #expect(r.metadata["Content-Type"] == "c/d")
        #expect(r.metadata["ETag"] != nil)
        #expect(r.dataTimestamp == Timestamp(seconds: 10))
    }

    @Test func aPreparedWriteSeesTheNewestAndCleansUpFromItsOwnListing() throws {
        let dev = try device()
        let file = DiskFile(devicePath: dev, partition: 1, hash: "aabbccddeeff00112233445566778899")
        try put(file, [1, 2, 3], at: Timestamp(seconds: 100))
        let prepared = try file.prepareWrite(open: true)
        #expect(prepared.newest?.0 == Timestamp(seconds: 100))
        #expect(prepared.newest?.isDeleted == false)
        guard case .present(let old)? = prepared.state else { Issue.record("the current object was not opened"); return }
        #expect(try readAll(old) == [1, 2, 3])
        let w = prepared.writer
        try [UInt8(9)].withUnsafeBytes { try w.write($0) }
        let etag = w.finalizeETag()
        try w.commit(metadata: ["X-Timestamp": Timestamp(seconds: 200).internalForm, "ETag": etag, "Content-Length": "1"],
                     timestamp: Timestamp(seconds: 200))
        // The older .data went with the write's cleanup, without a second listing's help.
        let names = try FileManager.default.contentsOfDirectory(atPath: file.directory)
        #expect(names == ["\(Timestamp(seconds: 200).internalForm).data"])
        guard case .present(let now) = try file.open() else { Issue.record("the new object is missing"); return }
        #expect(try readAll(now) == [9])
    }

    @Test func aPreparedWriteOfANewObjectFindsNothing() throws {
        let dev = try device()
        let file = DiskFile(devicePath: dev, partition: 1, hash: "00112233445566778899aabbccddeeff")
        let prepared = try file.prepareWrite(open: false)
        #expect(prepared.newest == nil)
        #expect(prepared.state == nil)
        prepared.writer.abort()
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(dev)/tmp")) == [])
    }

    @Test func abortedWriteLeavesNothing() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 1, hash: "22222222222222222222222222222222")
        let w = try f.writer()
        try [UInt8](repeating: 9, count: 1000).withUnsafeBytes { try w.write($0) }
        w.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dev)/tmp").isEmpty)
        guard case .missing = try f.open() else { Issue.record("object visible"); return }
    }

    @Test func truncatedFileIsReportedCorrupt() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        let f = DiskFile(devicePath: dev, partition: 1, hash: "33333333333333333333333333333333")
        try put(f, [UInt8](repeating: 1, count: 500), at: Timestamp(seconds: 10))
        let path = "\(f.directory)/0000000010.00000.data"
        truncate(path, 100)
        #expect(throws: DiskFileError.self) { try f.open() }
        try f.quarantine()
        #expect(!FileManager.default.fileExists(atPath: f.directory))
    }

    @Test func tempFilesOfDeadWritesAreCleanedAtStartup() throws {
        let dev = try device()
        defer { try? FileManager.default.removeItem(atPath: dev) }
        FileManager.default.createFile(atPath: "\(dev)/tmp/dead.tmp", contents: Data([1, 2, 3]))
        #expect(DeviceMaintenance.cleanTemp(devicePath: dev) == 1)
    }
}
