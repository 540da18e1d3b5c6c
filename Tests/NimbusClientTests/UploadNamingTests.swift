import Foundation
import NIOPosix
@testable import NimbusClient
import Testing

/// Object names as python-swiftclient's `swift upload` makes them (the script test compares
/// whole listings with the real one; these pin the rules).
@Suite struct UploadNamingTests {
    /// A scratch tree: a.txt, sub/b, empty/, onlydirs/inner/, link-to-file, link-to-dir, dangling.
    func tree() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("naming-\(UUID().uuidString)").path
        let fm = FileManager.default
        for d in ["tree/sub", "tree/empty", "tree/onlydirs/inner", "other"] {
            try fm.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        for f in ["tree/a.txt", "tree/sub/b", "other/o"] { try Data("x".utf8).write(to: URL(fileURLWithPath: "\(root)/\(f)")) }
        try fm.createSymbolicLink(atPath: "\(root)/tree/link-to-file", withDestinationPath: "a.txt")
        try fm.createSymbolicLink(atPath: "\(root)/tree/link-to-dir", withDestinationPath: "../other")
        try fm.createSymbolicLink(atPath: "\(root)/tree/dangling", withDestinationPath: "nowhere")
        return root
    }

    /// Walks without changing the working directory (tests share the process).
    func names(_ path: String) -> (objects: [String], markers: [String], problems: [String]) {
        let w = UploadNaming.walk(path)
        return (w.entries.filter { !$0.isDirectoryMarker }.map(\.object).sorted(),
                w.entries.filter(\.isDirectoryMarker).map(\.object).sorted(), w.problems)
    }

    @Test func theLeadingDotSlashAndSlashesAreTakenOff() {
        #expect(UploadNaming.stripped("./a") == "a")
        #expect(UploadNaming.stripped("///etc/hosts") == "etc/hosts")
        #expect(UploadNaming.stripped("././a") == "./a")  // one ./ only, as swiftclient
        #expect(UploadNaming.stripped("../x") == "../x")
    }

    @Test func aDirectoryIsWalkedLikeOsWalk() throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let top = String(root.dropFirst()) + "/tree"
        for typed in ["\(root)/tree", "\(root)/tree/", "\(root)//tree"] {
            let n = names(typed)
            let p = typed.hasSuffix("//tree") ? String(root.dropFirst()) + "//tree" : top
            #expect(n.objects == ["\(p)/a.txt", "\(p)/link-to-file", "\(p)/sub/b"])
            #expect(n.markers == ["\(p)/empty", "\(p)/onlydirs/inner"])
            #expect(n.problems.count == 1 && n.problems[0].contains("dangling"))
        }
        #expect(names("\(root)/tree/empty").markers == [top + "/empty"])
        #expect(names("\(root)/tree/a.txt").objects == [top + "/a.txt"])
        #expect(names("\(root)/nothing").problems.first?.contains("no such file") == true)
    }

    @Test func objectNameReplacesTheFirstOccurrenceOfTheTypedPath() throws {
        let e = UploadNaming.Entry(path: "tree/a.txt", rawName: "tree/a.txt", isDirectoryMarker: false)
        #expect(e.renamed(replacing: "tree", with: "pre").object == "pre/a.txt")
        // swiftclient's str.replace: a trailing slash in the typed path is replaced too.
        #expect(e.renamed(replacing: "tree/", with: "pre").object == "prea.txt")
    }

    @Test func downloadRefusesNamesThatWouldLeaveTheOutputDirectory() throws {
        var o = Downloader.Options()
        o.outputDirectory = "/tmp/out"
        let client = SwiftClient(credentials: .init(), group: MultiThreadedEventLoopGroup.singleton)
        let d = Downloader(client: client, options: o, progress: TransferProgress(enabled: false))
        func path(_ object: String) throws -> String {
            try d.localPath(Downloader.Job(container: "c", object: object, bytes: 0, isDirectory: false))
        }
        #expect(try path("a/b") == "/tmp/out/a/b")
        #expect(try path("/etc/passwd") == "/tmp/out/etc/passwd")
        #expect(try path("a..b/..c") == "/tmp/out/a..b/..c")
        for bad in ["../x", "a/../../x", "a/..", "..", "/"] {
            #expect(throws: ClientError.self) { try path(bad) }
        }
    }
}
