/// Percent-encoding for the two places OAuth needs it: URL query parameters (RFC 3986) and
/// `application/x-www-form-urlencoded` bodies and Basic credentials (RFC 6749 Appendix B).
public enum URLEncoding {
    /// ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3).
    static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Percent-encodes every byte of the UTF-8 form except unreserved characters (space is `%20`).
    public static func percentEncode(_ text: String) -> String {
        encode(text, spaceAsPlus: false)
    }

    /// Form encoding: like `percentEncode` but space becomes `+`.
    public static func formEncode(_ text: String) -> String {
        encode(text, spaceAsPlus: true)
    }

    /// `name=value&...` in the given order, form-encoded.
    public static func formBody(_ fields: [(String, String)]) -> String {
        fields.map { formEncode($0.0) + "=" + formEncode($0.1) }.joined(separator: "&")
    }

    /// A query string's `name=value` pairs, decoded (`+` is space). Returns nil when an escape
    /// is malformed or the result is not UTF-8, so garbage is never half-decoded.
    public static func parseQuery(_ query: String) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = formDecode(String(kv[0])) else { return nil }
            let value = kv.count > 1 ? formDecode(String(kv[1])) : ""
            guard let value else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// Decodes `%XX` escapes and `+`; nil on a bad escape or invalid UTF-8.
    public static func formDecode(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "+") {
                out.append(0x20)
                i += 1
            } else if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        // Decoding repairs invalid UTF-8 with U+FFFD; a changed byte sequence means it was invalid.
        let text = String(decoding: out, as: UTF8.self)
        return Array(text.utf8) == out ? text : nil
    }

    private static func encode(_ text: String, spaceAsPlus: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for c in text.utf8 {
            if isUnreserved(c) {
                out.append(c)
            } else if c == 0x20, spaceAsPlus {
                out.append(UInt8(ascii: "+"))
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
