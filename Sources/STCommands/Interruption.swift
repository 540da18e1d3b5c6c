import Dispatch
import Foundation
import Synchronization

/// Ctrl-C (SIGINT) and SIGTERM in `st`: one line saying what the interrupted command left and
/// how to go on, then exit 130 (128 + SIGINT) as a shell expects.
enum Interruption {
    /// What the running command tells the user when it is cut short.
    static let advice = Mutex("interrupted")
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []  // set once at start-up, before any task runs

    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let text = advice.withLock { $0 }
                FileHandle.standardError.write(Data("\nst: \(text)\n".utf8))
                exit(sig == SIGINT ? 130 : 143)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Sets the line an interruption prints from now on.
    static func advise(_ text: String) { advice.withLock { $0 = text } }
}
