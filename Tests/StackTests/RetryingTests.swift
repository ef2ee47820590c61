import Foundation
import Testing
@testable import Stack

/// The stack layer's one retry loop, on its own: limits, what it ends with, notes, stops.
@Suite struct RetryingTests {
    struct Busy: Error, Equatable { var attempt: Int }
    struct Broken: Error {}

    @Test func anAttemptLimitEndsWithTheLastRetryableError() async throws {
        let counter = Counter()
        let loop = Retrying(.attempts(4), delay: Retrying.every(0))
        await #expect(throws: Busy(attempt: 4)) {
            try await loop.run(retryingOn: { $0 is Busy }) { () async throws -> Int in throw Busy(attempt: counter.next()) }
        }
        #expect(counter.count == 4)
    }

    @Test func anErrorNotRetryableEndsTheLoopAtOnce() async throws {
        let counter = Counter()
        await #expect(throws: Broken.self) {
            try await Retrying(.attempts(4), delay: Retrying.every(0)).run(retryingOn: { $0 is Busy }) { () async throws -> Int in
                _ = counter.next()
                throw Broken()
            }
        }
        #expect(counter.count == 1)
    }

    @Test func aSuccessAfterRetriesIsReturned() async throws {
        let counter = Counter()
        let value = try await Retrying(.attempts(5), delay: Retrying.every(0)).run(retryingOn: { $0 is Busy }) {
            let n = counter.next()
            if n < 3 { throw Busy(attempt: n) }
            return "made at \(n)"
        }
        #expect(value == "made at 3" && counter.count == 3)
    }

    /// A poll that never finds gives its fallback value; notes are said before each wait only
    /// (none when giving up), so a user never reads "waiting" for a wait that does not come.
    @Test func aPollEndsWithItsFallbackAndNotesPrecedeEachWait() async throws {
        let counter = Counter()
        let loop = Retrying(.attempts(3), delay: Retrying.every(0), note: { counter.note($0) })
        let found: String? = try await loop.run { attempt in
            _ = counter.next()
            return .again(note: "look \(attempt.number) found nothing", last: .success(nil))
        }
        #expect(found == nil && counter.count == 3)
        #expect(counter.notes == ["look 1 found nothing", "look 2 found nothing"])
    }

    /// A time limit: attempts until the budget has passed, the last wait shortened so the last
    /// attempt comes at the deadline (not a whole delay early, not after it by a delay).
    @Test func aTimeLimitMakesTheLastAttemptAtTheDeadline() async throws {
        let counter = Counter()
        let budget = 0.2
        var lastElapsed = 0.0
        await #expect(throws: Busy.self) {
            try await Retrying(.seconds(budget), delay: Retrying.every(0.08)).run { attempt -> Retrying.Step<Void> in
                lastElapsed = attempt.elapsed
                return .again(throwing: Busy(attempt: counter.next()))
            }
        }
        // Waits of 0.08, 0.08, then what is left (0.04 or less): at most 4 attempts, and sleeps
        // never end early, so the last attempt starts at or after the deadline.
        #expect(lastElapsed >= budget)
        #expect((2...4).contains(counter.count), "\(counter.count) attempts")
    }

    @Test func delaysDoubleUpToTheirCap() {
        let delay = Retrying.doubling(from: 0.25, upTo: 1)
        #expect((1...5).map(delay) == [0.25, 0.5, 1, 1, 1])
        #expect(delay(10_000) == 1)  // no overflow however long it runs
    }

    /// Ctrl-C during a wait: the wait (here 30 s) ends at once with `StoppedWaiting` and no
    /// attempt follows (the first SIGINT means "no new call").
    @Test func aStopEndsTheWaitAndNoAttemptFollows() async throws {
        let counter = Counter()
        let stop = StopSignal()
        let started = Date()
        await #expect(throws: StoppedWaiting.self) {
            try await Retrying(.seconds(60), delay: Retrying.every(30), stop: stop).run { _ -> Retrying.Step<Void> in
                stop.request()  // as the signal handler does while this attempt's call is in flight
                return .again(throwing: Busy(attempt: counter.next()))
            }
        }
        #expect(counter.count == 1)
        #expect(Date().timeIntervalSince(started) < 30, "the wait ran its course")
    }

    /// Ctrl-C in the middle of a long wait (another task, as the signal handler is): it ends
    /// within a tick, not at the wait's end.
    @Test func aStopDuringAWaitEndsItPromptly() async throws {
        let stop = StopSignal()
        let started = Date()
        let stopper = Task {
            try await Task.sleep(nanoseconds: 200_000_000)
            stop.request()
        }
        await #expect(throws: StoppedWaiting.self) { try await stop.pause(30) }
        _ = try await stopper.value
        #expect(Date().timeIntervalSince(started) < 10, "the 30 s wait was not cut short")
    }

    /// Waits of a few nanoseconds (a time limit's last, shortened wait): the deadline passing
    /// between two clock reads once made `until - now` underflow and trap.
    @Test func tinyWaitsNeverTrap() async throws {
        let stop = StopSignal()
        for n in 0..<20_000 { try await stop.pause(Double(n % 400) * 1e-9) }
        await #expect(throws: StoppedWaiting.self) {
            stop.request()
            try await stop.pause(0)  // a stop is seen even by a zero wait
        }
    }

    @Test func sleepLengthsAreClampedNotTrapped() {
        #expect(Retrying.nanoseconds(-1) == 0 && Retrying.nanoseconds(.nan) == 0)
        #expect(Retrying.nanoseconds(.infinity) == 86_400_000_000_000)
        #expect(Retrying.nanoseconds(0.25) == 250_000_000)
    }
}
