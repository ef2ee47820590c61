import AWSClient
import Crypto
import Foundation
import Testing
@testable import OAuth

/// Tokens signed by openssl with a real RSA key, checked by the verifier.
struct JWTVerifierTests {
    static let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let t = 1_700_000_000

    let key: RSATestKey
    init() throws { key = try RSATestKey.shared.get() }

    static let header: JSON = ["alg": "RS256", "kid": "k1", "typ": "JWT"]

    /// A Cognito-shaped access token's claims, with `changes` applied (`.null` removes a claim).
    static func access(_ changes: [String: JSON] = [:]) -> JSON {
        var claims: [String: JSON] = [
            "sub": "user-1", "iss": .string(issuer), "token_use": "access", "client_id": "client-1",
            "scope": "openid HelloAPI/hello.read", "iat": .number(Double(t - 10)), "exp": .number(Double(t + 3600)),
            "username": "Testuser",
        ]
        for (name, value) in changes { if value == .null { claims.removeValue(forKey: name) } else { claims[name] = value } }
        return .object(claims)
    }

    static func id(_ changes: [String: JSON] = [:]) -> JSON {
        var claims = access(["token_use": "id", "client_id": .null, "scope": .null, "aud": "client-1"]).object ?? [:]
        for (name, value) in changes { if value == .null { claims.removeValue(forKey: name) } else { claims[name] = value } }
        return .object(claims)
    }

    static let policy = JWTPolicy(issuer: issuer, tokenUse: .access, clientIDs: ["client-1"],
                                  requiredScopes: ["HelloAPI/hello.read", "HelloAPI/hello.write"])

    func verify(_ token: String, _ policy: JWTPolicy = policy, now: Date = now) async throws -> JWTClaims {
        try await JWTVerifier(keys: JWKS(keys: [key.jwk(kid: "k1")]), policy: policy).verify(token, now: now)
    }

    /// The JWTError a token is refused with (nil if accepted or refused otherwise).
    func rejection(_ token: String, _ policy: JWTPolicy = policy, now: Date = now) async -> JWTError? {
        do {
            _ = try await verify(token, policy, now: now)
            Issue.record("token was accepted")
            return nil
        } catch let error as JWTError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    func sign(_ claims: JSON, header: JSON = header) throws -> String { try key.token(header: header, claims: claims) }

    @Test func validAccessTokenIsAccepted() async throws {
        let claims = try await verify(try sign(Self.access()))
        #expect(claims.clientID == "client-1")
        #expect(claims.tokenUse == "access")
        #expect(claims.scopes == ["openid", "HelloAPI/hello.read"])
        #expect(claims.username == "Testuser")
        #expect(claims.expiresAt == Date(timeIntervalSince1970: Double(Self.t + 3600)))
        let decoded = try DecodedJWT(try sign(Self.access()))
        #expect(decoded.header.alg == "RS256" && decoded.header.kid == "k1" && decoded.header.typ == "JWT")
    }

    @Test func algNoneIsRejected() async throws {
        let unsigned = Base64URL.encode(Array(#"{"alg":"none","kid":"k1"}"#.utf8)) + "."
            + Base64URL.encode(Array(Self.access().serialized().utf8)) + "."
        #expect(await rejection(unsigned) == .unsupportedAlgorithm("none"))
    }

    @Test func hs256SignedWithThePublicKeyIsRejected() async throws {
        // The classic confusion attack: HMAC keyed with the (public) RSA key.
        let input = Base64URL.encode(Array(#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#.utf8)) + "."
            + Base64URL.encode(Array(Self.access().serialized().utf8))
        let forged = input + "." + Base64URL.encode(Crypto.hmacSHA256(key: try key.publicPEM(), data: Array(input.utf8)))
        #expect(await rejection(forged) == .unsupportedAlgorithm("HS256"))
    }

    @Test func unknownKidIsRejected() async throws {
        let token = try sign(Self.access(), header: ["alg": "RS256", "kid": "k9"])
        #expect(await rejection(token) == .unknownKeyID("k9"))
        let noKid = try sign(Self.access(), header: ["alg": "RS256"])
        #expect(await rejection(noKid) == .missingKeyID)
    }

    @Test func alteredPayloadFailsTheSignatureCheckFirst() async throws {
        let parts = try sign(Self.access()).split(separator: ".").map(String.init)
        // Grant itself hello.write: the signature no longer matches.
        let upgraded = Base64URL.encode(Array(Self.access(["scope": "HelloAPI/hello.write"]).serialized().utf8))
        #expect(await rejection(parts[0] + "." + upgraded + "." + parts[2]) == .badSignature(kid: "k1"))
        // A forged payload that also breaks every claim check is still reported as a bad signature.
        let everythingWrong = Base64URL.encode(Array(Self.access(["iss": "evil", "exp": 1, "client_id": "x"]).serialized().utf8))
        #expect(await rejection(parts[0] + "." + everythingWrong + "." + parts[2]) == .badSignature(kid: "k1"))
    }

    /// A JWKS may repeat a kid (mid-rotation, or by mistake): each key with it is tried.
    @Test func duplicateKidTriesEachKey() async throws {
        let other = try RSATestKey.other.get()
        let keys = JWKS(keys: [other.jwk(kid: "k1"), key.jwk(kid: "k1")])
        let claims = try await JWTVerifier(keys: keys, policy: Self.policy).verify(try sign(Self.access()), now: Self.now)
        #expect(claims.clientID == "client-1")
        let forged = try RSATestKey.weak.get().token(header: Self.header, claims: Self.access())
        await #expect(throws: JWTError.badSignature(kid: "k1")) {
            try await JWTVerifier(keys: keys, policy: Self.policy).verify(forged, now: Self.now)
        }
    }

    /// A 1024-bit key is refused even when the signature made with it is valid.
    @Test func rsaKeysUnder2048BitsAreRefused() async throws {
        let weak = try RSATestKey.weak.get()
        #expect(weak.jwk(kid: "w").modulusBits == 1024 && key.jwk(kid: "k1").modulusBits == 2048)
        let token = try weak.token(header: ["alg": "RS256", "kid": "w"], claims: Self.access())
        await #expect(throws: JWTError.weakKey(kid: "w", bits: 1024)) {
            try await JWTVerifier(keys: JWKS(keys: [weak.jwk(kid: "w")]), policy: Self.policy).verify(token, now: Self.now)
        }
    }

    @Test func tokenSignedByAnotherKeyIsRejected() async throws {
        let other = try RSATestKey.other.get()
        let token = try other.token(header: Self.header, claims: Self.access())
        #expect(await rejection(token) == .badSignature(kid: "k1"))
    }

    @Test func expiredTokenIsRejectedBeyondTheLeeway() async throws {
        let exp = Self.t - 120
        #expect(await rejection(try sign(Self.access(["exp": .number(Double(exp))])))
            == .expired(expiresAt: Date(timeIntervalSince1970: Double(exp)), now: Self.now))
        // 30 s past exp is within the default 60 s leeway; with no leeway it is not.
        let recent = try sign(Self.access(["exp": .number(Double(Self.t - 30))]))
        _ = try await verify(recent)
        var strict = Self.policy
        strict.leeway = 0
        #expect(await rejection(recent, strict) == .expired(expiresAt: Date(timeIntervalSince1970: Double(Self.t - 30)), now: Self.now))
        #expect(await rejection(try sign(Self.access(["exp": .null]))) == .invalidClaim(name: "exp", reason: "is missing"))
    }

    @Test func notYetValidTokenIsRejected() async throws {
        let nbf = Self.t + 300
        #expect(await rejection(try sign(Self.access(["nbf": .number(Double(nbf))])))
            == .notYetValid(notBefore: Date(timeIntervalSince1970: Double(nbf)), now: Self.now))
    }

    @Test func tokenIssuedInTheFutureIsRejected() async throws {
        let iat = Self.t + 300
        #expect(await rejection(try sign(Self.access(["iat": .number(Double(iat))])))
            == .issuedInFuture(issuedAt: Date(timeIntervalSince1970: Double(iat)), now: Self.now))
    }

