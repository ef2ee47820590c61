/// The authorization code + PKCE request a browser is sent to (RFC 6749 §4.1.1, RFC 7636 §4.3).
/// It carries the `state` and `codeVerifier` the rest of the login needs; its description
/// never shows the verifier.
public struct AuthorizationRequest: Sendable, CustomStringConvertible, CustomReflectable {
    /// The server's authorization endpoint, e.g. `https://<domain>/oauth2/authorize`.
    public var authorizeURL: String
    public var clientId: String
    public var redirectURI: String
    public var scopes: [String]
    /// Must come back unchanged in the callback (CSRF protection).
    public var state: String
    /// Secret until the code exchange; only its S256 challenge goes in the URL.
    public var codeVerifier: String

    /// A request with fresh random `state` and code verifier unless they are given.
    public init(authorizeURL: String, clientId: String, redirectURI: String, scopes: [String],
                state: String = PKCE.generateState(), codeVerifier: String = PKCE.generateVerifier()) {
        self.authorizeURL = authorizeURL
        self.clientId = clientId
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.state = state
        self.codeVerifier = codeVerifier
    }

    public var codeChallenge: String { PKCE.challengeS256(verifier: codeVerifier) }

    /// The full URL to open in the browser, every value percent-encoded per RFC 3986.
    public var url: String {
        let query = [
            ("response_type", "code"), ("client_id", clientId), ("redirect_uri", redirectURI),
            ("scope", scopes.joined(separator: " ")), ("state", state),
            ("code_challenge", codeChallenge), ("code_challenge_method", "S256"),
        ].map { URLEncoding.percentEncode($0.0) + "=" + URLEncoding.percentEncode($0.1) }.joined(separator: "&")
        // Keep any query the endpoint URL already has.
        return authorizeURL + (authorizeURL.contains("?") ? "&" : "?") + query
    }

    public var description: String {
        "AuthorizationRequest(url: \(url), code_verifier: <redacted>)"
    }

    /// `dump()` and debuggers see the redacted description, not the verifier.
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
