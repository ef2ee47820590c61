import AWSClient
import Crypto
import Foundation
import Testing
@testable import OAuth

/// `verify` forges tokens with a key of its own: they must be real RS256 signatures (so an
/// authorizer refuses them for the key, not for being malformed), made by that key only.
struct JWTSignerTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let claims: [String: JSON] = ["iss": "https://issuer.example", "sub": "s", "token_use": "access", "client_id": "c",
                                         "iat": .number(1_700_000_000), "exp": .number(1_700_000_300)]

    @Test func aForgedTokenVerifiesWithItsOwnKeyOnly() async throws {
        let key = try #require(RSAPrivateKey())
        let pub = try #require(key.publicKey)
        #expect(pub.exponent == [0x01, 0x00, 0x01] && pub.modulus.count == 256)
        let token = try #require(JWTSigner.sign(claims: Self.claims, kid: "k1", key: key))
        let jwt = try DecodedJWT(token)
        #expect(jwt.header.alg == "RS256" && jwt.header.kid == "k1" && jwt.claims.clientID == "c")

        let own = JWKS(keys: [JWK(kid: "k1", modulus: pub.modulus, exponent: pub.exponent, alg: "RS256", use: "sig")])
        let policy = JWTPolicy(issuer: "https://issuer.example", tokenUse: .access, clientIDs: ["c"])
        let claims = try await JWTVerifier(keys: own, policy: policy).verify(token, now: Self.now)
        #expect(claims.subject == "s")

        // The issuer's real key (openssl-made) under the same kid refuses it: the signature.
        let issuerKey = try RSATestKey.shared.get()
        await #expect(throws: JWTError.badSignature(kid: "k1")) {
            try await JWTVerifier(keys: JWKS(keys: [issuerKey.jwk(kid: "k1")]), policy: policy).verify(token, now: Self.now)
        }
    }

    @Test func everyKeyIsNew() throws {
        let a = try #require(RSAPrivateKey()?.publicKey), b = try #require(RSAPrivateKey()?.publicKey)
        #expect(a.modulus != b.modulus)
    }
}
