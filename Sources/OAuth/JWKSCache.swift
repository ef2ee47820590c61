import Foundation
import Transport

/// Fetches JWKS documents over HTTP and caches their keys per JWKS URL. A token naming an
/// unknown kid triggers one refetch (the issuer may have rotated keys), at most once per
/// `refetchInterval` per URL, so a stream of forged kids cannot turn into a stream of fetches.
public actor JWKSCache {
    private let transport: any HTTPTransport
    private let timeouts: HTTPTimeouts
    private let refetchInterval: TimeInterval
    private var keySets: [String: (jwks: JWKS, fetchedAt: Date)] = [:]
    private var discovered: [String: String] = [:]
    // One fetch per URL at a time: concurrent verifications share it instead of each fetching.
    private var inFlight: [String: Task<JWKS, any Error>] = [:]
    private var fetchCounts: [String: Int] = [:]

    public init(transport: any HTTPTransport = CurlTransport.shared,
                timeouts: HTTPTimeouts = HTTPTimeouts(connectMilliseconds: 5_000, totalMilliseconds: 15_000),
                refetchInterval: TimeInterval = 10) {
        self.transport = transport
        self.timeouts = timeouts
        self.refetchInterval = refetchInterval
    }

    /// The RS256 signing keys `kid` at `location`: from the cache, else after (re)fetching.
    public func signingKeys(kid: String, location: JWKSLocation, now: Date = Date()) async throws -> [JWK] {
        let url = try await jwksURL(for: location)
        if let cached = keySets[url] {
            let keys = cached.jwks.signingKeys(kid: kid)
            if !keys.isEmpty { return keys }
            guard now.timeIntervalSince(cached.fetchedAt) >= refetchInterval else { return [] }
        }
        return try await fetch(url: url, now: now).signingKeys(kid: kid)
    }

    /// The whole key set at `location`, fetched now (e.g. to name a real kid in a forged token).
    public func keySet(at location: JWKSLocation) async throws -> JWKS {
        try await fetch(url: try await jwksURL(for: location), now: Date())
    }

    /// How many times the document at `url` has been fetched (for diagnostics and tests).
    public func fetchCount(url: String) -> Int { fetchCounts[url, default: 0] }

    /// The JWKS URL of a location; discovery results are cached for the cache's lifetime.
    public func jwksURL(for location: JWKSLocation) async throws -> String {
        switch location {
        case .url(let url):
            return url
        case .discover(let issuer):
            if let url = discovered[issuer] { return url }
            let url = try await OIDCDiscovery.jwksURI(issuer: issuer, transport: transport, timeouts: timeouts)
            discovered[issuer] = url
            return url
        }
    }

    private func fetch(url: String, now: Date) async throws -> JWKS {
        if let running = inFlight[url] { return try await running.value }
        let transport = self.transport, timeouts = self.timeouts
        let task = Task { try JWKS(parsing: try await fetchJSON(url: url, transport: transport, timeouts: timeouts)) }
        inFlight[url] = task
        fetchCounts[url, default: 0] += 1
        defer { inFlight[url] = nil }
        let jwks = try await task.value
        keySets[url] = (jwks, now)
        return jwks
    }
}

/// A `JWKProvider` for one issuer's keys, served through a shared `JWKSCache`.
public struct RemoteJWKS: JWKProvider {
    public let cache: JWKSCache
    public let location: JWKSLocation

    public init(location: JWKSLocation, cache: JWKSCache = JWKSCache()) {
        self.cache = cache
        self.location = location
    }

    public func signingKeys(kid: String) async throws -> [JWK] {
        try await cache.signingKeys(kid: kid, location: location)
    }
}
