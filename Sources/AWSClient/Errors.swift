import Transport

/// An error answered by an AWS service, decoded from whichever protocol it speaks.
public struct AWSServiceError: Error, Sendable, CustomStringConvertible {
    public var service: String
    public var operation: String
    public var code: String
    public var message: String
    public var httpStatus: Int
    public var requestId: String?
    /// S3's answer to a request signed for the wrong region names the bucket's
    /// (`x-amz-bucket-region`, or `<Region>` of AuthorizationHeaderMalformed).
    public var bucketRegion: String? = nil

    public var description: String {
        var s = "\(service) \(operation): \(code)"
        if !message.isEmpty { s += ": \(message)" }
        s += " (HTTP \(httpStatus)"
        if let requestId, !requestId.isEmpty { s += ", request id \(requestId)" }
        return s + ")"
    }
}

/// Everything else the client can fail with, each a one-line reason for the user.
public enum AWSClientError: Error, Sendable, CustomStringConvertible {
    case noCredentials(String)
    case incompleteCredentials(String)
    case unreadableConfigFile(path: String, kind: SharedConfigFile.Kind)
    case malformedConfigFile(path: String, kind: SharedConfigFile.Kind, line: Int, reason: String)
    case unknownProfile(profile: String, source: String, searched: [String])
    case noRegion
    case invalidRegion(String, source: String)
    case invalidEndpoint(url: String, source: String)
    case transport(service: String, operation: String, TransportError, attempts: Int)
    case malformedResponse(service: String, operation: String, reason: String)
    case retryQuotaExhausted(service: String, operation: String, last: String)
    case invalidSetting(name: String, value: String, rule: String)

    public var description: String {
        switch self {
        case .noCredentials(let m): return "no AWS credentials found: \(m)"
        case .incompleteCredentials(let m): return "incomplete AWS credentials: \(m)"
        case .unreadableConfigFile(let p, let kind): return "cannot read AWS \(kind) file \(p) (check its permissions)"
        case .malformedConfigFile(let p, let kind, let line, let r):
            return line > 0 ? "malformed AWS \(kind) file \(p), line \(line): \(r)" : "malformed AWS \(kind) file \(p): \(r)"
        case .unknownProfile(let p, let source, let searched):
            return "profile '\(p)' (from \(source)) not found in \(searched.joined(separator: " or "))"
        case .noRegion: return "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or add 'region' to your profile"
        case .invalidRegion(let r, let s): return "invalid AWS region '\(r)' (from \(s))"
        case .invalidEndpoint(let u, let s): return "invalid endpoint URL '\(u)' (from \(s)): expected http(s)://host[:port]"
        case .transport(let s, let o, let e, let attempts):
            return "\(s) \(o): \(e)" + (attempts > 1 ? " (after \(attempts) attempts)" : "")
        case .malformedResponse(let s, let o, let r): return "\(s) \(o): malformed response: \(r)"
        case .retryQuotaExhausted(let s, let o, let last): return "\(s) \(o): retry quota exhausted; last error: \(last)"
        case .invalidSetting(let n, let v, let rule): return "\(n) must be \(rule), not '\(v.prefix(40))'"
        }
    }
}

extension AWSServiceError {
    /// Throttling codes of the SDKs' standard retry mode.
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]
    /// Transient error codes of standard mode.
    public static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"]

    public var isThrottling: Bool { Self.throttlingCodes.contains(code) || httpStatus == 429 }
    public var isTransient: Bool { Self.transientCodes.contains(code) || [500, 502, 503, 504].contains(httpStatus) }
    public var isRetryable: Bool { isThrottling || isTransient }
}
