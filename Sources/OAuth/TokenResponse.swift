import AWSClient

/// A token endpoint's successful answer (RFC 6749 §5.1). Printing it never shows a token.
public struct TokenResponse: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessToken: String
    public var idToken: String?
    public var refreshToken: String?
    /// Lifetime of the access token in seconds.
    public var expiresIn: Int?
    public var tokenType: String?
    /// Granted scopes, when the server says (space-separated on the wire).
    public var scope: String?

    public init(accessToken: String, idToken: String? = nil, refreshToken: String? = nil, expiresIn: Int? = nil,
                tokenType: String? = nil, scope: String? = nil) {
        self.accessToken = accessToken
        self.idToken = idToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.tokenType = tokenType
        self.scope = scope
    }

    /// Reads the JSON object; nil when there is no `access_token` string.
    init?(json: JSON) {
        guard let access = json["access_token"]?.string, !access.isEmpty else { return nil }
        // expires_in is a number per RFC 6749, but some servers send it as a string.
        let expires = json["expires_in"]?.int ?? json["expires_in"]?.string.flatMap { Int($0) }
        self.init(accessToken: access, idToken: json["id_token"]?.string, refreshToken: json["refresh_token"]?.string,
                  expiresIn: expires, tokenType: json["token_type"]?.string, scope: json["scope"]?.string)
    }

    public var description: String {
        func redacted(_ token: String?) -> String { token.map { "<redacted, \($0.utf8.count) chars>" } ?? "none" }
        return "TokenResponse(token_type: \(tokenType ?? "none"), expires_in: \(expiresIn.map(String.init) ?? "none"), "
            + "scope: \(scope ?? "none"), access_token: \(redacted(accessToken)), id_token: \(redacted(idToken)), "
            + "refresh_token: \(redacted(refreshToken)))"
    }

    public var debugDescription: String { description }

    /// `dump()` and debuggers see the redacted description, not the fields.
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}

/// Why a token request failed.
public enum TokenError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an OAuth error (RFC 6749 §5.2), e.g. `invalid_client`.
    case oauth(code: String, description: String?, status: Int)
    /// The answer is not the JSON a token endpoint gives (an HTML error page, a proxy, ...).
    case unexpectedResponse(status: Int, contentType: String?, excerpt: String)
    /// The request never got an answer.
    case transport(String)
    /// A client secret would go over plain http to a host other than this machine.
    case insecureEndpoint(String)

    public var description: String {
        switch self {
        case .oauth(let code, let text, let status):
            return "token endpoint refused the request: \(code)" + (text.map { " (\($0))" } ?? "") + " [HTTP \(status)]"
        case .unexpectedResponse(let status, let type, let excerpt):
            return "token endpoint gave an unexpected answer: HTTP \(status), \(type ?? "no content type")"
                + (excerpt.isEmpty ? "" : ": \(excerpt)")
        case .transport(let reason):
            return "token endpoint unreachable: \(reason)"
        case .insecureEndpoint(let url):
            return "refusing to send a client secret to \(url): the token URL must be https (http only for localhost or 127.0.0.1)"
        }
    }
}
