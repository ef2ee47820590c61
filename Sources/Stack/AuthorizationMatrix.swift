/// What API Gateway must answer for every route of a stack and every kind of caller (issue 15's
/// authorization matrix), from the stack's configuration alone: the expectation never reads
/// the live routes, so a route changed behind the stack's back shows up as a mismatch.
public enum AuthorizationMatrix {
    /// A kind of caller `verify` sends to each route.
    public enum Probe: String, Sendable, CaseIterable {
        case noToken = "no token"
        case garbage
        case expired
        case anotherKey = "another key"
        case wrongIssuer = "wrong issuer"
        case idToken = "ID token"
        case passwordFlow = "password-flow token"
        case readScope = "read-scope token"
        case writeScope = "write-scope token"
        case machine = "machine token"
        case login = "login token"
        /// oidc: a token of the external issuer, given by the user.
        case issuerToken = "issuer token"
        // AWS_IAM routes.
        case signed
        case unsigned
        case wrongSecret = "wrong secret"
        case wrongRegion = "wrong region"
    }

    public struct Expectation: Sendable, Equatable {
        public var status: Int
        public var reason: String
    }

    /// A route and the scopes it accepts (any one; none: any valid caller).
    public struct Route: Sendable, Equatable {
        public var key: String
        public var scopes: [String]
    }

    /// The stack's routes as configured: the read route accepts every API scope, the write
    /// route the write scope only (StackGraph.routes); oidc, lambda and iam routes carry none
    /// (the Lambda authorizer enforces the same scopes itself).
    public static func routes(_ config: StackConfig) -> [Route] {
        let scoped = config.auth == .cognito || config.auth == .lambda
        return [Route(key: config.routeKey, scopes: scoped ? config.qualifiedScopes : []),
                Route(key: config.writeRouteKey, scopes: scoped ? config.qualifiedScopes.filter { $0.hasSuffix(".write") } : [])]
    }

    /// The probes for a pattern, in table order.
    public static func probes(_ auth: AuthPattern) -> [Probe] {
        switch auth {
        case .iam: return [.signed, .unsigned, .wrongSecret, .wrongRegion]
        case .oidc: return [.noToken, .garbage, .expired, .anotherKey, .wrongIssuer, .issuerToken, .idToken, .passwordFlow,
                            .readScope, .writeScope, .machine, .login]
        case .cognito, .lambda: return [.noToken, .garbage, .expired, .anotherKey, .wrongIssuer, .idToken, .passwordFlow,
                                        .readScope, .writeScope, .machine, .login]
        }
    }

    /// The scopes a probe's token is asked for (Cognito's password flow grants only its own).
    public static func tokenScopes(_ probe: Probe, config: StackConfig) -> [String] {
        switch probe {
        case .readScope: return config.qualifiedScopes.filter { $0.hasSuffix(".read") }
        case .writeScope: return config.qualifiedScopes.filter { $0.hasSuffix(".write") }
        case .machine: return config.qualifiedScopes
        case .login: return config.appClientScopes
        case .passwordFlow: return ["aws.cognito.signin.user.admin"]
        default: return []
        }
    }

    /// The answer API Gateway must give `probe` on `route` of a stack with `config`.
    public static func expectation(_ probe: Probe, route: Route, config: StackConfig) -> Expectation {
        let lambda = config.auth == .lambda
        let refused = lambda ? Expectation(status: 403, reason: "the authorizer function answers isAuthorized=false")
            : Expectation(status: 401, reason: "the JWT authorizer finds no valid token")
        switch probe {
        case .noToken:
            return Expectation(status: 401, reason: lambda ? "no identity source (Authorization header): 401 without calling the authorizer"
                               : "no Authorization header")
        case .garbage: return Expectation(status: refused.status, reason: refused.reason + ": not a JWT")
        // verify cannot sign with the issuer's key: these two are refused for their signature
        // first, so they prove the signature check, not the exp or iss check on their own.
        case .expired: return Expectation(status: refused.status, reason: refused.reason
                                          + ": exp in the past, signed with verify's own key (proves the signature check; exp alone cannot be tested)")
        case .anotherKey: return Expectation(status: refused.status, reason: refused.reason + ": signed with a key of verify's own under the issuer's kid")
        case .wrongIssuer: return Expectation(status: refused.status, reason: refused.reason
                                              + ": iss is another issuer, signed with verify's own key (proves the signature check; iss alone cannot be tested)")
        case .issuerToken: return Expectation(status: 200, reason: "a valid token for the audience; the routes need no scope")
        case .idToken where lambda: return Expectation(status: 403, reason: "the authorizer function accepts access tokens only")
        case .idToken, .passwordFlow, .readScope, .writeScope, .machine, .login:
            let has = tokenScopes(probe, config: config)
            if route.scopes.isEmpty || route.scopes.contains(where: has.contains) {
                return Expectation(status: 200, reason: route.scopes.isEmpty ? "a valid token; the route needs no scope"
                                   : "the token carries one of [\(route.scopes.joined(separator: " "))]")
            }
            let what = probe == .idToken ? "an ID token carries no scope" : "the token carries [\(has.joined(separator: " "))]"
            return Expectation(status: 403, reason: "\(what); the route needs one of [\(route.scopes.joined(separator: " "))]")
        case .signed: return Expectation(status: 200, reason: "SigV4 with the caller's credentials, for execute-api in the stack's region")
        case .unsigned: return Expectation(status: 403, reason: "no SigV4 signature")
        case .wrongSecret: return Expectation(status: 403, reason: "the caller's access key signed with another secret: signature mismatch")
        case .wrongRegion: return Expectation(status: 403, reason: "the credential scope names another region")
        }
    }
}
