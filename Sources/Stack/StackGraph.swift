import AWSClient
import Services

/// The stack as data: the resources in a stable order, each naming what it needs.
/// The executor walks this; nothing else knows the order.
public struct StackGraph: Sendable {
    public let nodes: [any StackResource]

    public init(nodes: [any StackResource]) { self.nodes = nodes }

    public func node(_ key: NodeKey) -> (any StackResource)? { nodes.first { $0.key == key } }

    /// The graph for an auth pattern.
    public static func forAuth(_ auth: AuthPattern) -> StackGraph {
        switch auth {
        case .cognito: return .cognito
        case .oidc: return .oidc
        case .lambda: return .lambdaAuthorizer
        case .iam: return .iam
        }
    }

    // The building blocks the patterns share.
    static let cognitoNodes: [any StackResource] = [
        UserPoolResource(),
        UserPoolDomainResource(),
        ResourceServerResource(),
        AppClientResource(key: .appClient, label: "Cognito app client (public, PKCE)", settings: { c in
            CognitoIdentityProvider.AppClientSettings(
                name: c.appClientName, generateSecret: false, flows: ["code"], scopes: c.appClientScopes,
                callbackURLs: [c.callbackURL], explicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"])
        }),
        AppClientResource(key: .machineClient, label: "Cognito app client (machine, secret)", settings: { c in
            CognitoIdentityProvider.AppClientSettings(
                name: c.machineClientName, generateSecret: true, flows: ["client_credentials"], scopes: c.qualifiedScopes,
                callbackURLs: [], explicitAuthFlows: ["ALLOW_REFRESH_TOKEN_AUTH"])
        }),
        TestUserResource(),
    ]

    /// The echo function and what it needs.
    static let echoFunctionNodes: [any StackResource] = [
        LambdaRoleResource(),
        RolePolicyAttachmentResource(),
        LambdaFunctionResource(),
        LogGroupResource(),
        InvokePermissionResource(),
        LambdaIntegrationResource(),
    ]

    /// GET (read or write scope) and POST (write scope) routes with one authorization type.
    static func routes(_ authorizationType: String, scoped: Bool) -> [any StackResource] {
        [
            RouteResource(key: .route, label: "API route (read)", routeKey: { $0.routeKey },
                          scopes: { scoped ? $0.qualifiedScopes : [] }, authorizationType: authorizationType),
            RouteResource(key: .routeWrite, label: "API route (write)", routeKey: { $0.writeRouteKey },
                          scopes: { scoped ? $0.qualifiedScopes.filter { $0.hasSuffix(".write") } : [] }, authorizationType: authorizationType),
            StageResource(dependencies: [.httpAPI, .route, .routeWrite]),
        ]
    }

    /// The default Cognito-secured stack of DESIGN.md.
    public static let cognito = StackGraph(nodes: cognitoNodes + [HTTPAPIResource(), JWTAuthorizerResource.cognito]
        + echoFunctionNodes + routes("JWT", scoped: true))

    /// JWT authorizer trusting an external OIDC issuer; no Cognito. Routes need a valid token
    /// for the audience (scopes differ between providers, so none are required).
    public static let oidc = StackGraph(nodes: [HTTPAPIResource(), JWTAuthorizerResource.oidc]
        + echoFunctionNodes + routes("JWT", scoped: false))

    /// A Lambda REQUEST authorizer (its own role, function and invoke permission) verifying the
    /// Cognito access token; the function enforces the routes' scopes.
    public static let lambdaAuthorizer = StackGraph(nodes: cognitoNodes + [
        HTTPAPIResource(),
        LambdaRoleResource(key: .authorizerRole, label: "IAM role (authorizer)", roleName: { $0.authorizerRoleName }),
        RolePolicyAttachmentResource(key: .authorizerRolePolicy, label: "IAM policy attachment (authorizer)",
                                     roleKey: .authorizerRole, roleName: { $0.authorizerRoleName }),
        LambdaFunctionResource(key: .authorizerFunction, label: "Lambda function (authorizer)", roleKey: .authorizerRole,
                               attachmentKey: .authorizerRolePolicy, extraDependencies: [.userPool, .appClient, .machineClient],
                               functionName: { $0.authorizerFunctionName },
                               roleName: { $0.authorizerRoleName }, code: .authorizer, userCode: false, environment: authorizerEnvironment,
                               grantStatementIds: [StackConfig.authorizerStatementId]),
        LogGroupResource(key: .authorizerLogGroup, label: "Lambda log group (authorizer)", functionKey: .authorizerFunction,
                         functionName: { $0.authorizerFunctionName }),
        RequestAuthorizerResource(),
        InvokePermissionResource(key: .authorizerPermission, label: "Lambda invoke permission (authorizer)",
                                 functionKey: .authorizerFunction, functionName: { $0.authorizerFunctionName },
                                 statementId: StackConfig.authorizerStatementId, scopeKey: .authorizer,
                                 sourceArnSuffix: { "/authorizers/\(try $0.id(of: .authorizer))" }),
    ] + echoFunctionNodes + routes("CUSTOM", scoped: false))

    /// AWS_IAM routes: callers sign with SigV4 (service execute-api); no authorizer, no Cognito.
    public static let iam = StackGraph(nodes: [HTTPAPIResource()] + echoFunctionNodes + routes("AWS_IAM", scoped: false))

    /// The authorizer function's settings (lambda/authorizer/authorizer.py reads them).
    static let authorizerEnvironment: @Sendable (ResourceContext) throws -> [String: String] = { ctx in
        let c = ctx.config
        let read = c.qualifiedScopes
        let write = c.qualifiedScopes.filter { $0.hasSuffix(".write") }
        let scopes: JSON = .object([c.routeKey: .array(read.map { .string($0) }), c.writeRouteKey: .array(write.map { .string($0) })])
        var env = [
            "ISSUER": ctx.issuer(poolId: try ctx.id(of: .userPool)),
            "CLIENT_IDS": [try ctx.id(of: .appClient), try ctx.id(of: .machineClient)].joined(separator: ","),
            "REQUIRED_SCOPES": scopes.serialized(),
            "RESPONSE_MODE": "simple",
        ]
        // On the emulator the issuer's host is unreachable offline: the function fetches the
        // pool's keys from the emulator itself.
        if let local = ctx.target.localBase(.cognitoIdentityProvider) {
            env["JWKS_URL"] = "\(local)/\(try ctx.id(of: .userPool))/.well-known/jwks.json"
        }
        return env
    }

    /// The kind of a record that today's graph may not have (left from another --auth, or
    /// deposed): any graph's node with its key and type.
    public static func kind(for record: ResourceRecord) -> (any StackResource)? {
        let candidates = AuthPattern.allCases.compactMap { forAuth($0).node(record.key) }.filter { $0.type == record.type }
        // Both authorizer kinds share key and type; the recorded name tells them apart.
        return candidates.first { $0.key != .authorizer || ($0 is RequestAuthorizerResource) == (record.name == RequestAuthorizerResource.name) }
            ?? candidates.first
    }

    /// Dependencies in order: each node after everything it needs (stable: graph order
    /// breaks ties), so `plan` shows exactly the order a serial create makes.
    public func topologicalOrder() -> [any StackResource] {
        var done = Set<NodeKey>()
        var order: [any StackResource] = []
        while order.count < nodes.count {
            guard let next = nodes.first(where: { !done.contains($0.key) && $0.dependencies.allSatisfy(done.contains) }) else { break }
            done.insert(next.key)
            order.append(next)
        }
        return order
    }

    /// Length of the longest dependency chain, in nodes (the critical path for benchmarks).
    public func criticalPathLength() -> Int {
        var depth: [NodeKey: Int] = [:]
        for n in topologicalOrder() {
            depth[n.key] = 1 + (n.dependencies.compactMap { depth[$0] }.max() ?? 0)
        }
        return depth.values.max() ?? 0
    }

    /// The nodes, those with the longest chain of dependents after them first (graph order
    /// breaks ties): started in this order, a bounded run never lets the critical path wait
    /// behind a node nothing depends on.
    public func criticalFirst() -> [any StackResource] {
        var height: [NodeKey: Int] = [:]
        for n in topologicalOrder().reversed() {
            height[n.key] = 1 + (nodes.filter { $0.dependencies.contains(n.key) }.compactMap { height[$0.key] }.max() ?? 0)
        }
        return nodes.enumerated().sorted { (a, b) in
            let (ha, hb) = (height[a.element.key] ?? 0, height[b.element.key] ?? 0)
            return ha != hb ? ha > hb : a.offset < b.offset
        }.map(\.element)
    }

    /// Mermaid flowchart of the dependency graph.
    public func mermaid() -> String {
        var lines = ["flowchart TD"]
        for n in nodes { lines.append("  \(n.key)[\"\(n.label)\"]") }
        for n in nodes { for d in n.dependencies { lines.append("  \(d) --> \(n.key)") } }
        return lines.joined(separator: "\n")
    }
}

extension StackTarget {
    /// `scheme://host:port` of the emulator when a service was reached at an endpoint that is
    /// not AWS's (127.0.0.1, but also `http://moto:5000` in a compose network or a LAN host):
    /// its hosted UI and execute-api data plane live there, path-style (LocalStack's
    /// convention), and tokens and secrets go nowhere else. Nil on AWS (any *.amazonaws.com).
    public func localBase(_ service: AWSService) -> String? {
        guard let raw = endpoints[service.name], let endpoint = Endpoint(parsing: raw), !endpoint.isAWS else { return nil }
        return "\(endpoint.scheme)://\(endpoint.hostHeader)"
    }
}

extension StackState {
    /// Flat outputs with the tutorial's key names (`jq -r .outputs.api_url state.json`).
    public var outputs: [String: String] {
        var o: [String: String] = ["region": target.region, "stack_name": config.stackName, "auth": config.auth.rawValue]
        if config.auth == .oidc {
            o["oidc_issuer"] = config.oidcIssuer
            o["oidc_audience"] = config.oidcAudience
        }
        func created(_ key: NodeKey) -> ResourceRecord? {
            guard let r = record(key), r.status == .created else { return nil }
            return r
        }
        if let pool = created(.userPool), let id = pool.id {
            o["user_pool_id"] = id
            o["user_pool_arn"] = pool.arn
            o["user_pool_jwt_issuer_url"] = "https://cognito-idp.\(target.region).amazonaws.com/\(id)"
            if let endpoint = target.endpoint { o["user_pool_jwks_url"] = "\(endpoint)/\(id)/.well-known/jwks.json" }
            else { o["user_pool_jwks_url"] = "https://cognito-idp.\(target.region).amazonaws.com/\(id)/.well-known/jwks.json" }
        }
        if let d = created(.userPoolDomain), let prefix = d.id {
            o["user_pool_domain"] = prefix
            // The emulator serves the hosted UI path-style on its own host:port (README: the local data plane).
            let domain = target.localBase(.cognitoIdentityProvider).map { "\($0)/_aws/cognito-idp/\(prefix)" }
                ?? "https://\(prefix).auth.\(target.region).amazoncognito.com"
            o["cognito_domain_url"] = domain
            o["token_url"] = "\(domain)/oauth2/token"
        }
        if let r = created(.resourceServer) { o["resource_server_identifier"] = r.id }
        if let c = created(.appClient) { o["terminal_app_client_id"] = c.id }
        if let c = created(.machineClient) { o["machine_client_id"] = c.id }
        if let u = created(.testUser) { o["test_username"] = u.id }
        if let api = created(.httpAPI) {
            o["api_id"] = api.id
            o["api_endpoint"] = api.arn
            // On the emulator: its execute-api data plane, path-style on its own host:port.
            let local = target.localBase(.apiGatewayV2).flatMap { base in api.id.map { "\(base)/_aws/execute-api/\($0)" } }
            if let endpoint = local ?? api.arn, let stage = created(.stage)?.id {
                o["api_url"] = "\(endpoint)/\(stage)"
                if let route = created(.route)?.name, let path = route.split(separator: " ").last {
                    o["hello_url"] = "\(endpoint)/\(stage)\(path)"
                }
            }
        }
        if let a = created(.authorizer) { o["authorizer_id"] = a.id }
        if let r = created(.lambdaRole) { o["lambda_role_arn"] = r.arn }
        if let f = created(.lambdaFunction) { o["lambda_function_name"] = f.id; o["lambda_function_arn"] = f.arn }
        if let f = created(.authorizerFunction) { o["authorizer_function_name"] = f.id; o["authorizer_function_arn"] = f.arn }
        if config.auth == .iam, let api = created(.httpAPI)?.id, let stage = created(.stage)?.id {
            o["invoke_arn_pattern"] = "arn:aws:execute-api:\(target.region):\(target.account):\(api)/\(stage)/*/*"
        }
        if let i = created(.integration) { o["integration_id"] = i.id }
        if let r = created(.route) { o["route_id"] = r.id; o["route_key"] = r.name }
        if let r = created(.routeWrite) { o["write_route_id"] = r.id; o["write_route_key"] = r.name }
        if let s = created(.stage) { o["stage_name"] = s.id }
        if let l = created(.lambdaLogGroup) { o["log_group_name"] = l.id }
        return o.compactMapValues { $0 }
    }
}

extension StackGraph {
    /// What a first create sends, node by node in create order, for the offline `plan`: each
    /// kind's request values, built by the functions its `create` uses, with every dependency
    /// not made yet shown as `<key>`, the account as `<account>` and the new stack's id as
    /// `<stack id>`. ENDPOINTS: each service's URL, as a run would record it (on the emulator
    /// the authorizer function is told where the pool's keys are). Nothing is sent: the
    /// context's client refuses every call.
    public func firstCreateRequests(_ config: StackConfig, region: String,
                                    endpoints: [String: String] = [:]) throws -> [(node: any StackResource, requests: [any ServiceRequest])] {
        var ctx = ResourceContext(services: StackServices(client: .offline(region: region)), config: config,
                                  target: StackTarget(region: region, account: "<account>", endpoint: nil, endpoints: endpoints),
                                  stackId: "<stack id>", records: [:], password: nil, note: { _ in }, renamePending: { _ in })
        ctx.unknown = Set(nodes.map(\.key))
        return try topologicalOrder().map { ($0, try $0.createRequests(ctx)) }
    }
}

