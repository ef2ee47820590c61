import AWSClient
import Transport

/// OpenID Connect Discovery 1.0: reads an issuer's `jwks_uri`.
public enum OIDCDiscovery {
    /// The discovery document URL of an issuer.
    public static func configurationURL(issuer: String) -> String {
        trimmingSlash(issuer) + "/.well-known/openid-configuration"
    }

    /// GETs the issuer's discovery document and returns its `jwks_uri`. The document's own
    /// `issuer` must equal the one asked for (OIDC Discovery §4.3), so a misconfigured or
    /// hijacked URL cannot substitute another issuer's keys.
    public static func jwksURI(issuer: String, transport: any HTTPTransport = CurlTransport.shared,
                               timeouts: HTTPTimeouts = HTTPTimeouts(connectMilliseconds: 5_000, totalMilliseconds: 15_000))
        async throws -> String
    {
        let url = configurationURL(issuer: issuer)
        let body = try await fetchJSON(url: url, transport: transport, timeouts: timeouts)
        let json: JSON
        do {
            json = try JSON(parsing: body)
        } catch {
            throw JWKSError.discoveryFailed(issuer: issuer, reason: "\(url) is not JSON (\(error))")
        }
        guard let declared = json["issuer"]?.string, trimmingSlash(declared) == trimmingSlash(issuer) else {
            throw JWKSError.discoveryFailed(issuer: issuer, reason: "the document declares issuer \(json["issuer"]?.string ?? "none")")
        }
        guard let jwksURI = json["jwks_uri"]?.string, !jwksURI.isEmpty else {
            throw JWKSError.discoveryFailed(issuer: issuer, reason: "the document has no jwks_uri")
        }
        return jwksURI
    }
}

/// GET with `Accept: application/json`; any non-2xx status or transport failure is a `fetchFailed`.
func fetchJSON(url: String, transport: any HTTPTransport, timeouts: HTTPTimeouts) async throws -> [UInt8] {
    let response: HTTPResponse
    do {
        response = try await transport.send(
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeader("Accept", "application/json")]), timeouts: timeouts)
    } catch {
        throw JWKSError.fetchFailed(url: url, reason: "\(error)")
    }
    guard (200..<300).contains(response.status) else {
        throw JWKSError.fetchFailed(url: url, reason: "HTTP \(response.status)")
    }
    guard response.body.count <= fetchLimitBytes else { throw JWKSError.tooLarge(url: url, bytes: response.body.count) }
    return response.body
}
