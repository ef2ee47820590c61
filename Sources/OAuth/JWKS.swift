import AWSClient

/// One RSA public key from a JSON Web Key Set (RFC 7517/7518).
public struct JWK: Sendable, Equatable {
    public var kid: String
    /// Modulus `n`, big-endian bytes.
    public var modulus: [UInt8]
    /// Public exponent `e`, big-endian bytes.
    public var exponent: [UInt8]
    /// Optional `alg` and `use` as published.
    public var alg: String?
    public var use: String?

    public init(kid: String, modulus: [UInt8], exponent: [UInt8], alg: String? = nil, use: String? = nil) {
        self.kid = kid
        self.modulus = modulus
        self.exponent = exponent
        self.alg = alg
        self.use = use
    }

    /// Whether the key may check an RS256 signature: not reserved for encryption, no other alg.
    public var isRS256SigningKey: Bool {
        (use == nil || use == "sig") && (alg == nil || alg == "RS256")
    }

    /// RSA keys shorter than this are refused (NIST SP 800-57, RFC 7518 section 3.3).
    public static let minimumModulusBits = 2048

    /// The modulus length in bits, leading zero bytes ignored.
    public var modulusBits: Int {
        let significant = modulus.drop { $0 == 0 }
        guard let first = significant.first else { return 0 }
        return (significant.count - 1) * 8 + (8 - first.leadingZeroBitCount)
    }
}

/// A JSON Web Key Set: the RSA keys by `kid`. Keys of other types (EC, oct) are skipped, since
/// only RS256 is ever verified; a malformed RSA key makes the whole document invalid.
public struct JWKS: Sendable, Equatable {
    public var keys: [JWK]

    public init(keys: [JWK]) { self.keys = keys }

    /// Parses `{"keys":[{"kty":"RSA","kid":...,"n":...,"e":...}, ...]}`.
    public init(parsing bytes: [UInt8]) throws {
        let json: JSON
        do {
            json = try JSON(parsing: bytes)
        } catch {
            throw JWKSError.invalidDocument("not JSON (\(error))")
        }
        guard let entries = json["keys"]?.array else { throw JWKSError.invalidDocument("no \"keys\" array") }
        var keys: [JWK] = []
        for (index, entry) in entries.enumerated() {
            guard entry["kty"]?.string == "RSA" else { continue }
            guard let kid = entry["kid"]?.string else { throw JWKSError.invalidDocument("RSA key #\(index) has no kid") }
            guard let n = entry["n"]?.string.flatMap(Base64URL.decode), !n.isEmpty,
                  let e = entry["e"]?.string.flatMap(Base64URL.decode), !e.isEmpty
            else { throw JWKSError.invalidDocument("RSA key \"\(kid)\" lacks a base64url n or e") }
            keys.append(JWK(kid: kid, modulus: n, exponent: e, alg: entry["alg"]?.string, use: entry["use"]?.string))
        }
        self.keys = keys
    }

    /// The RS256 signing keys with this kid: usually one, but a set may repeat a kid (during a
    /// rotation, by mistake), and then each is tried.
    public func signingKeys(kid: String) -> [JWK] {
        keys.filter { $0.kid == kid && $0.isRS256SigningKey }
    }
}

/// Where the keys that sign a token can be found.
public protocol JWKProvider: Sendable {
    /// The RS256 signing keys with this kid; empty when the issuer does not publish one.
    func signingKeys(kid: String) async throws -> [JWK]
}

extension JWKS: JWKProvider {}

public enum JWKSError: Error, Equatable, CustomStringConvertible {
    case invalidDocument(String)
    /// The JWKS or discovery document could not be fetched (transport failure or HTTP status).
    case fetchFailed(url: String, reason: String)
    /// The OIDC discovery document is unusable (no jwks_uri, or it names another issuer).
    case discoveryFailed(issuer: String, reason: String)
    /// A JWKS or discovery document larger than `fetchLimitBytes`.
    case tooLarge(url: String, bytes: Int)

    public var description: String {
        switch self {
        case .invalidDocument(let reason): return "invalid JWKS: \(reason)"
        case .fetchFailed(let url, let reason): return "could not fetch \(url): \(reason)"
        case .discoveryFailed(let issuer, let reason): return "OIDC discovery for \(issuer) failed: \(reason)"
        case .tooLarge(let url, let bytes): return "refused \(url): \(bytes) bytes is over the \(fetchLimitBytes)-byte limit for a JWKS or discovery document"
        }
    }
}

/// Largest JWKS or discovery document accepted (real ones are a few KiB).
public let fetchLimitBytes = 1 << 20
