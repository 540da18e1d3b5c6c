import Foundation

/// `nimbus-fuzz TARGET [libFuzzer options] [CORPUS…]` — built by `scripts/fuzz` with
/// `-D NIMBUS_FUZZ`, coverage instrumentation and AddressSanitizer, it runs libFuzzer on one
/// target. An ordinary build replays inputs instead: `nimbus-fuzz TARGET FILE|DIR…` (every seed
/// of `Tests/fuzz/TARGET` must pass through without a crash).
@main
struct FuzzMain {
    /// Set once from the arguments before libFuzzer starts calling (which it does on this thread).
    nonisolated(unsafe) static var target: FuzzTarget = .http

    static func main() {
        var args = CommandLine.arguments
        guard args.count >= 2, let target = FuzzTarget(rawValue: args[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: nimbus-fuzz TARGET [inputs…]; targets: \(names)\n".utf8))
            exit(64)
        }
        Self.target = target
        args.remove(at: 1)
        #if NIMBUS_FUZZ
        exit(runLibFuzzer(args))
        #else
        var count = 0
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            let files = isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        FileHandle.standardOutput.write(Data("\(target.rawValue): \(count) inputs replayed\n".utf8))
        #endif
    }
}

#if NIMBUS_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// libFuzzer's entry point (its own `main` is linked in but ours, which picks the target, runs).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzMain.target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Hands the remaining arguments to libFuzzer's driver.
func runLibFuzzer(_ args: [String]) -> Int32 {
    var argc = Int32(args.count)
    var cStrings: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    return cStrings.withUnsafeMutableBufferPointer { buffer in
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
    }
}
#endif
