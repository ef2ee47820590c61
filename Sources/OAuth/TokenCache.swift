import AWSClient
import Crypto
import Foundation

/// Tokens kept for reuse between runs: only in a 0600 file in a 0700 directory under the
/// user's cache directory (`$XDG_CACHE_HOME/secure-api`, else `~/.cache/secure-api`), never in
/// state.json. Entries are keyed by stack, flow, client and scopes, and bound to the credential
/// they were got with.
public struct TokenCache: Sendable {
    public let path: String

    public struct Entry: Sendable, Equatable {
        public var accessToken: String
        public var idToken: String?
        public var refreshToken: String?
        public var expiresAt: Date
        public var scope: String?

        public init(accessToken: String, idToken: String?, refreshToken: String?, expiresAt: Date, scope: String?) {
            self.accessToken = accessToken
            self.idToken = idToken
            self.refreshToken = refreshToken
            self.expiresAt = expiresAt
            self.scope = scope
        }

        /// Usable for at least another `margin` seconds.
        public func isFresh(now: Date = Date(), margin: TimeInterval = 60) -> Bool { expiresAt.timeIntervalSince(now) > margin }
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache")
        path = base + "/secure-api/tokens.json"
    }

    public init(path: String) { self.path = path }

    /// The entry for `key`, only when it was stored with the same `credential` (the password or
    /// client secret it was got with; nil for an interactive login): a wrong or missing password
    /// never gets a token someone else's right one fetched.
    public func load(_ key: String, credential: String?) -> Entry? {
        guard let data = readPrivate(), let doc = try? JSON(parsing: Array(data)),
              let e = doc[key], let access = e["access_token"]?.string, let exp = e["expires_at"]?.double,
              Self.matches(e["credential"]?.string, credential) else { return nil }
        return Entry(accessToken: access, idToken: e["id_token"]?.string, refreshToken: e["refresh_token"]?.string,
                     expiresAt: Date(timeIntervalSince1970: exp), scope: e["scope"]?.string)
    }

    public func store(_ key: String, _ entry: Entry, credential: String?) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var doc: [String: JSON] = [:]
        if let data = readPrivate(), let old = try? JSON(parsing: Array(data)), let o = old.object { doc = o }
        var e: [String: JSON] = ["access_token": .string(entry.accessToken), "expires_at": .number(entry.expiresAt.timeIntervalSince1970)]
        if let v = entry.idToken { e["id_token"] = .string(v) }
        if let v = entry.refreshToken { e["refresh_token"] = .string(v) }
        if let v = entry.scope { e["scope"] = .string(v) }
        if let credential { e["credential"] = .string(Self.fingerprint(credential, salt: Crypto.randomBytes(16))) }
        doc[key] = .object(e)
        do { try AtomicFile.write(Array(JSON.object(doc).serialized().utf8), to: path) } catch {
            throw TokenError.transport("cannot write token cache: \(error)")
        }
    }

    /// The cache file's bytes, if it is a regular file of ours; a mode wider than 0600 (or a
    /// directory wider than 0700) is narrowed first, since it holds tokens.
    func readPrivate() -> Data? {
        let dir = (path as NSString).deletingLastPathComponent
        var info = stat()
        // stat, not lstat: a symlinked cache is written through (AtomicFile), so it is read through too.
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid() else { return nil }
        if info.st_mode & 0o077 != 0, chmod(path, 0o600) != 0 { return nil }
        if stat(dir, &info) == 0, info.st_uid == getuid(), info.st_mode & 0o077 != 0 { _ = chmod(dir, 0o700) }
        return FileManager.default.contents(atPath: path)
    }

    /// PBKDF2-HMAC-SHA256 rounds for a credential's fingerprint: it sits beside the tokens,
    /// so it only needs to make guessing the password from it slow.
    static let fingerprintRounds = 10_000

    /// `pbkdf2-sha256$ROUNDS$SALT$HASH` (hex) of a credential: never the credential itself.
    static func fingerprint(_ credential: String, salt: [UInt8], rounds: Int = fingerprintRounds) -> String {
        let password = Array(credential.utf8)
        var u = Crypto.hmacSHA256(key: password, data: salt + [0, 0, 0, 1])
        var t = u
        for _ in 1..<max(1, rounds) {
            u = Crypto.hmacSHA256(key: password, data: u)
            for i in t.indices { t[i] ^= u[i] }
        }
        return "pbkdf2-sha256$\(rounds)$\(salt.hexString)$\(t.hexString)"
    }

    static func matches(_ stored: String?, _ credential: String?) -> Bool {
        guard let stored, let credential else { return stored == nil && credential == nil }
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), (1...1_000_000).contains(rounds),
              let salt = hexDecode(parts[2]) else { return false }
        return fingerprint(credential, salt: salt, rounds: rounds) == stored
    }

    static func hexDecode(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}
