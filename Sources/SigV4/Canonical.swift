/// The canonicalisation rules of "Create a canonical request for Signature Version 4".

enum Canonical {
    /// RFC 3986 unreserved characters, the only ones left unescaped.
    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
            || b == 0x2d || b == 0x2e || b == 0x5f || b == 0x7e
    }

    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// UriEncode(): every byte but the unreserved ones as %XX (upper-case hex);
    /// `keepSlash` leaves '/' alone (for paths).
    static func uriEncode<S: Sequence>(_ bytes: S, keepSlash: Bool = false) -> String
    where S.Element == UInt8 {
        var out = [UInt8]()
        for b in bytes {
            if isUnreserved(b) || (keepSlash && b == 0x2f) {
                out.append(b)
            } else {
                out.append(0x25)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func uriEncode(_ s: String, keepSlash: Bool = false) -> String {
        uriEncode(s.utf8, keepSlash: keepSlash)
    }

    /// Decodes %XX escapes; a malformed escape stays as it is. '+' is not a space here:
    /// SigV4 treats the query as RFC 3986, not as an HTML form.
    static func percentDecode(_ s: Substring) -> [UInt8] {
        let bytes = Array(s.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25, i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]),
               let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// CanonicalURI.
    static func uri(_ path: String, normalize: Bool, encode: Bool) -> String {
        var p = path.isEmpty ? "/" : path
        if normalize { p = removeDotSegments(p) }
        guard encode else { return p }
        return uriEncode(p, keepSlash: true)
    }

    /// RFC 3986 §5.2.4 plus the AWS rule that empty segments (repeated slashes) go too.
    static func removeDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                continue
            }
            output.append(segment)
        }
        let leading = path.hasPrefix("/") ? "/" : ""
        let trailing = (path.hasSuffix("/") && !output.isEmpty) ? "/" : ""
        let joined = output.joined(separator: "/")
        let result = leading + joined + trailing
        return result.isEmpty ? "/" : result
    }

    /// One query parameter, decoded then re-encoded into canonical form.
    struct QueryItem: Comparable {
        var key: String
        var value: String
        static func < (a: QueryItem, b: QueryItem) -> Bool {
            // Byte order of the encoded forms (ASCII), key first then value.
            let ak = Array(a.key.utf8), bk = Array(b.key.utf8)
            if ak != bk { return ak.lexicographicallyPrecedes(bk) }
            return Array(a.value.utf8).lexicographicallyPrecedes(Array(b.value.utf8))
        }
    }

    static func queryItems(_ query: String?) -> [QueryItem] {
        guard let query, !query.isEmpty else { return [] }
        var items: [QueryItem] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let key: Substring, value: Substring
            if let eq = pair.firstIndex(of: "=") {
                key = pair[pair.startIndex..<eq]
                value = pair[pair.index(after: eq)...]
            } else {
                key = pair
                value = ""
            }
            items.append(QueryItem(key: uriEncode(percentDecode(key)),
                                   value: uriEncode(percentDecode(value))))
        }
        return items
    }

    /// CanonicalQueryString: sorted by encoded key, then value; `key=` for empty values.
    static func queryString(_ items: [QueryItem]) -> String {
        items.sorted().map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    /// Trimall(): trim and collapse runs of whitespace (including folded lines) to one space.
    static func trimAll(_ value: String) -> String {
        var out = [UInt8]()
        var pendingSpace = false
        for b in value.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// CanonicalHeaders and SignedHeaders. Repeated names are joined with ',' in the order
    /// they were given.
    static func headers(_ fields: [HeaderField], excluding unsigned: Set<String>)
        -> (canonical: String, signed: String)
    {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for field in fields {
            let name = trimAll(field.name).lowercased()
            if unsigned.contains(name) { continue }
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(trimAll(field.value))
        }
        let names = order.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var canonical = ""
        for name in names {
            canonical += name + ":" + (values[name] ?? []).joined(separator: ",") + "\n"
        }
        return (canonical, names.joined(separator: ";"))
    }
}
