import Foundation
import NimbusCore
import Testing
@testable import DBBroker

@Suite struct ContainerBrokerTests {
    func makeBroker(_ names: [String]) throws -> (ContainerBroker, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cb-\(UUID())").path
        let path = "\(dir)/c.db"
        try ContainerBroker.create(path: path, account: "a", container: "c", putTimestamp: Timestamp(seconds: 1), createdAt: Timestamp(seconds: 1))
        let b = try ContainerBroker(path: path)
        try b.merge(names.enumerated().map { ObjectRecord(name: $1, createdAt: Timestamp(seconds: Double(10 + $0)), size: 10,
                                                          contentType: "text/plain", etag: "e") })
        return (b, dir)
    }

    func names(_ entries: [ListingEntry<ObjectRecord>]) -> [String] {
        entries.map { e in
            switch e {
            case .item(let o): return o.name
            case .subdir(let s): return s
            }
        }
    }

    let sample = ["a", "b/1", "b/2", "b/c/3", "c", "d/4", "dz", "e"]

    @Test func closingKeepsTheWALFilesAndTheRowsReadBackFromThem() throws {
        let path: String, dir: String
        do {
            let (first, d) = try makeBroker(["kept"])
            (path, dir) = (first.path, d)
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func inode(_ p: String) -> ino_t? {
            var st = stat()
            return stat(p, &st) == 0 ? st.st_ino : nil
        }
        // Each use opens and closes a connection: the -wal and -shm files stay (no new inodes)
        // and what was committed is there for the next one.
        var seen: [ino_t?] = []
        for i in 0..<3 {
            do {
                let b = try ContainerBroker(path: path)
                try b.merge([ObjectRecord(name: "n\(i)", createdAt: Timestamp(seconds: Double(100 + i)), size: 1, contentType: "t", etag: "e")])
            }
            #expect(FileManager.default.fileExists(atPath: path + "-wal") && FileManager.default.fileExists(atPath: path + "-shm"))
            seen.append(inode(path + "-wal"))
        }
        #expect(Set(seen.compactMap { $0 }).count == 1, "the same WAL file each time")
        #expect(try ContainerBroker(path: path).info().objectCount == 4)
    }

    @Test func listsInNameOrderWithLimitAndMarkers() throws {
        let (b, dir) = try makeBroker(sample)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(names(try b.list(ListingQuery())) == sample)
        #expect(names(try b.list(ListingQuery(limit: 3))) == ["a", "b/1", "b/2"])
        #expect(names(try b.list(ListingQuery(marker: "b/2"))) == ["b/c/3", "c", "d/4", "dz", "e"])
        #expect(names(try b.list(ListingQuery(marker: "b", endMarker: "d"))) == ["b/1", "b/2", "b/c/3", "c"])
        #expect(names(try b.list(ListingQuery(reverse: true))) == sample.reversed())
    }

    @Test func delimiterRollsUpSubdirectories() throws {
        let (b, dir) = try makeBroker(sample)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(names(try b.list(ListingQuery(delimiter: "/"))) == ["a", "b/", "c", "d/", "dz", "e"])
        #expect(names(try b.list(ListingQuery(prefix: "b/", delimiter: "/"))) == ["b/1", "b/2", "b/c/"])
        #expect(names(try b.list(ListingQuery(delimiter: "/", reverse: true))) == ["e", "dz", "d/", "c", "b/", "a"])
        #expect(names(try b.list(ListingQuery(limit: 2, marker: "b/", delimiter: "/"))) == ["c", "d/"])
    }

    @Test func newerRowWinsAndCountersFollow() throws {
        let (b, dir) = try makeBroker(["x"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try b.merge([ObjectRecord(name: "x", createdAt: Timestamp(seconds: 5), size: 999, contentType: "t", etag: "old")])
        #expect(try b.info().bytesUsed == 10)
        try b.merge([ObjectRecord(name: "x", createdAt: Timestamp(seconds: 50), size: 7, contentType: "t", etag: "new")])
        #expect(try b.info().bytesUsed == 7)
        #expect(try b.info().objectCount == 1)
        try b.merge([ObjectRecord(name: "x", createdAt: Timestamp(seconds: 60), size: 0, contentType: "", etag: "", deleted: true)])
        #expect(try b.info().objectCount == 0)
        #expect(try b.info().bytesUsed == 0)
        #expect(try b.list(ListingQuery()).isEmpty)
    }

    @Test func metadataMergesByTimestampAndEmptyValueDeletes() throws {
        let (b, dir) = try makeBroker([])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try b.updateMetadata(["X-Container-Meta-Color": "blue"], at: Timestamp(seconds: 5))
        try b.updateMetadata(["X-Container-Meta-Color": "red"], at: Timestamp(seconds: 3))
        #expect(try b.info().metadata.visible.first?.1 == "blue")
        try b.updateMetadata(["X-Container-Meta-Color": ""], at: Timestamp(seconds: 9))
        #expect(try b.info().metadata.visible.isEmpty)
    }

    @Test func deletedContainerRevivesOnNewerPut() throws {
        let (b, dir) = try makeBroker([])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try b.markDeleted(Timestamp(seconds: 20))
        #expect(try b.info().isDeleted)
        try b.updatePutTimestamp(Timestamp(seconds: 30))
        #expect(try !b.info().isDeleted)
    }
}

@Suite struct AccountBrokerTests {
    @Test func containerReportsSumIntoAccountTotals() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ab-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/a.db"
        try AccountBroker.create(path: path, account: "a", putTimestamp: Timestamp(seconds: 1), createdAt: Timestamp(seconds: 1))
        let b = try AccountBroker(path: path)
        try b.merge([ContainerRecord(name: "c1", putTimestamp: Timestamp(seconds: 2), deleteTimestamp: .zero, objectCount: 3, bytesUsed: 30),
                     ContainerRecord(name: "c2", putTimestamp: Timestamp(seconds: 2), deleteTimestamp: .zero, objectCount: 1, bytesUsed: 5)])
        var info = try b.info()
        #expect(info.containerCount == 2 && info.objectCount == 4 && info.bytesUsed == 35)
        try b.merge([ContainerRecord(name: "c2", putTimestamp: Timestamp(seconds: 2), deleteTimestamp: Timestamp(seconds: 3), objectCount: 0, bytesUsed: 0)])
        info = try b.info()
        #expect(info.containerCount == 1 && info.objectCount == 3)
    }
}

@Suite struct CombiningMarkListingTests {
    @Test func delimiterFindsASlashFollowedByACombiningMark() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cm-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/c.db"
        try ContainerBroker.create(path: path, account: "a", container: "c", putTimestamp: Timestamp(seconds: 1), createdAt: Timestamp(seconds: 1))
        let b = try ContainerBroker(path: path)
        try b.merge(["d/\u{903}x", "d/\u{903}y", "e"].map { ObjectRecord(name: $0, createdAt: Timestamp(seconds: 2), size: 1, contentType: "t", etag: "e") })
        let listed = try b.list(ListingQuery(delimiter: "/")).map { e -> String in
            switch e {
            case .item(let o): return o.name
            case .subdir(let s): return s
            }
        }
        #expect(listed == ["d/", "e"])
        #expect(try b.list(ListingQuery(prefix: "d/")).count == 2)
    }
}

@Suite struct ReplicaSyncTests {
    func broker(_ tag: String) throws -> ContainerBroker {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rs-\(tag)-\(UUID())/c.db").path
        try ContainerBroker.create(path: path, account: "a", container: "c", putTimestamp: Timestamp(seconds: 1), createdAt: Timestamp(seconds: 1))
        return try ContainerBroker(path: path)
    }

