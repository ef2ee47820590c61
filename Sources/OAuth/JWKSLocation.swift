/// Where an issuer's JWKS lives: a known URL, or found through OIDC discovery.
public enum JWKSLocation: Sendable, Hashable {
    /// An explicit JWKS URL (Cognito's default, or the local emulator's).
    case url(String)
    /// `<issuer>/.well-known/openid-configuration` names the `jwks_uri` (Keycloak, Auth0, ...).
    case discover(issuer: String)
}

/// Cognito's well-known URLs, so callers need not spell them out.
public enum Cognito {
    /// `https://cognito-idp.<region>.amazonaws.com/<poolId>`, the `iss` of the pool's tokens.
    public static func issuer(region: String, userPoolId: String) -> String {
        "https://cognito-idp.\(region).amazonaws.com/\(userPoolId)"
    }

    /// The pool's JWKS on AWS.
    public static func jwks(region: String, userPoolId: String) -> JWKSLocation {
        .url(issuer(region: region, userPoolId: userPoolId) + "/.well-known/jwks.json")
    }

    /// The pool's JWKS on a local emulator (moto serves it at `<endpoint>/<poolId>/.well-known/jwks.json`
    /// and has no discovery document).
    public static func emulatorJWKS(endpoint: String, userPoolId: String) -> JWKSLocation {
        .url(trimmingSlash(endpoint) + "/\(userPoolId)/.well-known/jwks.json")
    }

    /// The hosted UI's `/oauth2/authorize` URL for a domain prefix.
    public static func authorizeURL(domainPrefix: String, region: String) -> String {
        "https://\(domainPrefix).auth.\(region).amazoncognito.com/oauth2/authorize"
    }

    /// The hosted UI's `/oauth2/token` URL for a domain prefix.
    public static func tokenURL(domainPrefix: String, region: String) -> String {
        "https://\(domainPrefix).auth.\(region).amazoncognito.com/oauth2/token"
    }
}

func trimmingSlash(_ url: String) -> String {
    var url = url
    while url.hasSuffix("/") { url.removeLast() }
    return url
}
