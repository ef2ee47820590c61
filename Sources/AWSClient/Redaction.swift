/// Removes secrets from what `--verbose` prints: passwords, client secrets, tokens, keys.
public enum Redaction {
    /// Field names (lower-cased) whose values are secrets in the APIs we call.
    public static let secretKeys: Set<String> = [
        "password", "temporarypassword", "proposedpassword", "previouspassword", "clientsecret",
        "accesstoken", "idtoken", "refreshtoken", "sessiontoken", "secretaccesskey", "secret_hash",
        "secrethash", "refresh_token", "access_token", "id_token", "client_secret", "code_verifier",
        "x-amz-security-token", "aws_secret_access_key", "aws_session_token", "session",
        // GetFunction's Code.Location: a presigned URL whose query is a credential.
        "location",
    ]

    public static let placeholder = "***"

    public static func isSecret(_ key: String) -> Bool { secretKeys.contains(key.lowercased()) }

    public static func redact(_ value: JSON) -> JSON {
        switch value {
        case .object(let o):
            var out: [String: JSON] = [:]
            for (k, v) in o {
                if k.lowercased() == "zipfile", let zip = v.string {
                    out[k] = .string("<zip, \(zip.count) base64 characters>")  // a package, not worth a screenful
                } else {
                    out[k] = isSecret(k) ? .string(placeholder) : redact(v)
                }
            }
            return .object(out)
        case .array(let a): return .array(a.map(redact))
        default: return value
        }
    }

    /// A body for display: JSON redacted key by key, forms value by value; anything else as
    /// text, cut short.
    public static func displayBody(_ body: [UInt8], contentType: String?) -> String {
        if body.isEmpty { return "" }
        if let json = try? JSON(parsing: body) { return redact(json).serialized() }
        let text = String(decoding: body, as: UTF8.self)
        if contentType?.contains("x-www-form-urlencoded") == true {
            return text.split(separator: "&").map { pair -> String in
                let key = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                return isSecret(key) ? "\(key)=\(placeholder)" : String(pair)
            }.joined(separator: "&")
        }
        let masked = maskQuotedSecrets(text)
        return masked.count > 2000 ? String(masked.prefix(2000)) + "… (\(body.count) bytes)" : masked
    }

    /// For bodies that are not valid JSON (cut short, say): hide the value after any
    /// `"SecretKey": "` even when its closing quote never came.
    static func maskQuotedSecrets(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let quote = rest.firstIndex(of: "\"") {
            out += rest[...quote]
            rest = rest[rest.index(after: quote)...]
            guard let close = rest.firstIndex(of: "\"") else { break }
            let key = rest[..<close]
            out += rest[...close]
            rest = rest[rest.index(after: close)...]
            guard isSecret(String(key)) else { continue }
            let afterColon = rest.drop(while: { $0 == " " })
            guard afterColon.first == ":" else { continue }
            let value = afterColon.dropFirst().drop(while: { $0 == " " })
            guard value.first == "\"" else { continue }
            out += ":\"" + placeholder + "\""
            let body = value.dropFirst()
            rest = body.firstIndex(of: "\"").map { body[body.index(after: $0)...] } ?? ""
        }
        return out + rest
    }

    /// Header values for display: tokens and signatures hidden.
    public static func displayHeader(name: String, value: String) -> String {
        let lower = name.lowercased()
        if lower == "x-amz-security-token" || lower == "cookie" { return placeholder }
        if lower == "authorization" {
            if let r = value.range(of: "Signature=") { return String(value[..<r.upperBound]) + placeholder }
            if value.hasPrefix("Bearer ") || value.hasPrefix("Basic ") {
                return String(value.prefix(while: { $0 != " " })) + " " + placeholder
            }
            return placeholder
        }
        return value
    }
}