    /// Sends `from`'s rows newer than `to`'s sync point, as the DB replicator does.
    func push(_ from: ContainerBroker, to: ContainerBroker) throws {
        let summary = try from.replicaSummary()
        try to.mergeReplicaSummary(summary)
        var point = try to.incomingSyncPoint(summary.id)
        while point < summary.maxRow {
            let (records, last) = try from.rows(after: point, limit: 2)
            try to.mergeReplica(ReplicaRows(senderID: summary.id, lastRow: last, records: records))
            point = last
        }
    }

    @Test func replicasConvergeOnRowsDeletionsAndMetadata() throws {
        let a = try broker("a"), b = try broker("b")
        try a.merge((0..<5).map { ObjectRecord(name: "o\($0)", createdAt: Timestamp(seconds: Double(10 + $0)), size: 1, contentType: "t", etag: "e") })
        try b.merge([ObjectRecord(name: "o1", createdAt: Timestamp(seconds: 50), size: 0, contentType: "", etag: "", deleted: true),
                     ObjectRecord(name: "x", createdAt: Timestamp(seconds: 60), size: 7, contentType: "t", etag: "e")])
        try a.updateMetadata(["X-Container-Meta-Color": "blue"], at: Timestamp(seconds: 70))
        try push(a, to: b)
        try push(b, to: a)
        for broker in [a, b] {
            let info = try broker.info()
            #expect(info.objectCount == 5)
            #expect(info.bytesUsed == 11)
            #expect(info.metadata.entries["X-Container-Meta-Color"]?.value == "blue")
        }
        // Nothing new: the sync points say so and no rows move.
        let before = try b.replicaSummary().maxRow
        try push(a, to: b)
        #expect(try b.replicaSummary().maxRow == before)
    }
}
