import Foundation
import AWSClient
import Transport

/// A client of an OAuth 2.0 token endpoint (RFC 6749 §3.2), e.g. Cognito's `/oauth2/token`.
public struct TokenClient: Sendable {
    public let transport: any HTTPTransport
    public let timeouts: HTTPTimeouts

    public init(transport: any HTTPTransport = CurlTransport.shared,
                timeouts: HTTPTimeouts = HTTPTimeouts(connectMilliseconds: 10_000, totalMilliseconds: 30_000)) {
        self.transport = transport
        self.timeouts = timeouts
    }

    /// Client credentials grant (§4.4) for a confidential client, authenticated with HTTP Basic.
    public func clientCredentials(tokenURL: String, clientId: String, clientSecret: String,
                                  scopes: [String] = []) async throws -> TokenResponse {
        var form = [("grant_type", "client_credentials")]
        if !scopes.isEmpty { form.append(("scope", scopes.joined(separator: " "))) }
        return try await post(tokenURL, form: form, basic: (clientId, clientSecret))
    }

    /// Authorization code grant (§4.1.3) with PKCE for a public client: the client id and
    /// code verifier go in the body, and there is no secret and no Authorization header.
    public func exchangeCode(tokenURL: String, clientId: String, code: String, redirectURI: String,
                             codeVerifier: String) async throws -> TokenResponse {
        try await post(tokenURL, form: [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("client_id", clientId), ("code_verifier", codeVerifier),
        ], basic: nil)
    }

    /// Refresh grant (§6). A confidential client passes its secret (sent as HTTP Basic); a
    /// public client names itself in the body.
    public func refresh(tokenURL: String, clientId: String, refreshToken: String,
                        clientSecret: String? = nil) async throws -> TokenResponse {
        var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        if let clientSecret {
            return try await post(tokenURL, form: form, basic: (clientId, clientSecret))
        }
        form.append(("client_id", clientId))
        return try await post(tokenURL, form: form, basic: nil)
    }

    /// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 §2.3.1 specifies.
    public static func basicAuthorization(clientId: String, clientSecret: String) -> String {
        let pair = URLEncoding.formEncode(clientId) + ":" + URLEncoding.formEncode(clientSecret)
        return "Basic " + Base64Codec.standard(Array(pair.utf8))
    }

    private func post(_ url: String, form: [(String, String)], basic: (String, String)?) async throws -> TokenResponse {
        var headers = [
            HTTPHeader("Content-Type", "application/x-www-form-urlencoded"),
            HTTPHeader("Accept", "application/json"),
        ]
        if let (id, secret) = basic {
            guard Self.mayCarrySecret(url) else { throw TokenError.insecureEndpoint(url) }
            headers.append(HTTPHeader("Authorization", Self.basicAuthorization(clientId: id, clientSecret: secret)))
        }
        let request = HTTPRequest(method: "POST", url: url, headers: headers, body: Array(URLEncoding.formBody(form).utf8))
        let response: HTTPResponse
        do {
            response = try await transport.send(request, timeouts: timeouts)
        } catch {
            throw TokenError.transport("\(error)")
        }
        return try Self.parse(response)
    }

    /// https anywhere; plain http only to this machine (the tests' and emulators' endpoints).
    static func mayCarrySecret(_ url: String) -> Bool {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased() else { return false }
        return scheme == "https" || (scheme == "http" && ["localhost", "127.0.0.1", "::1", "[::1]"].contains(parts.host?.lowercased() ?? ""))
    }

    static func parse(_ response: HTTPResponse) throws -> TokenResponse {
        let json = try? JSON(parsing: response.body)
        if let json, let code = json["error"]?.string {
            throw TokenError.oauth(code: code, description: json["error_description"]?.string, status: response.status)
        }
        if (200..<300).contains(response.status), let json, let tokens = TokenResponse(json: json) {
            return tokens
        }
        // Anything else: show a little of the body to explain it, but never a 2xx body, which may hold tokens.
        let excerpt = (200..<300).contains(response.status) ? "no access_token in the answer"
            : String(response.bodyText.prefix(200)).replacingOccurrences(of: "\n", with: " ")
        throw TokenError.unexpectedResponse(status: response.status, contentType: response.header("Content-Type"), excerpt: excerpt)
    }
}
