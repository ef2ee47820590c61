import Crypto
import Foundation

/// What a verified token must satisfy, modelled on API Gateway's JWT authorizer.
public struct JWTPolicy: Sendable, Equatable {
    /// The kind of token a check requires, Cognito's `token_use` claim.
    public enum TokenUse: String, Sendable {
        case access
        case id
    }

    /// How several required scopes combine.
    public enum ScopeMatch: Sendable {
        /// Any one suffices: API Gateway's semantics for a route's authorization scopes.
        case any
        /// Every one is needed.
        case all
    }

    /// Exact expected `iss`.
    public var issuer: String
    /// Required `token_use`, or nil to accept either kind.
    public var tokenUse: TokenUse?
    /// Allowed app clients, matched against `client_id` in access tokens and `aud` in ID tokens
    /// (like the authorizer's audience list). Empty: not checked.
    public var clientIDs: [String]
    /// Scopes the `scope` claim must grant. Empty: not checked.
    public var requiredScopes: [String]
    public var scopeMatch: ScopeMatch
    /// Tolerated clock skew for exp, nbf and iat.
    public var leeway: TimeInterval

    public init(issuer: String, tokenUse: TokenUse? = nil, clientIDs: [String] = [], requiredScopes: [String] = [],
                scopeMatch: ScopeMatch = .any, leeway: TimeInterval = 60) {
        self.issuer = issuer
        self.tokenUse = tokenUse
        self.clientIDs = clientIDs
        self.requiredScopes = requiredScopes
        self.scopeMatch = scopeMatch
        self.leeway = leeway
    }
}

/// Verifies RS256 JWTs against an issuer's keys and a `JWTPolicy`. Checks run in a fixed order
/// (structure, alg, key, signature, time, iss, token_use, client/aud, scopes) so a forged token
/// is always reported as a signature failure, never by a claim it chose to make.
public struct JWTVerifier: Sendable {
    public let keys: any JWKProvider
    public var policy: JWTPolicy

    public init(keys: any JWKProvider, policy: JWTPolicy) {
        self.keys = keys
        self.policy = policy
    }

    /// The token's claims when every check passes; otherwise a `JWTError` (or a `JWKSError`
    /// when the keys cannot be fetched). `now` is the clock, a parameter so tests can set it.
    public func verify(_ token: String, now: Date = Date()) async throws -> JWTClaims {
        let jwt = try DecodedJWT(token)
        // Only RS256: "none" and HMAC algorithms (which would use the public key as a secret) never run.
        guard jwt.header.alg == "RS256" else { throw JWTError.unsupportedAlgorithm(jwt.header.alg) }
        guard jwt.header.fields["crit"] == nil else { throw JWTError.malformed("unsupported critical header parameters") }
        guard let kid = jwt.header.kid else { throw JWTError.missingKeyID }
        let candidates = try await keys.signingKeys(kid: kid)
        guard !candidates.isEmpty else { throw JWTError.unknownKeyID(kid) }
        try Self.checkSignature(jwt, keys: candidates)
        try checkTime(jwt.claims, now: now)
        try checkClaims(jwt.claims)
        return jwt.claims
    }

    /// Valid when one of the keys sharing the kid verifies it; else the first key's refusal.
    static func checkSignature(_ jwt: DecodedJWT, keys: [JWK]) throws {
        var refusal: JWTError?
        for key in keys {
            let bits = key.modulusBits
            guard bits >= JWK.minimumModulusBits else {
                refusal = refusal ?? .weakKey(kid: key.kid, bits: bits)
                continue
            }
            switch Crypto.verifyRS256(modulus: key.modulus, exponent: key.exponent, message: jwt.signingInput,
                                      signature: jwt.signature) {
            case .valid: return
            case .invalid: refusal = refusal ?? .badSignature(kid: key.kid)
            case .unusableKey: refusal = refusal ?? .unusableKey(kid: key.kid)
            }
        }
        throw refusal ?? JWTError.unknownKeyID(jwt.header.kid ?? "")
    }

    func checkTime(_ claims: JWTClaims, now: Date) throws {
        // exp is required: a token that never expires is not one an API should accept.
        guard let exp = try numericDate(claims, "exp", required: true) else { return }
        if now.timeIntervalSince(exp) >= policy.leeway { throw JWTError.expired(expiresAt: exp, now: now) }
        if let nbf = try numericDate(claims, "nbf", required: false), nbf.timeIntervalSince(now) > policy.leeway {
            throw JWTError.notYetValid(notBefore: nbf, now: now)
        }
        if let iat = try numericDate(claims, "iat", required: false), iat.timeIntervalSince(now) > policy.leeway {
            throw JWTError.issuedInFuture(issuedAt: iat, now: now)
        }
    }

    private func numericDate(_ claims: JWTClaims, _ name: String, required: Bool) throws -> Date? {
        guard let value = claims[name] else {
            if required { throw JWTError.invalidClaim(name: name, reason: "is missing") }
            return nil
        }
        guard let date = claims.date(name) else { throw JWTError.invalidClaim(name: name, reason: "is not a number (\(value.serialized()))") }
        return date
    }

    func checkClaims(_ claims: JWTClaims) throws {
        guard claims.issuer == policy.issuer else {
            throw JWTError.wrongIssuer(expected: policy.issuer, actual: claims.issuer)
        }
        if let required = policy.tokenUse, claims.tokenUse != required.rawValue {
            throw JWTError.wrongTokenUse(expected: required.rawValue, actual: claims.tokenUse)
        }
        if !policy.clientIDs.isEmpty {
            // As API Gateway: an access token names its client in client_id, an ID token in aud;
            // a token without token_use (other issuers) is judged by aud when it has one.
            let useClientID = claims.tokenUse == "access" || (claims.tokenUse == nil && claims.audience.isEmpty)
            if useClientID {
                guard let client = claims.clientID, policy.clientIDs.contains(client) else {
                    throw JWTError.wrongClientID(actual: claims.clientID, allowed: policy.clientIDs)
                }
            } else if !claims.audience.contains(where: policy.clientIDs.contains) {
                throw JWTError.wrongAudience(actual: claims.audience, allowed: policy.clientIDs)
            }
        }
        if !policy.requiredScopes.isEmpty {
            let granted = claims.scopes
            let ok = switch policy.scopeMatch {
            case .any: policy.requiredScopes.contains(where: granted.contains)
            case .all: policy.requiredScopes.allSatisfy(granted.contains)
            }
            if !ok {
                throw JWTError.missingScopes(required: policy.requiredScopes, granted: granted,
                                             matchAll: policy.scopeMatch == .all)
            }
        }
    }
}
