import AWSClient
import Crypto

/// Makes RS256 JWTs with a key of our own. Nothing trusts that key: `verify` uses these tokens
/// to prove that an authorizer refuses a signature it cannot check against the issuer's JWKS.
public enum JWTSigner {
    /// `base64url(header).base64url(claims).base64url(RS256 signature)`, or nil if OpenSSL fails.
    public static func sign(claims: [String: JSON], kid: String, key: RSAPrivateKey) -> String? {
        let header: JSON = ["alg": "RS256", "typ": "JWT", "kid": .string(kid)]
        let input = Base64URL.encode(Array(header.serialized().utf8)) + "." + Base64URL.encode(Array(JSON.object(claims).serialized().utf8))
        guard let signature = key.signRS256(Array(input.utf8)) else { return nil }
        return input + "." + Base64URL.encode(signature)
    }
}
