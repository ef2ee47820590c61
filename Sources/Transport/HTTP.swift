/// The HTTP types every layer above shares. Transport knows nothing about AWS.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    /// Absolute URL, already percent-encoded exactly as it must go on the wire.
    public var url: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// Send on a new connection only. For requests that must not run twice: HTTP clients
    /// (libcurl among them) silently re-send a request whose pooled connection turned out dead.
    public var freshConnection: Bool
    public init(method: String, url: String, headers: [HTTPHeader] = [], body: [UInt8] = [], freshConnection: Bool = false) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.freshConnection = freshConnection
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    public init(status: Int, headers: [HTTPHeader], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// First value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

public struct HTTPTimeouts: Sendable {
    public var connectMilliseconds: Int
    public var totalMilliseconds: Int
    public init(connectMilliseconds: Int = 10_000, totalMilliseconds: Int = 60_000) {
        self.connectMilliseconds = connectMilliseconds
        self.totalMilliseconds = totalMilliseconds
    }
}

public enum TransportError: Error, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, DNS): the request never left, always safe to retry.
    case connectFailed(String)
    /// The connection broke after the request may have been sent (reset, empty reply).
    case connection(String)
    case timeout(String)
    case badURL(String)
    case other(String)

    public var description: String {
        switch self {
        case .connectFailed(let m): return "could not connect: \(m)"
        case .connection(let m): return "connection failed: \(m)"
        case .timeout(let m): return "timed out: \(m)"
        case .badURL(let m): return "bad URL: \(m)"
        case .other(let m): return m
        }
    }
}

/// What sends a request. The real one is libcurl; tests may put a recorder here.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse
}
