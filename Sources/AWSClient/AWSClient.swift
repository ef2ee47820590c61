import Foundation
import SigV4
import Transport

/// Everything a client needs, resolved once per run.
public struct AWSConfiguration: Sendable {
    public var credentials: ResolvedCredentials
    public var region: String
    public var regionSource: String
    public var endpoints: EndpointResolver
    public var retry: RetryPolicy
    public var timeouts: HTTPTimeouts
    public var transport: any HTTPTransport
    /// Receives `--verbose` lines (already redacted). Nil = quiet.
    public var log: (@Sendable (String) -> Void)?
    /// The signing clock; tests fix it.
    public var now: @Sendable () -> SigningTime

    public init(credentials: ResolvedCredentials, region: String, regionSource: String,
                endpoints: EndpointResolver, retry: RetryPolicy = RetryPolicy(),
                timeouts: HTTPTimeouts = HTTPTimeouts(), transport: any HTTPTransport = CurlTransport.shared,
                log: (@Sendable (String) -> Void)? = nil,
                now: @escaping @Sendable () -> SigningTime = { SigningTime(secondsSince1970: Int64(Date().timeIntervalSince1970)) }) {
        self.credentials = credentials
        self.region = region
        self.regionSource = regionSource
        self.endpoints = endpoints
        self.retry = retry
        self.timeouts = timeouts
        self.transport = transport
        self.log = log
        self.now = now
    }
}

/// Signs, sends, retries and decodes AWS calls for the three protocols we use.
public struct AWSClient: Sendable {
    public let config: AWSConfiguration

    public init(config: AWSConfiguration) {
        self.config = config
    }

    // MARK: - Protocol front doors

    /// JSON 1.1 (cognito-idp, logs): POST / with X-Amz-Target.
    public func json(_ service: AWSService, _ operation: String, _ input: JSON, idempotent: Bool = true) async throws -> JSON {
        guard case .json(let version, let prefix) = service.wireProtocol else {
            preconditionFailure("\(service.name) is not a JSON-protocol service")
        }
        return try await send(
            service: service, operation: operation, method: "POST", path: "/", query: "",
            headers: [HTTPHeader("Content-Type", "application/x-amz-json-\(version)"),
                      HTTPHeader("X-Amz-Target", "\(prefix).\(operation)")],
            body: Array(input.serialized().utf8), idempotent: idempotent,
            decode: { try Self.decodeJSON($0, service: service, operation: operation) })
    }

    /// REST-JSON (apigatewayv2, lambda). `path` segments must already be escaped with
    /// `AWSClient.escapePathSegment`.
    public func rest(_ service: AWSService, _ operation: String, method: String, path: String,
                     query: [(String, String)] = [], body: JSON? = nil, idempotent: Bool = true) async throws -> JSON {
        var headers: [HTTPHeader] = []
        var bytes: [UInt8] = []
        if let body {
            headers.append(HTTPHeader("Content-Type", "application/json"))
            bytes = Array(body.serialized().utf8)
        }
        let queryString = query.map { "\(Self.escapeQuery($0.0))=\(Self.escapeQuery($0.1))" }.joined(separator: "&")
        return try await send(service: service, operation: operation, method: method, path: path,
                              query: queryString, headers: headers, body: bytes, idempotent: idempotent,
                              decode: { try Self.decodeJSON($0, service: service, operation: operation) })
    }

    /// Query protocol (iam, sts): form-encoded POST, XML answer.
    public func query(_ service: AWSService, _ action: String, _ parameters: [(String, String)] = [],
                      idempotent: Bool = true) async throws -> XMLNode {
        guard case .query(let apiVersion) = service.wireProtocol else {
            preconditionFailure("\(service.name) is not a Query-protocol service")
        }
        let form = ([("Action", action), ("Version", apiVersion)] + parameters)
            .map { "\(Self.escapeQuery($0.0))=\(Self.escapeQuery($0.1))" }.joined(separator: "&")
        return try await send(
            service: service, operation: action, method: "POST", path: "/", query: "",
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(form.utf8), idempotent: idempotent,
            decode: { response in
                do {
                    return try XMLNode(parsing: response.body)
                } catch {
                    throw AWSClientError.malformedResponse(service: service.name, operation: action, reason: "\(error)")
                }
            })
    }

