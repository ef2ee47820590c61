import AWSClient
import Foundation

/// The JOSE header of a JWT.
public struct JWTHeader: Sendable, Equatable {
    /// Signature algorithm, e.g. "RS256".
    public var alg: String
    /// Key id: which JWKS key signed the token.
    public var kid: String?
    public var typ: String?
    /// Every header field, for anything not modelled above.
    public var fields: [String: JSON]
}

/// The claims (payload) of a JWT, with typed access to the ones Cognito and OIDC use.
public struct JWTClaims: Sendable, Equatable {
    /// Every claim as decoded.
    public var fields: [String: JSON]

    public init(fields: [String: JSON]) { self.fields = fields }

    public subscript(name: String) -> JSON? { fields[name] }

    public var issuer: String? { fields["iss"]?.string }
    public var subject: String? { fields["sub"]?.string }
    /// `aud` as a list whether the token carries a string or an array.
    public var audience: [String] {
        if let one = fields["aud"]?.string { return [one] }
        return fields["aud"]?.array?.compactMap(\.string) ?? []
    }
    /// Cognito's "access" or "id".
    public var tokenUse: String? { fields["token_use"]?.string }
    /// The app client an access token was issued to (Cognito puts it here, not in `aud`).
    public var clientID: String? { fields["client_id"]?.string }
    /// Scopes from the space-separated `scope` claim (an array is accepted too).
    public var scopes: [String] {
        if let text = fields["scope"]?.string { return text.split(separator: " ").map(String.init) }
        return fields["scope"]?.array?.compactMap(\.string) ?? []
    }
    public var username: String? { fields["username"]?.string ?? fields["cognito:username"]?.string }
    public var expiresAt: Date? { date("exp") }
    public var notBefore: Date? { date("nbf") }
    public var issuedAt: Date? { date("iat") }

    /// A NumericDate claim (seconds since the epoch); nil when absent or not a number.
    public func date(_ name: String) -> Date? {
        fields[name]?.double.map { Date(timeIntervalSince1970: $0) }
    }
}

/// A JWT split and decoded, not yet verified: nothing in it is to be trusted before
/// `JWTVerifier` has checked the signature.
public struct DecodedJWT: Sendable {
    public var header: JWTHeader
    public var claims: JWTClaims
    /// `base64url(header) + "." + base64url(payload)`: the bytes the signature covers.
    public var signingInput: [UInt8]
    public var signature: [UInt8]

    /// Splits a compact JWS and decodes its header and payload JSON objects.
    public init(_ token: String) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw JWTError.malformed("expected 3 dot-separated segments, found \(parts.count)")
        }
        guard !parts[0].isEmpty, !parts[1].isEmpty else { throw JWTError.malformed("empty header or payload segment") }
        let header = try Self.jsonObject(String(parts[0]), name: "header")
        let payload = try Self.jsonObject(String(parts[1]), name: "payload")
        // An empty signature is structurally possible (alg "none"); the algorithm check refuses it.
        guard let signature = Base64URL.decode(String(parts[2])) else {
            throw JWTError.malformed("signature is not base64url")
        }
        guard let alg = header["alg"]?.string else { throw JWTError.malformed("header has no \"alg\" string") }
        if header["kid"] != nil, header["kid"]?.string == nil { throw JWTError.malformed("header \"kid\" is not a string") }
        self.header = JWTHeader(alg: alg, kid: header["kid"]?.string, typ: header["typ"]?.string, fields: header)
        self.claims = JWTClaims(fields: payload)
        self.signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
    }

    private static func jsonObject(_ segment: String, name: String) throws -> [String: JSON] {
        guard let bytes = Base64URL.decode(segment) else { throw JWTError.malformed("\(name) is not base64url") }
        let json: JSON
        do {
            json = try JSON(parsing: bytes)
        } catch {
            throw JWTError.malformed("\(name) is not JSON (\(error))")
        }
        guard let object = json.object else { throw JWTError.malformed("\(name) is not a JSON object") }
        return object
    }
}
