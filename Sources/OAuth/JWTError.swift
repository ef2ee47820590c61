import Foundation

/// Why a JWT was refused: one case per check, in the order `JWTVerifier` runs them.
public enum JWTError: Error, Equatable, CustomStringConvertible {
    /// Not three base64url segments, or a header or payload that is not a JSON object.
    case malformed(String)
    /// `alg` is anything but RS256 (`none`, HS256, ...): other algorithms are never tried.
    case unsupportedAlgorithm(String)
    /// The header names no `kid`, so no key can be chosen.
    case missingKeyID
    /// No RS256 signing key with this `kid` in the JWKS, even after refetching it.
    case unknownKeyID(String)
    /// The JWKS key with this `kid` is not a usable RSA public key.
    case unusableKey(kid: String)
    /// The JWKS key with this `kid` is an RSA key shorter than 2048 bits.
    case weakKey(kid: String, bits: Int)
    /// The signature does not verify with the key named by `kid`.
    case badSignature(kid: String)
    /// A claim the checks need is absent or has the wrong JSON type.
    case invalidClaim(name: String, reason: String)
    /// `exp` (plus leeway) is not after now.
    case expired(expiresAt: Date, now: Date)
    /// `nbf` is later than now (plus leeway).
    case notYetValid(notBefore: Date, now: Date)
    /// `iat` is later than now (plus leeway).
    case issuedInFuture(issuedAt: Date, now: Date)
    case wrongIssuer(expected: String, actual: String?)
    /// `token_use` is not the kind required ("access" or "id").
    case wrongTokenUse(expected: String, actual: String?)
    /// An access token's `client_id` is not one of the allowed app clients.
    case wrongClientID(actual: String?, allowed: [String])
    /// No value of an ID token's `aud` is one of the allowed app clients.
    case wrongAudience(actual: [String], allowed: [String])
    /// The `scope` claim lacks the required scopes (`matchAll` false: none of them was present).
    case missingScopes(required: [String], granted: [String], matchAll: Bool)

    public var description: String {
        switch self {
        case .malformed(let reason):
            return "malformed JWT: \(reason)"
        case .unsupportedAlgorithm(let alg):
            return "unsupported JWT algorithm \"\(alg)\": only RS256 is accepted"
        case .missingKeyID:
            return "JWT header has no \"kid\", so no signing key can be chosen"
        case .unknownKeyID(let kid):
            return "unknown key id: no RS256 signing key with kid \"\(kid)\" in the JWKS"
        case .unusableKey(let kid):
            return "the JWKS key \"\(kid)\" is not a usable RSA public key"
        case .weakKey(let kid, let bits):
            return "the JWKS key \"\(kid)\" is a \(bits)-bit RSA key: keys under \(JWK.minimumModulusBits) bits are refused"
        case .badSignature(let kid):
            return "bad signature: the JWT does not verify with key \"\(kid)\" (altered, or signed by another key)"
        case .invalidClaim(let name, let reason):
            return "JWT claim \"\(name)\" \(reason)"
        case .expired(let exp, let now):
            return "JWT expired at \(Self.time(exp)) (now \(Self.time(now)))"
        case .notYetValid(let nbf, let now):
            return "JWT not valid yet: nbf is \(Self.time(nbf)) (now \(Self.time(now)))"
        case .issuedInFuture(let iat, let now):
            return "JWT issued in the future: iat is \(Self.time(iat)) (now \(Self.time(now)))"
        case .wrongIssuer(let expected, let actual):
            return "wrong issuer: expected \"\(expected)\", token has \(Self.quoted(actual))"
        case .wrongTokenUse(let expected, let actual):
            return "wrong token_use: an \(expected) token is required, token has \(Self.quoted(actual))"
        case .wrongClientID(let actual, let allowed):
            return "wrong client_id: \(Self.quoted(actual)) is not one of \(allowed)"
        case .wrongAudience(let actual, let allowed):
            return "wrong audience: aud \(actual) has none of \(allowed)"
        case .missingScopes(let required, let granted, let matchAll):
            let need = matchAll ? "all of" : "one of"
            return "missing scope: \(need) \(required) is required, token grants \(granted)"
        }
    }

    private static func quoted(_ s: String?) -> String { s.map { "\"\($0)\"" } ?? "none" }

    private static func time(_ date: Date) -> String { date.formatted(.iso8601) }
}
