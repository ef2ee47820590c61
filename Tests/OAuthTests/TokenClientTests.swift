import AWSClient
import Foundation
import Testing
import Transport
@testable import OAuth

/// TokenClient against a real local HTTP server.
struct TokenClientTests {
    let server: TestHTTPServer
    init() throws { server = try TestHTTPServer.shared.get() }

    static let tokens = #"""
    {"access_token":"AT-secret-value","id_token":"IDT-secret-value","refresh_token":"RT-secret-value",
     "expires_in":3600,"token_type":"Bearer","scope":"HelloAPI/hello.read HelloAPI/hello.write"}
    """#

    func endpoint(status: Int = 200, contentType: String = "application/json", body: String = tokens) async throws -> String {
        let path = uniquePath() + "/oauth2/token"
        try await server.route(path, status: status, contentType: contentType, body: body)
        return path
    }

    /// The single request the server saw at `path`.
    func request(_ path: String) async throws -> JSON {
        let seen = try await server.seen(path)
        try #require(seen.count == 1)
        return seen[0]
    }

    @Test func clientCredentialsSendsBasicAuthAndScopes() async throws {
        let path = try await endpoint()
        let response = try await TokenClient().clientCredentials(
            tokenURL: server.baseURL + path, clientId: "my-client", clientSecret: "s3cr3t",
            scopes: ["HelloAPI/hello.read", "HelloAPI/hello.write"])
        #expect(response.accessToken == "AT-secret-value" && response.expiresIn == 3600 && response.tokenType == "Bearer")
        #expect(response.refreshToken == "RT-secret-value" && response.idToken == "IDT-secret-value")

        let seen = try await request(path)
        #expect(seen["method"] == "POST")
        // base64("my-client:s3cr3t"), computed independently of the code under test.
        #expect(seen["headers"]?["authorization"]?.string == "Basic bXktY2xpZW50OnMzY3IzdA==")
        #expect(seen["headers"]?["content-type"]?.string == "application/x-www-form-urlencoded")
        #expect(seen["form"]?["grant_type"] == ["client_credentials"])
        #expect(seen["form"]?["scope"] == ["HelloAPI/hello.read HelloAPI/hello.write"])
        #expect(seen["form"]?["client_secret"] == nil)
    }

    /// A client secret never goes over plain http, except to this machine.
    @Test func secretsNeverGoOverPlainHTTPToAnotherHost() async throws {
        let recorder = Recorder()
        for url in ["http://auth.example.com/oauth2/token", "http://localhost.evil.example/token", "http://10.0.0.1/token",
                    "HTTP://auth.example.com/token", "ftp://auth.example.com/token"] {
            await #expect(throws: TokenError.insecureEndpoint(url)) {
                _ = try await TokenClient(transport: recorder).clientCredentials(tokenURL: url, clientId: "c", clientSecret: "s")
            }
            await #expect(throws: TokenError.insecureEndpoint(url)) {
                _ = try await TokenClient(transport: recorder).refresh(tokenURL: url, clientId: "c", refreshToken: "r", clientSecret: "s")
            }
        }
        #expect(recorder.count == 0)
        for url in ["https://auth.example.com/oauth2/token", "http://localhost:8080/token", "http://127.0.0.1:9/token"] {
            _ = try? await TokenClient(transport: recorder).clientCredentials(tokenURL: url, clientId: "c", clientSecret: "s")
        }
        #expect(recorder.count == 3)
    }

    /// Counts requests and answers each with a token.
    final class Recorder: HTTPTransport, @unchecked Sendable {
        // @unchecked: the test sends one request at a time.
        var count = 0
        func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse {
            count += 1
            return HTTPResponse(status: 200, headers: [], body: Array(TokenClientTests.tokens.utf8))
        }
    }

    @Test func basicCredentialsAreFormEncodedFirst() {
        // RFC 6749 §2.3.1: "a b+c/d=" is sent as "a+b%2Bc%2Fd%3D" inside the Basic value.
        let expected = "Basic " + Data("id%3Ax:a+b%2Bc%2Fd%3D".utf8).base64EncodedString()
        #expect(TokenClient.basicAuthorization(clientId: "id:x", clientSecret: "a b+c/d=") == expected)
    }

    @Test func descriptionRedactsTokens() async throws {
        let path = try await endpoint()
        let response = try await TokenClient().clientCredentials(tokenURL: server.baseURL + path, clientId: "c", clientSecret: "s")
        var dumped = ""
        dump(response, to: &dumped)
        for text in [response.description, String(reflecting: response), "\(response)", dumped] {
            #expect(!text.contains("secret-value"))
            #expect(text.contains("Bearer") && text.contains("3600"))
        }
    }

    @Test func invalidClientIsReportedClearly() async throws {
        let path = try await endpoint(status: 400, body: #"{"error":"invalid_client","error_description":"Client authentication failed"}"#)
        do {
            _ = try await TokenClient().clientCredentials(tokenURL: server.baseURL + path, clientId: "c", clientSecret: "wrong")
            Issue.record("accepted")
        } catch let error as TokenError {
            #expect(error == .oauth(code: "invalid_client", description: "Client authentication failed", status: 400))
            #expect(error.description == "token endpoint refused the request: invalid_client (Client authentication failed) [HTTP 400]")
        }
    }

    @Test func nonJSONAnswerIsReportedClearly() async throws {
        let path = try await endpoint(status: 502, contentType: "text/html", body: "<html><body>Bad Gateway</body></html>")
        // The content type is not compared: CurlTransport currently returns no response headers.
        await #expect {
            try await TokenClient().clientCredentials(tokenURL: server.baseURL + path, clientId: "c", clientSecret: "s")
        } throws: { error in
            guard case TokenError.unexpectedResponse(502, _, let excerpt) = error else { return false }
            return excerpt == "<html><body>Bad Gateway</body></html>"
                && "\(error)".hasPrefix("token endpoint gave an unexpected answer: HTTP 502")
        }
        let empty = try await endpoint(body: #"{"token_type":"Bearer"}"#)
        await #expect {
            try await TokenClient().clientCredentials(tokenURL: server.baseURL + empty, clientId: "c", clientSecret: "s")
        } throws: { error in
            guard case TokenError.unexpectedResponse(200, _, let excerpt) = error else { return false }
            return excerpt == "no access_token in the answer"
        }
    }

    @Test func unreachableEndpointIsATransportError() async throws {
        await #expect {
            try await TokenClient().clientCredentials(tokenURL: "http://127.0.0.1:1/oauth2/token", clientId: "c", clientSecret: "s")
        } throws: { error in
            if case TokenError.transport = error { return true }
            return false
        }
    }

    @Test func codeExchangeIsAPublicClientPKCERequest() async throws {
        let path = try await endpoint()
        let verifier = PKCE.generateVerifier()
        let response = try await TokenClient().exchangeCode(
            tokenURL: server.baseURL + path, clientId: "public-client", code: "auth-code+1",
            redirectURI: "http://localhost:8083/callback", codeVerifier: verifier)
        #expect(response.idToken == "IDT-secret-value")
        let seen = try await request(path)
        #expect(seen["form"]?["grant_type"] == ["authorization_code"])
        #expect(seen["form"]?["code"] == ["auth-code+1"])
        #expect(seen["form"]?["redirect_uri"] == ["http://localhost:8083/callback"])
        #expect(seen["form"]?["client_id"] == ["public-client"])
        #expect(seen["form"]?["code_verifier"] == .array([.string(verifier)]))
        #expect(seen["form"]?["client_secret"] == nil)
        #expect(seen["headers"]?["authorization"] == nil)
    }

    @Test func refreshForPublicAndConfidentialClients() async throws {
        let publicPath = try await endpoint()
        _ = try await TokenClient().refresh(tokenURL: server.baseURL + publicPath, clientId: "pub", refreshToken: "rt-1")
        let publicRequest = try await request(publicPath)
        #expect(publicRequest["form"]?["grant_type"] == ["refresh_token"])
        #expect(publicRequest["form"]?["refresh_token"] == ["rt-1"])
        #expect(publicRequest["form"]?["client_id"] == ["pub"])
        #expect(publicRequest["headers"]?["authorization"] == nil)

        let confidentialPath = try await endpoint()
        _ = try await TokenClient().refresh(tokenURL: server.baseURL + confidentialPath, clientId: "my-client",
                                            refreshToken: "rt-2", clientSecret: "s3cr3t")
        let confidential = try await request(confidentialPath)
        #expect(confidential["headers"]?["authorization"]?.string == "Basic bXktY2xpZW50OnMzY3IzdA==")
        #expect(confidential["form"]?["refresh_token"] == ["rt-2"])
    }
}
