import Dispatch
import Foundation

/// SIGHUP handling (log reopen), on a dispatch source so it runs outside signal context.
enum SignalHandlers {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func onHangup(_ action: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
        sources.append(source)  // only touched at start-up, before any concurrency
    }
}