    /// REST-XML (s3) on one bucket: virtual-hosted style on AWS (the bucket in the host name),
    /// path style on a custom endpoint (emulators and S3-compatible stores expect it). `key` is
    /// escaped here, segment by segment. Answers a 2xx response; anything else is thrown.
    public func s3(_ operation: String, method: String, bucket: String, key: String = "", query: [(String, String)] = [],
                   headers: [HTTPHeader] = [], body: [UInt8] = [], idempotent: Bool = true) async throws -> HTTPResponse {
        var (endpoint, _) = try config.endpoints.resolve(.s3)
        let escapedKey = key.split(separator: "/", omittingEmptySubsequences: false).map { Self.escapePathSegment(String($0)) }
            .joined(separator: "/")
        let path: String
        // A dotted bucket name would not match AWS's wildcard TLS certificate as a host name.
        if try config.endpoints.isDefault(.s3), !bucket.contains(".") {
            endpoint.host = "\(bucket).\(endpoint.host)"
            path = "/" + escapedKey
        } else {
            path = "/\(bucket)" + (key.isEmpty ? "" : "/" + escapedKey)
        }
        let queryString = query.map { $0.1.isEmpty ? Self.escapeQuery($0.0) : "\(Self.escapeQuery($0.0))=\(Self.escapeQuery($0.1))" }
            .joined(separator: "&")
        return try await send(service: .s3, endpoint: endpoint, operation: operation, method: method, path: path,
                              query: queryString, headers: headers, body: body, idempotent: idempotent, decode: { $0 })
    }

    // MARK: - Sending with signing and retries

    /// Sends one operation, retrying per the standard mode. Non-idempotent operations (creates)
    /// are retried only when the request provably did not take effect: throttling answers and
    /// connections that never opened. Otherwise the caller decides (it can look the resource up).
    public func send(service: AWSService, operation: String, method: String, path: String, query: String,
                     headers: [HTTPHeader], body: [UInt8], idempotent: Bool = true) async throws -> HTTPResponse {
        try await send(service: service, operation: operation, method: method, path: path, query: query,
                       headers: headers, body: body, idempotent: idempotent, decode: { $0 })
    }

    /// As above, decoding the answer inside the retry loop: a 2xx answer that cannot be decoded
    /// (truncated, not JSON/XML) is retried like a broken connection when the operation is
    /// idempotent; for a create it is reported, since the create may have happened.
    public func send<T>(service: AWSService, operation: String, method: String, path: String, query: String,
                        headers: [HTTPHeader], body: [UInt8], idempotent: Bool = true,
                        decode: (HTTPResponse) throws -> T) async throws -> T {
        try await send(service: service, endpoint: config.endpoints.resolve(service).endpoint, operation: operation,
                       method: method, path: path, query: query, headers: headers, body: body, idempotent: idempotent,
                       decode: decode)
    }

