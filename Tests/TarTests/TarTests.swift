import Foundation
import Testing
@testable import Tar

@Suite struct TarTests {
    /// Feeds `bytes` in pieces of `step` and collects members with their data.
    func read(_ bytes: [UInt8], step: Int) throws -> [(TarEntry, [UInt8])] {
        let reader = TarReader()
        var out: [(TarEntry, [UInt8])] = []
        var current: TarEntry?
        var data: [UInt8] = []
        var i = 0
        while i < bytes.count {
            for e in try reader.feed(bytes[i..<min(bytes.count, i + step)]) {
                switch e {
                case .entry(let entry): current = entry; data = []
                case .data(let d): data += d
                case .entryEnd: out.append((current!, data))
                case .end: break
                }
            }
            i += step
        }
        try reader.finish()
        return out
    }

    func archive(_ members: [(TarEntry, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (e, d) in members {
            out += TarWriter.header(for: e) + d + TarWriter.padding(for: Int64(d.count))
        }
        return out + TarWriter.endOfArchive
    }

    @Test func writtenArchiveReadsBackWithLongAndNonASCIINames() throws {
        let long = String(repeating: "d/", count: 80) + "file.txt"
        var link = TarEntry(path: "snapshot/link", type: .symlink, mode: 0o777)
        link.linkName = Array("target with spaces".utf8)
        let members: [(TarEntry, [UInt8])] = [
            (TarEntry(path: "snapshot/", type: .directory, mode: 0o755, mtime: 1_700_000_000), []),
            (TarEntry(path: "snapshot/caf\u{e9} \u{1F600}.txt", size: 5, mtime: 1_700_000_001), Array("hello".utf8)),
            (TarEntry(path: long, size: 1000, mtime: 1_700_000_002), [UInt8](repeating: 7, count: 1000)),
            (TarEntry(path: [0x66, 0xFF, 0x67], size: 0), []),
            (link, []),
        ]
        let bytes = archive(members)
        for step in [1, 7, 512, 100_000] {
            let got = try read(bytes, step: step)
            #expect(got.count == members.count)
            for (g, m) in zip(got, members) {
                #expect(g.0.path == m.0.path)
                #expect(g.0.type == m.0.type)
                #expect(g.0.mode == m.0.mode)
                #expect(g.0.mtime == m.0.mtime)
                #expect(g.0.linkName == m.0.linkName)
                #expect(g.1 == m.1)
            }
        }
    }

    @Test func archiveWithoutEndBlocksStillReads() throws {
        let members: [(TarEntry, [UInt8])] = [(TarEntry(path: "a", size: 3), [1, 2, 3])]
        var bytes = archive(members)
        bytes.removeLast(TarWriter.endOfArchive.count + 509)  // no end marker, no padding
        let got = try read(bytes, step: 64)
        #expect(got.count == 1)
        #expect(got[0].1 == [1, 2, 3])
    }

    @Test func truncatedMemberAndBadChecksumAreErrors() throws {
        let bytes = archive([(TarEntry(path: "a", size: 3000), [UInt8](repeating: 1, count: 3000))])
        #expect(throws: TarError.self) { _ = try read(Array(bytes.prefix(1000)), step: 1000) }
        var bad = bytes
        bad[0] ^= 1
        #expect(throws: TarError.self) { _ = try read(bad, step: 512) }
    }

    @Test func readsGNUTarArchivesWithLongNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let long = String(repeating: "x", count: 150)
        try FileManager.default.createDirectory(atPath: "\(dir)/src/\(long)", withIntermediateDirectories: true)
        try Data("content".utf8).write(to: URL(fileURLWithPath: "\(dir)/src/\(long)/\(long).txt"))
        for format in ["gnu", "pax", "ustar"] where format != "ustar" {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
            p.arguments = ["--format=\(format)", "-cf", "\(dir)/a-\(format).tar", "-C", "\(dir)/src", "."]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a-\(format).tar")))
            let got = try read(bytes, step: 4096)
            let file = got.first { $0.0.type == .regular }
            #expect(file?.0.name == "./\(long)/\(long).txt")
            #expect(file?.1 == Array("content".utf8))
        }
    }
}

/// Archives from clients (bulk extraction) must be refused, never trap or grow without bound.
@Suite struct TarHostileInputTests {
    func block(type: UInt8, size: [UInt8]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 512)
        for (i, c) in "evil".utf8.enumerated() { b[i] = c }
        for (i, c) in size.enumerated() { b[124 + i] = c }
        b[156] = type
        for (i, c) in "ustar\0".utf8.enumerated() { b[257 + i] = c }
        for i in 148..<156 { b[i] = 32 }
        let sum = b.reduce(0) { $0 + Int($1) }
        for (i, c) in String(sum, radix: 8).utf8.enumerated() { b[148 + i] = c }
        return b
    }

    @Test func paxRecordLengthNearIntMaxIsAnError() throws {
        let payload = Array("6 a=b\n9223372036854775807 a=b\n".utf8)
        #expect(throws: TarError.self) { try TarReader.parsePax(payload) }
    }

    @Test func negativeBase256SizeIsAnError() throws {
        var size = [UInt8](repeating: 0xFF, count: 12)
        size[0] = 0xFF
        let reader = TarReader()
        #expect(throws: TarError.self) { _ = try reader.feed(block(type: UInt8(ascii: "0"), size: size)[...]) }
    }

    @Test func base256SizePastInt64IsAnError() throws {
        var size = [UInt8](repeating: 0x7F, count: 12)
        size[0] = 0x80
        let reader = TarReader()
        #expect(throws: TarError.self) { _ = try reader.feed(block(type: UInt8(ascii: "0"), size: size)[...]) }
    }
}