    @Test func wrongIssuerIsRejected() async throws {
        let evil = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EVIL"
        #expect(await rejection(try sign(Self.access(["iss": .string(evil)]))) == .wrongIssuer(expected: Self.issuer, actual: evil))
    }

    @Test func wrongClientIDIsRejected() async throws {
        #expect(await rejection(try sign(Self.access(["client_id": "other-client"])))
            == .wrongClientID(actual: "other-client", allowed: ["client-1"]))
    }

    @Test func idTokenWhereAccessTokenRequiredIsRejected() async throws {
        #expect(await rejection(try sign(Self.id())) == .wrongTokenUse(expected: "access", actual: "id"))
    }

    @Test func idTokenAudienceIsChecked() async throws {
        let policy = JWTPolicy(issuer: Self.issuer, tokenUse: .id, clientIDs: ["client-1"])
        _ = try await verify(try sign(Self.id()), policy)
        _ = try await verify(try sign(Self.id(["aud": ["x", "client-1"]])), policy)
        #expect(await rejection(try sign(Self.id(["aud": "client-2"])), policy)
            == .wrongAudience(actual: ["client-2"], allowed: ["client-1"]))
    }

    @Test func missingScopeIsRejected() async throws {
        #expect(await rejection(try sign(Self.access(["scope": "openid profile"])))
            == .missingScopes(required: ["HelloAPI/hello.read", "HelloAPI/hello.write"], granted: ["openid", "profile"], matchAll: false))
    }

    @Test func scopesUseOrSemanticsByDefaultAndAndOnRequest() async throws {
        let writeOnly = try sign(Self.access(["scope": "HelloAPI/hello.write"]))
        let both = try sign(Self.access(["scope": "HelloAPI/hello.read HelloAPI/hello.write"]))
        _ = try await verify(writeOnly)  // one of the two suffices, as API Gateway's route scopes
        var all = Self.policy
        all.scopeMatch = .all
        #expect(await rejection(writeOnly, all)
            == .missingScopes(required: ["HelloAPI/hello.read", "HelloAPI/hello.write"], granted: ["HelloAPI/hello.write"], matchAll: true))
        _ = try await verify(both, all)
    }

    @Test func malformedTokensAreRejected() async throws {
        let good = try sign(Self.access())
        let parts = good.split(separator: ".").map(String.init)
        for bad in ["", "abc", "a.b", parts[0] + "." + parts[1], good + ".x", "!!." + parts[1] + "." + parts[2],
                    Base64URL.encode(Array("not json".utf8)) + "." + parts[1] + "." + parts[2],
                    Base64URL.encode(Array("[1]".utf8)) + "." + parts[1] + "." + parts[2]] {
            guard case .malformed = await rejection(bad) else {
                Issue.record("\(bad) not reported as malformed")
                continue
            }
        }
    }

    @Test func errorsReadClearly() {
        #expect(JWTError.unsupportedAlgorithm("none").description == "unsupported JWT algorithm \"none\": only RS256 is accepted")
        #expect(JWTError.expired(expiresAt: Date(timeIntervalSince1970: 0), now: Date(timeIntervalSince1970: 60)).description
            == "JWT expired at 1970-01-01T00:00:00Z (now 1970-01-01T00:01:00Z)")
        #expect(JWTError.missingScopes(required: ["a", "b"], granted: [], matchAll: false).description.contains("one of"))
    }
}
