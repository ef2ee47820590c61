/// One header line. Names keep the caller's spelling; canonicalisation lowercases them.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Credentials as the signer needs them. Kept out of `description` so a stray print can't leak
/// the secret.
public struct SigningCredentials: Sendable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
    public var description: String { "SigningCredentials(accessKeyId: \(accessKeyId), secret: <redacted>)" }
}

/// The request to sign: what goes on the request line, the headers and the body.
/// `path` and `query` are as they appear on the request line (percent-escapes allowed).
public struct SigningRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String?
    public var headers: [HeaderField]
    public var body: [UInt8]
    public init(method: String, path: String, query: String? = nil, headers: [HeaderField],
                body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// Knobs that differ between services or callers.
public struct SigningOptions: Sendable {
    public enum Payload: Sendable, Equatable {
        /// Hex SHA-256 of the body in the canonical request.
        case signed
        /// The literal `UNSIGNED-PAYLOAD` (S3, presigned URLs of some services).
        case unsigned
    }

    public enum SessionTokenPlacement: Sendable, Equatable {
        /// The token is added before signing and so covered by the signature (the usual way).
        case signed
        /// The token is added after signing (some services, e.g. IoT, expect this).
        case appendedAfterSigning
    }

    /// Remove dot segments and repeated slashes from the path (all services but S3).
    public var normalizePath: Bool
    /// URI-encode the path once more for the canonical request (all services but S3,
    /// whose canonical path is the already-encoded path as sent).
    public var encodePath: Bool
    public var payload: Payload
    /// Add and sign `x-amz-content-sha256` (S3 requires it; optional elsewhere).
    public var addContentSHA256Header: Bool
    public var sessionToken: SessionTokenPlacement
    /// Headers never signed: hop-by-hop ones and those proxies rewrite (as the AWS SDKs do).
    public var unsignedHeaders: Set<String>

    public static let defaultUnsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "x-amzn-trace-id",
    ]

    public init(normalizePath: Bool = true, encodePath: Bool = true, payload: Payload = .signed,
                addContentSHA256Header: Bool = false, sessionToken: SessionTokenPlacement = .signed,
                unsignedHeaders: Set<String> = SigningOptions.defaultUnsignedHeaders) {
        self.normalizePath = normalizePath
        self.encodePath = encodePath
        self.payload = payload
        self.addContentSHA256Header = addContentSHA256Header
        self.sessionToken = sessionToken
        self.unsignedHeaders = unsignedHeaders
    }

    /// S3-style: no normalisation, path signed as sent.
    public static let s3 = SigningOptions(normalizePath: false, encodePath: false, payload: .unsigned,
                                          addContentSHA256Header: true)
}

/// Every artefact of one signing, so a learner (and a test) can see each stage.
public struct SigningResult: Sendable {
    public var canonicalRequest: String
    public var stringToSign: String
    public var signature: String
    /// The `Authorization` value (header signing only).
    public var authorization: String?
    /// Headers to add to the request, in order (header signing: date, token, content hash,
    /// authorization; presigning: none).
    public var addedHeaders: [HeaderField]
    /// Already-encoded `key=value` pairs to append to the query (presigning only), in the
    /// order the AWS SDKs write them.
    public var addedQueryItems: [String]
}

public enum SigningError: Error, Equatable, CustomStringConvertible {
    case missingHost
    case invalidExpiry(Int)
    public var description: String {
        switch self {
        case .missingHost: return "the request has no Host header"
        case .invalidExpiry(let s): return "presign expiry must be 1...604800 seconds, got \(s)"
        }
    }
}
