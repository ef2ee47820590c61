import CCryptoShim

/// Hashing, HMAC, RSA signature verification and randomness from the system's OpenSSL
/// libcrypto. Everything here is a thin, allocation-light wrapper: the algorithms live in
/// OpenSSL, this file only moves bytes across the C boundary.
public enum Crypto {
    /// SHA-256 digest (32 bytes).
    public static func sha256<D: Collection>(_ data: D) -> [UInt8] where D.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: 32)
        let bytes = Array(data)
        let ok = bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                shim_sha256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        precondition(ok == 1, "OpenSSL SHA-256 failed")  // only on memory exhaustion
        return out
    }

    /// HMAC-SHA256 (32 bytes).
    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    shim_hmac_sha256(k.baseAddress, k.count, d.baseAddress, d.count, o.baseAddress)
                }
            }
        }
        precondition(ok == 1, "OpenSSL HMAC-SHA256 failed")
        return out
    }

    public static func hmacSHA256(key: [UInt8], string: String) -> [UInt8] {
        hmacSHA256(key: key, data: Array(string.utf8))
    }

    /// The outcome of an RSA signature check.
    public enum SignatureCheck: Sendable, Equatable {
        case valid
        case invalid
        case unusableKey
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256"), key given as a JWK's modulus and exponent.
    public static func verifyRS256(modulus: [UInt8], exponent: [UInt8], message: [UInt8],
                                   signature: [UInt8]) -> SignatureCheck {
        let result = modulus.withUnsafeBufferPointer { n in
            exponent.withUnsafeBufferPointer { e in
                message.withUnsafeBufferPointer { m in
                    signature.withUnsafeBufferPointer { s in
                        shim_rsa_pkcs1_sha256_verify(n.baseAddress, n.count, e.baseAddress, e.count,
                                                     m.baseAddress, m.count, s.baseAddress, s.count)
                    }
                }
            }
        }
        switch result {
        case 1: return .valid
        case 0: return .invalid
        default: return .unusableKey
        }
    }

    /// Bytes from OpenSSL's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { shim_random_bytes($0.baseAddress, $0.count) }
        precondition(ok == 1, "OpenSSL RAND_bytes failed")
        return out
    }
}

/// An RSA private key of our own, made in memory and never stored: `verify` signs forged tokens
/// with it (tokens a real authorizer must refuse).
// OpenSSL's EVP_PKEY is safe to sign with from several threads once made; the handle never changes.
public final class RSAPrivateKey: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    /// A fresh 2048-bit key, or nil when OpenSSL cannot make one.
    public init?(bits: Int32 = 2048) {
        guard let handle = shim_rsa_generate(bits) else { return nil }
        self.handle = handle
    }

    deinit { shim_rsa_free(handle) }

    /// The public modulus and exponent (big-endian), as a JWK's n and e carry them.
    public var publicKey: (modulus: [UInt8], exponent: [UInt8])? {
        var n = [UInt8](repeating: 0, count: 1024), e = [UInt8](repeating: 0, count: 16)
        var nLength = n.count, eLength = e.count
        let ok = n.withUnsafeMutableBufferPointer { nb in
            e.withUnsafeMutableBufferPointer { eb in shim_rsa_public(handle, nb.baseAddress, &nLength, eb.baseAddress, &eLength) }
        }
        guard ok == 1 else { return nil }
        return (Array(n.prefix(nLength)), Array(e.prefix(eLength)))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256"); nil if OpenSSL fails.
    public func signRS256(_ message: [UInt8]) -> [UInt8]? {
        var signature = [UInt8](repeating: 0, count: 1024)
        var length = signature.count
        let ok = message.withUnsafeBufferPointer { m in
            signature.withUnsafeMutableBufferPointer { s in
                shim_rsa_pkcs1_sha256_sign(handle, m.baseAddress, m.count, s.baseAddress, &length)
            }
        }
        guard ok == 1 else { return nil }
        return Array(signature.prefix(length))
    }
}

extension Collection where Element == UInt8 {
    /// Lower-case hexadecimal, as SigV4 writes digests and signatures.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var chars = [UInt8]()
        chars.reserveCapacity(count * 2)
        for byte in self {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }
}
