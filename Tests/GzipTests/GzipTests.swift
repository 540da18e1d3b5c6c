import Foundation
import Testing
@testable import Gzip

@Suite struct GzipTests {
    func inflate(_ bytes: [UInt8], step: Int) throws -> [UInt8] {
        let inflater = try GzipInflater()
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            out += try inflater.feed(Array(bytes[i..<min(bytes.count, i + step)]))
            i += step
        }
        return out
    }

    @Test func deflatedBytesInflateBackInAnyPieces() throws {
        var input: [UInt8] = []
        for i in 0..<300_000 { input.append(UInt8(truncatingIfNeeded: i * 31 / 7)) }
        let deflater = try GzipDeflater()
        var packed: [UInt8] = []
        var i = 0
        while i < input.count {
            packed += try deflater.feed(Array(input[i..<min(input.count, i + 10_000)]))
            i += 10_000
        }
        packed += try deflater.finish()
        #expect(packed.count < input.count)
        #expect(Array(packed.prefix(2)) == [0x1F, 0x8B])
        for step in [1, 333, 1 << 20] where step != 1 || packed.count < 50_000 {
            #expect(try inflate(packed, step: step) == input)
        }
    }

    @Test func readsTheGzipCommandsOutputAndConcatenatedMembers() throws {
        func gzip(_ text: String) throws -> [UInt8] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = ["-c"]
            let input = Pipe(), output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            input.fileHandleForWriting.write(Data(text.utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return Array(data)
        }
        let both = try gzip("first ") + gzip("second")
        #expect(String(decoding: try inflate(both, step: 5), as: UTF8.self) == "first second")
    }

    @Test func corruptDataIsAnError() throws {
        var packed = try GzipDeflater().feed(Array("some text to squeeze".utf8))
        let d = try GzipDeflater()
        packed = try d.feed(Array(repeating: 65, count: 1000)) + d.finish()
        packed[12] ^= 0xFF
        #expect(throws: CompressionError.self) { _ = try inflate(packed, step: 1000) }
    }
}

/// libdeflate members: concatenated, they are one gzip stream any reader decodes.
@Suite struct GzipMemberTests {
    @Test func concatenatedMembersInflateToTheWholeInput() throws {
        let c = try GzipMemberCompressor()
        let text = Array(String(repeating: "backup volume manifest signature ", count: 4000).utf8)
        var random = [UInt8](repeating: 0, count: 100_000)
        for i in random.indices { random[i] = UInt8.random(in: 0...255) }
        let stream = c.member(text) + c.member(random) + c.member(Array(text.prefix(10)))
        #expect(try GzipInflater().feed(stream) == text + random + Array(text.prefix(10)))
    }

    @Test func randomBytesAreStoredAndTextIsCompressed() {
        var random = [UInt8](repeating: 0, count: 65_536)
        for i in random.indices { random[i] = UInt8.random(in: 0...255) }
        let text = Array(String(repeating: "the quick brown fox ", count: 3000).utf8)
        #expect(random.withUnsafeBytes { !GzipMemberCompressor.looksCompressible($0) })
        #expect(text.withUnsafeBytes { GzipMemberCompressor.looksCompressible($0) })
        let c = try! GzipMemberCompressor()
        #expect(c.member(random).count > random.count)
        #expect(c.member(text).count < text.count / 10)
    }
}

/// A small compressed chunk can stand for gigabytes: bounded feeding yields it piece by piece.
@Suite struct BoundedInflateTests {
    func bomb(_ size: Int) throws -> [UInt8] {
        let deflater = try GzipDeflater(level: 9)
        var packed = try deflater.feed([UInt8](repeating: 0, count: size))
        packed += try deflater.finish()
        return packed
    }

    @Test func outputPerCallStaysNearTheBoundAndNothingIsLost() throws {
        let packed = try bomb(50 << 20)
        #expect(packed.count < 100 << 10)
        let inflater = try GzipInflater()
        var rest = packed[...]
        var total = 0
        var largest = 0
        var calls = 0
        while !rest.isEmpty || inflater.hasPendingOutput {
            let (out, consumed) = try rest.withUnsafeBytes { try inflater.feed($0, maxOutput: 1 << 20) }
            rest = rest.dropFirst(consumed)
            #expect(out.allSatisfy { $0 == 0 })
            total += out.count
            largest = max(largest, out.count)
            calls += 1
            if out.isEmpty && consumed == 0 { break }
        }
        #expect(total == 50 << 20)
        #expect(largest <= (1 << 20) + (64 << 10))
        #expect(calls >= 50)
    }

    @Test func outputOwedAfterTheLastInputIsStillDelivered() throws {
        let packed = try bomb(3 << 20)
        let inflater = try GzipInflater()
        var out = try inflater.feed(packed)
        #expect(out.count == 3 << 20)
        out = []
        // The unbounded call drains everything owed before it returns.
        #expect(!inflater.hasPendingOutput)
    }
}