    func send<T>(service: AWSService, endpoint: Endpoint, operation: String, method: String, path: String, query: String,
                 headers: [HTTPHeader], body: [UInt8], idempotent: Bool,
                 decode: (HTTPResponse) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            var request = sign(service: service, endpoint: endpoint, method: method, path: path, query: query,
                               headers: headers, body: body)
            request.freshConnection = !idempotent  // never let the HTTP layer re-send a create
            let started = DispatchTime.now().uptimeNanoseconds
            let call = logRequest(request, service: service, operation: operation, attempt: attempt)
            var failure: Error
            var isTimeout = false
            do {
                let response = try await config.transport.send(request, timeouts: config.timeouts)
                let ms = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
                logResponse(response, call: call, ms: ms)
                if (200..<300).contains(response.status) {
                    do {
                        let value = try decode(response)
                        config.retry.recordSuccess()
                        return value
                    } catch let e as AWSClientError {
                        guard idempotent, case .malformedResponse = e else { throw e }
                        config.log?("✗ \(call): \(e)")
                        failure = e
                    }
                } else {
                    let error = Self.decodeError(response, service: service, operation: operation)
                    let safe = idempotent ? error.isRetryable : error.isThrottling
                    guard safe else { throw error }
                    failure = error
                }
            } catch let error as TransportError {
                let ms = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
                config.log?("✗ \(call): \(error) after \(ms) ms")
                switch error {
                case .badURL: throw AWSClientError.transport(service: service.name, operation: operation, error, attempts: attempt)
                case .other: throw AWSClientError.transport(service: service.name, operation: operation, error, attempts: attempt)
                case .connectFailed: break
                case .connection, .timeout:
                    guard idempotent else {
                        throw AWSClientError.transport(service: service.name, operation: operation, error, attempts: attempt)
                    }
                }
                if case .timeout = error { isTimeout = true }
                failure = AWSClientError.transport(service: service.name, operation: operation, error, attempts: attempt)
            }
            guard attempt < config.retry.maxAttempts else {
                if let e = failure as? AWSClientError, case .transport(let s, let o, let t, _) = e {
                    throw AWSClientError.transport(service: s, operation: o, t, attempts: attempt)
                }
                throw failure
            }
            guard config.retry.acquireRetry(isTimeout: isTimeout) else {
                throw AWSClientError.retryQuotaExhausted(service: service.name, operation: operation, last: "\(failure)")
            }
            let delay = config.retry.backoff(attempt: attempt)
            config.log?(String(format: "↻ %@: retrying in %.2f s (attempt %d of %d): %@", call, delay, attempt + 1,
                               config.retry.maxAttempts, "\(failure)"))
            try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
        }
    }

    /// Builds the wire request and signs it with the current time (re-signed on each attempt,
    /// so a retry after a long backoff is not rejected as stale).
    func sign(service: AWSService, endpoint: Endpoint, method: String, path: String, query: String,
              headers: [HTTPHeader], body: [UInt8]) -> HTTPRequest {
        let fullPath = endpoint.basePath + path
        var fields = [HeaderField("Host", endpoint.hostHeader)] + headers.map { HeaderField($0.name, $0.value) }
        if !body.isEmpty || method == "POST" || method == "PUT" {
            fields.append(HeaderField("Content-Length", String(body.count)))
        }
        let signer = SigV4Signer(credentials: config.credentials.credentials,
                                 region: config.endpoints.signingRegion(service), service: service.signingName,
                                 options: service.signingOptions)
        let signingRequest = SigningRequest(method: method, path: fullPath, query: query.isEmpty ? nil : query,
                                            headers: fields, body: body)
        // Only fails without a Host header, which is always added above.
        let result = (try? signer.signHeaders(signingRequest, at: config.now()))
        fields += result?.addedHeaders ?? []
        fields.append(HeaderField("User-Agent", "secure-api/0.1"))
        return HTTPRequest(method: method, url: endpoint.url(path: path, query: query),
                           headers: fields.map { HTTPHeader($0.name, $0.value) }, body: body)
    }

    // MARK: - Decoding

    static func decodeJSON(_ response: HTTPResponse, service: AWSService, operation: String) throws -> JSON {
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .object([:]) }
        do {
            let value = try JSON(parsing: response.body)
            guard case .object = value else {
                throw AWSClientError.malformedResponse(service: service.name, operation: operation, reason: "expected a JSON object")
            }
            return value
        } catch let e as JSON.ParseError {
            throw AWSClientError.malformedResponse(service: service.name, operation: operation, reason: "\(e)")
        }
    }

    /// One error type from any protocol's error format.
    public static func decodeError(_ response: HTTPResponse, service: AWSService, operation: String) -> AWSServiceError {
        let requestId = response.header("x-amzn-RequestId") ?? response.header("x-amz-request-id")
        var code: String?
        var message = ""
        if let headerType = response.header("x-amzn-ErrorType"), !sanitizeErrorCode(headerType).isEmpty {
            code = sanitizeErrorCode(headerType)
        }
        if let json = try? JSON(parsing: response.body), case .object(let o) = json {
            if code == nil, let t = (o["__type"] ?? o["code"] ?? o["Code"])?.string, !sanitizeErrorCode(t).isEmpty {
                code = sanitizeErrorCode(t)
            }
            message = (o["message"] ?? o["Message"] ?? o["errorMessage"])?.string ?? ""
        } else if let xml = try? XMLNode(parsing: response.body), let c = xml.value("Code") {
            code = code ?? c
            message = xml.value("Message") ?? ""
            return AWSServiceError(service: service.name, operation: operation, code: code ?? c, message: message,
                                   httpStatus: response.status, requestId: requestId ?? xml.value("RequestId"),
                                   bucketRegion: response.header("x-amz-bucket-region") ?? xml.value("Region"))
        } else if !response.body.isEmpty {
            let type = response.header("Content-Type") ?? "unknown content type"
            message = "unexpected \(type) body of \(response.body.count) bytes"
        }
        return AWSServiceError(service: service.name, operation: operation,
                               code: code ?? Self.codeForStatus(response.status), message: message,
                               httpStatus: response.status, requestId: requestId, bucketRegion: response.header("x-amz-bucket-region"))
    }

    /// As botocore's parsers and smithy-rs `sanitize_error_code`: drop what follows ':' (a URL
    /// some services append), then what precedes the last '#' (the shape's namespace).
    public static func sanitizeErrorCode(_ raw: String) -> String {
        let beforeColon = raw.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let afterHash = beforeColon.split(separator: "#", omittingEmptySubsequences: false).last ?? beforeColon
        return afterHash.trimmingCharacters(in: .whitespaces)
    }

    static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 400: return "BadRequest"
        case 403: return "AccessDenied"
        case 404: return "NotFound"
        case 429: return "TooManyRequestsException"
        case 500: return "InternalFailure"
        case 502: return "BadGateway"
        case 503: return "ServiceUnavailable"
        case 504: return "GatewayTimeout"
        default: return "HTTP\(status)"
        }
    }

    // MARK: - Encoding helpers

    /// RFC 3986 escaping for one path segment (everything but unreserved characters).
    public static func escapePathSegment(_ s: String) -> String { escape(s) }
    public static func escapeQuery(_ s: String) -> String { escape(s) }

    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2d || b == 0x2e || b == 0x5f || b == 0x7e {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    // MARK: - Verbose output (redacted)

    /// Numbers every HTTP exchange of the process, so concurrent calls' lines pair up.
    static let callNumbers = CallCounter()

    /// Logs a request as one block (the log writes it whole) and returns its tag, `#N service
    /// Operation`, which the response, failure and retry lines repeat.
    func logRequest(_ r: HTTPRequest, service: AWSService, operation: String, attempt: Int) -> String {
        guard let log = config.log else { return "" }
        let call = "#\(Self.callNumbers.next()) \(service.name) \(operation)"
        var lines = ["→ \(call)\(attempt > 1 ? " (attempt \(attempt))" : ""): \(r.method) \(r.url)"]
        for h in r.headers { lines.append("    \(h.name): \(Redaction.displayHeader(name: h.name, value: h.value))") }
        let ct = r.headers.first { $0.name.lowercased() == "content-type" }?.value
        let body = Redaction.displayBody(r.body, contentType: ct)
        if !body.isEmpty { lines.append("    \(body)") }
        log(lines.joined(separator: "\n"))
        return call
    }

    func logResponse(_ r: HTTPResponse, call: String, ms: UInt64) {
        guard let log = config.log else { return }
        var lines = ["← \(call): HTTP \(r.status) in \(ms) ms"]
        let body = Redaction.displayBody(r.body, contentType: r.header("Content-Type"))
        if !body.isEmpty { lines.append("    \(body)") }
        log(lines.joined(separator: "\n"))
    }
}

/// A process-wide counter for `--verbose` call numbers.
final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var last = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        last += 1
        return last
    }
}

extension AWSClient {
    /// A client that sends nothing (no credentials, every call refused): for building request
    /// values offline, as `plan` does without a state file.
    public static func offline(region: String) -> AWSClient {
        AWSClient(config: AWSConfiguration(
            credentials: ResolvedCredentials(credentials: SigningCredentials(accessKeyId: "", secretAccessKey: ""), source: "none (offline)"),
            region: region, regionSource: "offline", endpoints: EndpointResolver(flag: nil, environment: [:], region: region),
            transport: OfflineTransport()))
    }
}

/// Refuses every request: an offline client must never reach the network.
struct OfflineTransport: HTTPTransport {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "internal: an offline client sent a request" }
    }

    func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse { throw Refused() }
}
