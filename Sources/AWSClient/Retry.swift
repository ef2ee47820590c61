import Synchronization
import Crypto

/// The AWS SDKs' "standard" retry mode: up to `maxAttempts` tries, exponential backoff with
/// full jitter (`random(0,1) * base * 2^attempt`, capped at 20 s), and a shared retry quota
/// (500 tokens; a retry costs 5, a timeout retry 10; a success refunds 1) so a struggling
/// service is not hammered.
public final class RetryPolicy: Sendable {
    public static let maxBackoffSeconds = 20.0
    public static let initialQuota = 500
    public static let retryCost = 5
    public static let timeoutRetryCost = 10

    public let maxAttempts: Int
    public let baseDelaySeconds: Double
    private let quota = Mutex(RetryPolicy.initialQuota)
    private let retries = Mutex(0)

    public init(maxAttempts: Int = 3, baseDelaySeconds: Double = 1.0) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelaySeconds = baseDelaySeconds
    }

    /// `AWS_MAX_ATTEMPTS` (default 3), as the SDKs read it.
    public static func fromEnvironment(_ env: [String: String]) throws -> RetryPolicy {
        var attempts = 3
        if let text = env["AWS_MAX_ATTEMPTS"] {
            guard let n = Int(text), (1...100).contains(n) else {
                throw AWSClientError.invalidSetting(name: "AWS_MAX_ATTEMPTS", value: text, rule: "an integer from 1 to 100")
            }
            attempts = n
        }
        // Only for tests of the retry path: scale the backoff down (never set in normal use).
        let base = try SessionOptions.number(env, "SECURE_API_RETRY_BASE_SECONDS", in: 0...60, rule: "a number of seconds from 0 to 60") ?? 1.0
        return RetryPolicy(maxAttempts: attempts, baseDelaySeconds: base)
    }

    /// Delay before retry number `attempt` (1 = first retry).
    public func backoff(attempt: Int) -> Double {
        let random = Double(UInt32(bytesOf: Crypto.randomBytes(4))) / Double(UInt32.max)
        return min(random * baseDelaySeconds * Double(1 << min(attempt, 20)) / 2, Self.maxBackoffSeconds)
    }

    /// Takes tokens for a retry; false when the quota is spent.
    public func acquireRetry(isTimeout: Bool) -> Bool {
        let cost = isTimeout ? Self.timeoutRetryCost : Self.retryCost
        let ok = quota.withLock { q -> Bool in
            guard q >= cost else { return false }
            q -= cost
            return true
        }
        if ok { retries.withLock { $0 += 1 } }
        return ok
    }

    public func recordSuccess() {
        quota.withLock { $0 = min(Self.initialQuota, $0 + 1) }
    }

    /// Retries made so far by every call sharing this policy.
    public var retryCount: Int { retries.withLock { $0 } }
}

extension UInt32 {
    init(bytesOf b: [UInt8]) {
        self = b.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
