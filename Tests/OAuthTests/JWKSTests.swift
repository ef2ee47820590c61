import AWSClient
import Foundation
import Testing
@testable import OAuth

struct JWKSTests {
    let key: RSATestKey
    let server: TestHTTPServer
    init() throws {
        key = try RSATestKey.shared.get()
        server = try TestHTTPServer.shared.get()
    }

    static let claims: JSON = ["iss": "ISSUER", "exp": 4_000_000_000, "token_use": "access", "client_id": "c"]

    func token(kid: String, issuer: String = "ISSUER") throws -> String {
        var claims = Self.claims.object ?? [:]
        claims["iss"] = .string(issuer)
        return try key.token(header: ["alg": "RS256", "kid": .string(kid)], claims: .object(claims))
    }

    @Test func parsesRSAKeysAndSkipsOthers() throws {
        let doc = #"""
        {"keys":[{"kty":"EC","kid":"ec1","crv":"P-256","x":"AA","y":"AA"},
                 {"kty":"RSA","kid":"r1","n":"AQAB","e":"AQAB","alg":"RS256","use":"sig"},
                 {"kty":"RSA","kid":"enc","n":"AQAB","e":"AQAB","use":"enc"}]}
        """#
        let jwks = try JWKS(parsing: Array(doc.utf8))
        #expect(jwks.keys.map(\.kid) == ["r1", "enc"])
        #expect(jwks.keys.first?.exponent == [1, 0, 1])
        #expect(!jwks.signingKeys(kid: "r1").isEmpty)
        #expect(jwks.signingKeys(kid: "enc").isEmpty)  // an encryption key never checks a signature
        #expect(jwks.signingKeys(kid: "ec1").isEmpty)
        #expect(throws: JWKSError.self) { try JWKS(parsing: Array(#"{"keys":[{"kty":"RSA","kid":"x","e":"AQAB"}]}"#.utf8)) }
        #expect(throws: JWKSError.self) { try JWKS(parsing: Array(#"{"nokeys":[]}"#.utf8)) }
        #expect(throws: JWKSError.self) { try JWKS(parsing: Array("<html>".utf8)) }
    }

    @Test func cognitoLocations() {
        #expect(Cognito.issuer(region: "us-east-1", userPoolId: "us-east-1_Ab") == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab")
        #expect(Cognito.jwks(region: "us-east-1", userPoolId: "us-east-1_Ab")
            == .url("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab/.well-known/jwks.json"))
        #expect(Cognito.emulatorJWKS(endpoint: "http://localhost:5000/", userPoolId: "us-east-1_Ab")
            == .url("http://localhost:5000/us-east-1_Ab/.well-known/jwks.json"))
        #expect(OIDCDiscovery.configurationURL(issuer: "https://kc.example/realms/r/")
            == "https://kc.example/realms/r/.well-known/openid-configuration")
    }

    @Test func cacheFetchesOnceAndRefetchesOnceForAnUnknownKid() async throws {
        let path = uniquePath() + "/.well-known/jwks.json"
        let url = server.baseURL + path
        try await server.route(path, body: key.jwksJSON(kids: ["k1"]))
        let cache = JWKSCache(refetchInterval: 0)
        let verifier = JWTVerifier(keys: RemoteJWKS(location: .url(url), cache: cache), policy: JWTPolicy(issuer: "ISSUER"))

        _ = try await verifier.verify(try token(kid: "k1"))
        _ = try await verifier.verify(try token(kid: "k1"))
        #expect(await cache.fetchCount(url: url) == 1)  // the second token used the cache

        try await server.route(path, body: key.jwksJSON(kids: ["k1", "k2"]))  // the issuer rotates keys
        _ = try await verifier.verify(try token(kid: "k2"))
        #expect(await cache.fetchCount(url: url) == 2)

        await #expect(throws: JWTError.unknownKeyID("k3")) { try await verifier.verify(try token(kid: "k3")) }
        #expect(await cache.fetchCount(url: url) == 3)  // exactly one refetch for the unknown kid
        #expect(try await server.seen(path).count == 3)  // and they were real HTTP requests
    }

    @Test func unknownKidsDoNotRefetchWithinTheInterval() async throws {
        let path = uniquePath() + "/jwks.json"
        let url = server.baseURL + path
        try await server.route(path, body: key.jwksJSON(kids: ["k1"]))
        let cache = JWKSCache(refetchInterval: 3600)
        let keys = RemoteJWKS(location: .url(url), cache: cache)
        #expect(try await !keys.signingKeys(kid: "k1").isEmpty)
        #expect(try await keys.signingKeys(kid: "forged-1").isEmpty)
        #expect(try await keys.signingKeys(kid: "forged-2").isEmpty)
        #expect(await cache.fetchCount(url: url) == 1)
    }

    @Test func discoversTheJWKSFromTheIssuer() async throws {
        let prefix = uniquePath()
        let issuer = server.baseURL + prefix
        try await server.route(prefix + "/.well-known/openid-configuration",
                               body: JSON.object(["issuer": .string(issuer), "jwks_uri": .string(issuer + "/certs")]).serialized())
        try await server.route(prefix + "/certs", body: key.jwksJSON(kids: ["k1"]))
        let verifier = JWTVerifier(keys: RemoteJWKS(location: .discover(issuer: issuer)), policy: JWTPolicy(issuer: issuer))
        let claims = try await verifier.verify(try token(kid: "k1", issuer: issuer))
        #expect(claims.issuer == issuer)
        #expect(try await server.seen(prefix + "/certs").count == 1)
    }

    @Test func discoveryNamingAnotherIssuerIsRefused() async throws {
        let prefix = uniquePath()
        let issuer = server.baseURL + prefix
        try await server.route(prefix + "/.well-known/openid-configuration",
                               body: #"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/keys"}"#)
        await #expect(throws: JWKSError.discoveryFailed(issuer: issuer, reason: "the document declares issuer https://evil.example")) {
            try await OIDCDiscovery.jwksURI(issuer: issuer)
        }
    }

    /// A JWKS is a few KiB; a huge answer (a hostile or broken issuer) is refused, not parsed.
    @Test func oversizedDocumentIsRefused() async throws {
        let path = uniquePath() + "/jwks.json"
        let padded = key.jwksJSON(kids: ["k1"]) + String(repeating: " ", count: fetchLimitBytes)
        try await server.route(path, body: padded)
        await #expect(throws: JWKSError.tooLarge(url: server.baseURL + path, bytes: padded.utf8.count)) {
            try await RemoteJWKS(location: .url(server.baseURL + path)).signingKeys(kid: "k1")
        }
    }

    @Test func fetchFailuresAreReported() async throws {
        let path = uniquePath() + "/jwks.json"
        try await server.route(path, status: 500, contentType: "text/plain", body: "boom")
        await #expect(throws: JWKSError.fetchFailed(url: server.baseURL + path, reason: "HTTP 500")) {
            try await RemoteJWKS(location: .url(server.baseURL + path)).signingKeys(kid: "k1")
        }
    }
}
