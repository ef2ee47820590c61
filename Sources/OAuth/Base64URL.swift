/// Base64url without padding (RFC 4648 §5), the encoding of JWT segments, PKCE values and JWK numbers.
public enum Base64URL {
    /// Encodes bytes as base64url without `=` padding.
    public static func encode<D: Collection>(_ bytes: D) -> String where D.Element == UInt8 {
        Base64Codec.encode(Array(bytes), alphabet: Base64Codec.urlAlphabet, pad: false)
    }

    /// Decodes base64url, with or without trailing `=` padding. Returns nil for any character
    /// outside the alphabet (including `+` and `/` of standard base64), an impossible length or
    /// non-zero trailing bits, so a token has exactly one spelling.
    public static func decode(_ text: String) -> [UInt8]? {
        Base64Codec.decode(Array(text.utf8), alphabet: Base64Codec.urlAlphabet)
    }
}

/// The shared codec behind base64url and the standard base64 that HTTP Basic auth uses.
enum Base64Codec {
    static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding (RFC 4648 §4).
    static func standard(_ bytes: [UInt8]) -> String { encode(bytes, alphabet: standardAlphabet, pad: true) }

    static func encode(_ bytes: [UInt8], alphabet: [UInt8], pad: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(v >> UInt32(shift) & 0x3f)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(v >> 18 & 0x3f)])
            out.append(alphabet[Int(v >> 12 & 0x3f)])
            if pad { out.append(contentsOf: Array("==".utf8)) }
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 0x3f)])
            out.append(alphabet[Int(v >> 12 & 0x3f)])
            out.append(alphabet[Int(v >> 6 & 0x3f)])
            if pad { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ input: [UInt8], alphabet: [UInt8]) -> [UInt8]? {
        var chars = input[...]
        // Up to two trailing '=' are tolerated; '=' anywhere else is invalid.
        var padding = 0
        while chars.last == UInt8(ascii: "="), padding < 2 {
            chars = chars.dropLast()
            padding += 1
        }
        if padding > 0, input.count % 4 != 0 { return nil }
        if chars.count % 4 == 1 { return nil }

        var table = [Int8](repeating: -1, count: 256)
        for (value, char) in alphabet.enumerated() { table[Int(char)] = Int8(value) }

        var out = [UInt8]()
        out.reserveCapacity(chars.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for char in chars {
            let value = table[Int(char)]
            guard value >= 0 else { return nil }
            acc = acc << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(acc >> UInt32(bits) & 0xff))
            }
        }
        // Leftover bits must be zero, or two different strings would decode to the same bytes.
        if bits > 0, acc & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }
}
