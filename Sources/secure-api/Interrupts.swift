import Dispatch
import Foundation
import Stack

/// Ctrl-C and SIGTERM during create/delete, as Terraform does it: the first signal stops new
/// calls and waits (at most `graceSeconds`, counted down) for those in flight, whose outcome
/// the journal records; the command then says how to resume and exits 128+signal. A second
/// signal, or the end of the wait, exits at once: the write-ahead journal keeps that safe.
final class Interrupts: @unchecked Sendable {
    static let graceSeconds = 30

    let stop = StopSignal()
    private let command: String
    private let queue = DispatchQueue(label: "secure-api.signals")
    private var sources: [DispatchSourceSignal] = []
    private var timer: DispatchSourceTimer?
    private var received: Int32?  // touched only on `queue`
    private var beforeHardExit: [@Sendable () -> Void] = []  // touched only on `queue`

    init(command: String) { self.command = command }

    func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)  // delivered to the dispatch source instead of killing the process
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { self.handle(sig) }  // lives as long as the process
            source.resume()
            sources.append(source)
        }
    }

    /// Runs on the signal queue just before a second signal (or the end of the wait) exits at
    /// once: releases the remote state's lock (each registered cleanup, in order).
    func onHardExit(_ cleanup: @escaping @Sendable () -> Void) { queue.sync { beforeHardExit.append(cleanup) } }

    /// 130 (SIGINT) or 143 (SIGTERM) once a signal arrived.
    var exitCode: Int32? { queue.sync { received.map { 128 + $0 } } }

    private func handle(_ sig: Int32) {
        if received != nil {
            Console.info("\(Self.name(sig)) again: stopping at once; the state records every call sent, run `secure-api \(command)` again to resume")
            Self.runAtOnce(beforeHardExit)
            _exit(128 + sig)
        }
        received = sig
        stop.request()
        let inFlight = stop.inFlight
        Console.info("\(Self.name(sig)) received: starting no new calls"
                     + (inFlight.isEmpty ? "" : "; waiting up to \(Self.graceSeconds) s for \(inFlight.count) in flight to finish")
                     + " (\(sig == SIGINT ? "Ctrl-C" : "signal") again to stop at once)")
        var left = Self.graceSeconds
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler {
            left -= 1
            let inFlight = self.stop.inFlight
            if inFlight.isEmpty { return }
            if left <= 0 {
                Console.info("still in flight after \(Self.graceSeconds) s: \(inFlight.joined(separator: ", ")); stopping at once; run `secure-api \(self.command)` again to resume")
                Self.runAtOnce(self.beforeHardExit)
                _exit(128 + sig)
            }
            Console.info("  waiting for \(inFlight.joined(separator: ", ")): \(left) s left")
        }
        timer.resume()
        self.timer = timer
    }

    /// The cleanups side by side: each waits for its own (bounded) release, not for the others'.
    static func runAtOnce(_ cleanups: [@Sendable () -> Void]) {
        DispatchQueue.concurrentPerform(iterations: cleanups.count) { cleanups[$0]() }
    }

    static func name(_ sig: Int32) -> String { sig == SIGINT ? "interrupt (SIGINT)" : "SIGTERM" }
}
