import Dispatch
import Foundation

/// The stack layer's one bounded retry loop: every wait-and-try-again above the client's own
/// retries (IAM propagation, a Lambda function settling, a busy function's permission, S3's
/// conditional-write conflicts, the executor's create attempts and its looks for a lost create).
/// Each use says what it waits for, how long, and what is thrown when the limit is reached;
/// the loop owns the counting, the clock and the sleeping. A wait given a stop signal wakes
/// early and throws `StoppedWaiting` once a stop is requested, so no call starts after Ctrl-C.
struct Retrying: Sendable {
    enum Limit: Sendable {
        /// At most this many attempts (at least one is always made).
        case attempts(Int)
        /// Attempts until this many seconds have passed since the first; the last wait is
        /// shortened to end at the deadline, so the last attempt comes at it, not before.
        case seconds(Double)
    }

    /// Where one attempt stands, for notes and give-up errors.
    struct Attempt: Sendable {
        /// 1 for the first attempt.
        let number: Int
        let started: UInt64
        /// Seconds since the first attempt started, read now (after this attempt's call, when
        /// asked in its error handling).
        var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
    }

    /// What one attempt decided.
    enum Step<T> {
        case done(T)
        /// Try again after the delay, saying NOTE first (if any); when the limit is reached,
        /// the loop ends with LAST instead (a value, or the error to throw).
        case again(note: String? = nil, last: Result<T, any Error>)

        static func again(throwing error: any Error, note: String? = nil) -> Step { .again(note: note, last: .failure(error)) }
    }

    let limit: Limit
    /// Seconds to wait before attempt n + 1, given n.
    let delay: @Sendable (Int) -> Double
    /// Cuts waits short when a stop is requested; nil for waits that must finish (the state
    /// store's own writes, which record what calls already in flight made).
    var stop: StopSignal?
    var note: (@Sendable (String) -> Void)?

    init(_ limit: Limit, delay: @escaping @Sendable (Int) -> Double, stop: StopSignal? = nil, note: (@Sendable (String) -> Void)? = nil) {
        self.limit = limit
        self.delay = delay
        self.stop = stop
        self.note = note
    }

    /// The same delay before every retry.
    static func every(_ seconds: Double) -> @Sendable (Int) -> Double { { _ in seconds } }

    /// FIRST, doubled after each attempt up to MAX.
    static func doubling(from first: Double, upTo max: Double) -> @Sendable (Int) -> Double {
        { n in Swift.min(first * Double(1 << Swift.min(n - 1, 30)), max) }
    }

    /// Runs ATTEMPT until it is done or the limit is reached; an error it throws ends the loop.
    func run<T>(_ attempt: (Attempt) async throws -> Step<T>) async throws -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        var number = 1
        while true {
            let current = Attempt(number: number, started: started)
            switch try await attempt(current) {
            case .done(let value):
                return value
            case .again(let note, let last):
                var wait = max(0, delay(number))
                switch limit {
                case .attempts(let most):
                    guard number < most else { return try last.get() }
                case .seconds(let budget):
                    let left = budget - current.elapsed
                    guard left > 0 else { return try last.get() }
                    wait = min(wait, left)
                }
                // Never a "waiting" note for a wait a stop has already cancelled.
                if stop?.isRequested == true { throw StoppedWaiting() }
                if let note { self.note?(note) }
                try await pause(wait)
                number += 1
            }
        }
    }

    /// Runs BODY, trying again while it throws an error RETRYABLE accepts; the last such error
    /// is thrown when the limit is reached.
    func run<T>(retryingOn retryable: (any Error) -> Bool, _ body: () async throws -> T) async throws -> T {
        try await run { _ in
            do { return .done(try await body()) } catch where retryable(error) { return .again(throwing: error) }
        }
    }

    func pause(_ seconds: Double) async throws {
        if let stop { try await stop.pause(seconds) } else { try await Task.sleep(nanoseconds: Self.nanoseconds(seconds)) }
    }

    /// SECONDS as nanoseconds for a sleep: 0 for a negative or NaN, at most a day.
    static func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds > 0 ? UInt64(min(seconds, 86_400) * 1e9) : 0
    }
}

extension StopSignal {
    /// Sleeps, waking early (and throwing `StoppedWaiting`) once a stop is requested.
    func pause(_ seconds: Double) async throws {
        let until = DispatchTime.now().uptimeNanoseconds + Retrying.nanoseconds(seconds)
        while true {
            if isRequested { throw StoppedWaiting() }
            // The clock read once a pass: read twice, the deadline could pass in between and
            // `until - now` underflow.
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < until else { return }
            try await Task.sleep(nanoseconds: min(100_000_000, until - now))
        }
    }
}
