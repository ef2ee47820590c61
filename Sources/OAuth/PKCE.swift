import Crypto

/// Proof Key for Code Exchange (RFC 7636) with the S256 method, plus the `state` value that
/// protects the redirect against cross-site request forgery.
public enum PKCE {
    /// A fresh code verifier: base64url of `byteCount` CSPRNG bytes, i.e. 43 characters for the
    /// default 32 bytes (256 bits of entropy) and at most 128 for 96 bytes, all from the
    /// unreserved set RFC 7636 §4.1 allows.
    public static func generateVerifier(byteCount: Int = 32) -> String {
        // 32...96 bytes are exactly the lengths whose encoding falls in RFC 7636's 43...128.
        let count = min(max(byteCount, 32), 96)
        return Base64URL.encode(Crypto.randomBytes(count))
    }

    /// `BASE64URL(SHA256(ASCII(verifier)))`, the `code_challenge` for `code_challenge_method=S256`.
    public static func challengeS256(verifier: String) -> String {
        Base64URL.encode(Crypto.sha256(Array(verifier.utf8)))
    }

    /// Whether `verifier` has the length and characters RFC 7636 §4.1 requires.
    public static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count) && verifier.utf8.allSatisfy(URLEncoding.isUnreserved)
    }

    /// An unguessable `state` value (128 bits, base64url).
    public static func generateState() -> String {
        Base64URL.encode(Crypto.randomBytes(16))
    }
}
