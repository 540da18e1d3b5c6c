import Foundation
import Testing
@testable import Backup

/// duplicity's include/exclude rules: first match decides, unmatched paths are included.
@Suite struct SelectionTests {
    @Test func excludeGlobCoversEverythingBelowAMatch() throws {
        let s = try Selection([.exclude("**/*.tmp"), .exclude("/data/cache")], source: "/data")
        #expect(!s.includes("a.tmp", isDirectory: false))
        #expect(!s.includes("x/y/z.tmp", isDirectory: false))
        #expect(s.includes("x/y/z.txt", isDirectory: false))
        #expect(!s.includes("cache", isDirectory: true))
        #expect(!s.includes("cache/deep/file", isDirectory: false))
        #expect(s.includes("cached", isDirectory: false))
    }

    @Test func includeThenExcludeEverythingKeepsOnlyTheIncludedPathsAndTheirParents() throws {
        let s = try Selection([.include("/home/u/docs/work"), .exclude("**")], source: "/home/u")
        #expect(s.includes("docs", isDirectory: true))
        #expect(s.includes("docs/work", isDirectory: true))
        #expect(s.includes("docs/work/report.odt", isDirectory: false))
        #expect(!s.includes("docs/other", isDirectory: true))
        #expect(!s.includes("music", isDirectory: true))
        #expect(!s.includes("docs", isDirectory: false))
    }

    @Test func orderDecides() throws {
        let a = try Selection([.include("src/keep.log"), .exclude("**/*.log")], source: "/r")
        #expect(a.includes("src/keep.log", isDirectory: false))
        #expect(!a.includes("src/other.log", isDirectory: false))
        let b = try Selection([.exclude("**/*.log"), .include("src/keep.log")], source: "/r")
        #expect(!b.includes("src/keep.log", isDirectory: false))
    }

    @Test func singleStarAndQuestionMarkStayInOneComponentAndClassesWork() throws {
        let s = try Selection([.exclude("*/b?.txt"), .exclude("n[0-9]"), .exclude("m[!a-c]")], source: "/r")
        #expect(!s.includes("a/b1.txt", isDirectory: false))
        #expect(s.includes("a/c/b1.txt", isDirectory: false))
        #expect(s.includes("a/b12.txt", isDirectory: false))
        #expect(!s.includes("n7", isDirectory: false))
        #expect(s.includes("nx", isDirectory: false))
        #expect(!s.includes("md", isDirectory: false))
        #expect(s.includes("mb", isDirectory: false))
    }

    @Test func absolutePatternOutsideTheSourceIsAnError() {
        #expect(throws: BackupError.self) { try Selection([.exclude("/elsewhere/x")], source: "/data") }
    }

    @Test func filelistLinesCarryTheirOwnSign() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# comment\n+ /r/keep\n\n/r/drop\n- **/*.o\n".write(toFile: path, atomically: true, encoding: .utf8)
        let rules = try Selection.filelist(path, include: false)
        #expect(rules == [.include("/r/keep"), .exclude("/r/drop"), .exclude("**/*.o")])
    }
}
