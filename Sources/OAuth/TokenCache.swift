import AWSClient
import Foundation

/// Tokens kept for reuse between runs: only in a 0600 file in a 0700 directory under the
/// user's cache directory (`$XDG_CACHE_HOME/secure-api`, else `~/.cache/secure-api`), never in
/// state.json. Entries are keyed by stack, flow and client.
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

    public func load(_ key: String) -> Entry? {
        guard let data = FileManager.default.contents(atPath: path), let doc = try? JSON(parsing: Array(data)),
              let e = doc[key], let access = e["access_token"]?.string, let exp = e["expires_at"]?.double else { return nil }
        return Entry(accessToken: access, idToken: e["id_token"]?.string, refreshToken: e["refresh_token"]?.string,
                     expiresAt: Date(timeIntervalSince1970: exp), scope: e["scope"]?.string)
    }

    public func store(_ key: String, _ entry: Entry) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var doc: [String: JSON] = [:]
        if let data = FileManager.default.contents(atPath: path), let old = try? JSON(parsing: Array(data)), let o = old.object { doc = o }
        var e: [String: JSON] = ["access_token": .string(entry.accessToken), "expires_at": .number(entry.expiresAt.timeIntervalSince1970)]
        if let v = entry.idToken { e["id_token"] = .string(v) }
        if let v = entry.refreshToken { e["refresh_token"] = .string(v) }
        if let v = entry.scope { e["scope"] = .string(v) }
        doc[key] = .object(e)
        do { try AtomicFile.write(Array(JSON.object(doc).serialized().utf8), to: path) } catch {
            throw TokenError.transport("cannot write token cache: \(error)")
        }
    }
}
