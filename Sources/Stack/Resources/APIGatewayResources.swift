import AWSClient
import Services

/// 6. The HTTP API. Names are not unique: a crashed create is found by its tags.
struct HTTPAPIResource: StackResource {
    let key: NodeKey = .httpAPI
    let type = "apigateway:api"
    let label = "HTTP API"
    let dependencies: [NodeKey] = []

    func pendingName(_ c: StackConfig) -> String? { c.apiName }

    func request(_ ctx: ResourceContext) -> APIGatewayV2.CreateApiRequest { .init(name: ctx.config.apiName, tags: ctx.tags) }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let api = try await ctx.services.apigateway.createApi(request(ctx))
        return record(id: api.id, name: api.name, arn: api.endpoint)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        guard let api = try await ctx.services.apigateway.getApis().first(where: {
            $0.name == (pending.name ?? ctx.config.apiName) && ctx.owns($0.tags) && !ctx.excluded.contains($0.id)
        }) else { return nil }
        return record(id: api.id, name: api.name, arn: api.endpoint)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.apigateway.deleteApi(id: try r.requireId())
    }


    let schema = [AttributeSpec("name")]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["name": ctx.config.apiName] }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let api = try await ifFound({ try await ctx.services.apigateway.getApi(id: try r.requireId()) }) else { return .gone }
        return LiveState(.judge(tags: api.tags, stackId: ctx.stackId, sameResourceById: true), ["name": api.name])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateApi(id: try r.requireId(), name: ctx.config.apiName)
        var updated = r
        updated.name = ctx.config.apiName
        return updated
    }
}

/// 7. The JWT authorizer: trusts the stack's user pool (audience: its app clients), or an
/// external OIDC issuer (auth = oidc).
struct JWTAuthorizerResource: AuthorizerResource {
    let key: NodeKey = .authorizer
    let type = "apigateway:authorizer"
    let label = "JWT authorizer"
    let dependencies: [NodeKey]
    let issuer: @Sendable (ResourceContext) throws -> String
    let audience: @Sendable (ResourceContext) throws -> [String]

    static let cognito = JWTAuthorizerResource(
        dependencies: [.httpAPI, .userPool, .appClient, .machineClient],
        issuer: { $0.issuer(poolId: try $0.id(of: .userPool)) },
        audience: { [try $0.id(of: .appClient), try $0.id(of: .machineClient)] })

    static let oidc = JWTAuthorizerResource(
        dependencies: [.httpAPI],
        issuer: { ctx in
            guard let i = ctx.config.oidcIssuer ?? (ctx.planning ? "<--issuer>" : nil) else {
                throw StackError.invalidConfig("no OIDC issuer in the stack's config")
            }
            return i
        },
        audience: { ctx in [ctx.config.oidcAudience ?? (ctx.planning ? "<--audience>" : nil)].compactMap { $0 } })

    func pendingName(_ c: StackConfig) -> String? { c.authorizerName }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        try await findAuthorizer(ctx, name: pending.name ?? ctx.config.authorizerName, key: key)
    }

    func settings(_ ctx: ResourceContext) throws -> APIGatewayV2.AuthorizerSettings {
        .jwt(name: ctx.config.authorizerName, issuer: try issuer(ctx), audience: try audience(ctx))
    }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["type": "JWT", "issuer": try issuer(ctx), "audience": listValue(try audience(ctx)), "identity_source": "$request.header.Authorization"]
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateJWTAuthorizer(apiId: try r.requireParent(), id: try r.requireId(), name: ctx.config.authorizerName,
                                                              issuer: try issuer(ctx), audience: try audience(ctx))
        return r
    }
}

/// 7 (auth = lambda). A Lambda REQUEST authorizer: API Gateway calls the authorizer function,
/// which verifies the Cognito access token and the route's scopes itself.
struct RequestAuthorizerResource: AuthorizerResource {
    let key: NodeKey = .authorizer
    let type = "apigateway:authorizer"
    let label = "Lambda REQUEST authorizer"
    let dependencies: [NodeKey] = [.httpAPI, .authorizerFunction]

    static let name = "CognitoLambdaAuthorizer"

    func pendingName(_ c: StackConfig) -> String? { Self.name }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        try await findAuthorizer(ctx, name: Self.name, key: key)
    }

    func settings(_ ctx: ResourceContext) throws -> APIGatewayV2.AuthorizerSettings {
        .request(name: Self.name, functionArn: try ctx.arn(of: .authorizerFunction), region: ctx.target.region)
    }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["type": "REQUEST", "identity_source": "$request.header.Authorization",
         "uri": APIGatewayV2.lambdaInvocationURI(functionArn: try ctx.arn(of: .authorizerFunction), region: ctx.target.region)]
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateRequestAuthorizer(apiId: try r.requireParent(), id: try r.requireId(), name: Self.name,
                                                                  functionArn: try ctx.arn(of: .authorizerFunction), region: ctx.target.region)
        return r
    }
}

/// Both authorizer kinds live in the API and are created, found, deleted and probed alike.
protocol AuthorizerResource: StackResource {
    func settings(_ ctx: ResourceContext) throws -> APIGatewayV2.AuthorizerSettings
}

extension AuthorizerResource {
    var ownerKey: NodeKey? { .httpAPI }

    func request(_ ctx: ResourceContext) throws -> APIGatewayV2.CreateAuthorizerRequest { .init(apiId: try ctx.id(of: .httpAPI), try settings(ctx)) }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let id = try await ctx.services.apigateway.createAuthorizer(r)
        return record(id: id, name: pendingName(ctx.config), parentId: r.apiId)
    }

    var schema: [AttributeSpec] {
        [AttributeSpec("type", .replace, security: true), AttributeSpec("issuer", security: true), AttributeSpec("audience", security: true),
         AttributeSpec("uri", security: true), AttributeSpec("identity_source", security: true)]
    }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let a = try await ifFound({ try await ctx.services.apigateway.authorizer(apiId: try r.requireParent(), id: try r.requireId()) }) else {
            return .gone
        }
        var live: Attributes = ["type": a.type, "identity_source": listValue(a.identitySource)]
        if a.type == "JWT" { live["issuer"] = a.issuer; live["audience"] = listValue(a.audience) } else { live["uri"] = a.uri }
        return LiveState(.ours, live)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.apigateway.deleteAuthorizer(apiId: try r.requireParent(), id: try r.requireId())
    }
}

/// An authorizer of ours in the API, by name.
func findAuthorizer(_ ctx: ResourceContext, name: String, key: NodeKey) async throws -> ResourceRecord? {
    let apiId = try ctx.id(of: .httpAPI)
    let all: [APIGatewayV2.Authorizer]
    do {
        all = try await ctx.services.apigateway.authorizers(apiId: apiId)
    } catch let e as AWSServiceError where e.httpStatus >= 500 {
        // Some emulators do not implement GetAuthorizers; a duplicate would live inside our
        // API and go with it, so creating again leaks nothing.
        ctx.note("cannot list authorizers (\(e.code)); creating a new one")
        return nil
    }
    guard let hit = all.first(where: { $0.name == name && !ctx.excluded.contains($0.id) }) else { return nil }
    return ResourceRecord(key: key, type: "apigateway:authorizer", status: .created, id: hit.id, name: name, parentId: apiId)
}

/// 11. The Lambda proxy integration (payload 2.0).
struct LambdaIntegrationResource: StackResource {
    let key: NodeKey = .integration
    let type = "apigateway:integration"
    let label = "Lambda integration"
    let dependencies: [NodeKey] = [.httpAPI, .lambdaFunction]
    var ownerKey: NodeKey? { .httpAPI }

    func pendingName(_ c: StackConfig) -> String? { c.functionName }

    func request(_ ctx: ResourceContext) throws -> APIGatewayV2.CreateIntegrationRequest {
        .init(apiId: try ctx.id(of: .httpAPI), functionArn: try ctx.arn(of: .lambdaFunction))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let id = try await ctx.services.apigateway.createIntegration(r)
        return record(id: id, name: ctx.config.functionName, parentId: r.apiId)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let apiId = try ctx.id(of: .httpAPI)
        let arn = try ctx.arn(of: .lambdaFunction)
        guard let hit = try await ctx.services.apigateway.integrations(apiId: apiId).first(where: { $0.uri == arn && !ctx.excluded.contains($0.id) })
        else { return nil }
        return record(id: hit.id, name: ctx.config.functionName, parentId: apiId)
    }

    let schema = [AttributeSpec("integration_uri", security: true)]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["integration_uri": try ctx.arn(of: .lambdaFunction)] }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let i = try await ifFound({ try await ctx.services.apigateway.integration(apiId: try r.requireParent(), id: try r.requireId()) }) else {
            return .gone
        }
        return LiveState(.ours, ["integration_uri": i.uri])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateLambdaIntegration(apiId: try r.requireParent(), id: try r.requireId(),
                                                                  functionArn: try ctx.arn(of: .lambdaFunction))
        var updated = r
        updated.name = ctx.config.functionName
        return updated
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.apigateway.deleteIntegration(apiId: try r.requireParent(), id: try r.requireId())
    }
}

/// 12. A route protected by the JWT authorizer with scopes (OR semantics in API Gateway).
struct RouteResource: StackResource {
    let key: NodeKey
    let type = "apigateway:route"
    let label: String
    var ownerKey: NodeKey? { .httpAPI }
    let routeKey: @Sendable (StackConfig) -> String
    let scopes: @Sendable (StackConfig) -> [String]
    /// JWT, CUSTOM (Lambda authorizer) or AWS_IAM.
    var authorizationType = "JWT"
    var usesAuthorizer: Bool { authorizationType != "AWS_IAM" && authorizationType != "NONE" }
    var dependencies: [NodeKey] { usesAuthorizer ? [.httpAPI, .authorizer, .integration] : [.httpAPI, .integration] }

    func pendingName(_ c: StackConfig) -> String? { routeKey(c) }

    func settings(_ ctx: ResourceContext) throws -> APIGatewayV2.RouteSettings {
        APIGatewayV2.RouteSettings(routeKey: routeKey(ctx.config), authorizationType: authorizationType,
                                   authorizerId: usesAuthorizer ? try ctx.id(of: .authorizer) : "",
                                   scopes: scopes(ctx.config), target: "integrations/\(try ctx.id(of: .integration))")
    }

    func request(_ ctx: ResourceContext) throws -> APIGatewayV2.CreateRouteRequest { .init(apiId: try ctx.id(of: .httpAPI), try settings(ctx)) }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let id = try await ctx.services.apigateway.createRoute(r)
        return record(id: id, name: r.route.routeKey, parentId: r.apiId)
    }

    let schema = [AttributeSpec("route_key"), AttributeSpec("authorization_type", security: true), AttributeSpec("authorizer_id", security: true),
                  AttributeSpec("authorization_scopes", security: true), AttributeSpec("target", security: true)]

    static func attributes(_ r: APIGatewayV2.RouteSettings) -> Attributes {
        ["route_key": r.routeKey, "authorization_type": r.authorizationType, "authorizer_id": r.authorizerId,
         "authorization_scopes": listValue(r.scopes), "target": r.target]
    }

    func desired(_ ctx: ResourceContext) throws -> Attributes { Self.attributes(try settings(ctx)) }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        do { return LiveState(.ours, Self.attributes(try await ctx.services.apigateway.route(apiId: try r.requireParent(), id: try r.requireId()).settings)) }
        catch where isNotFound(error) { return .gone }
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateRoute(apiId: try r.requireParent(), id: try r.requireId(), try settings(ctx))
        var updated = r
        updated.name = routeKey(ctx.config)
        return updated
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let apiId = try ctx.id(of: .httpAPI)
        let rk = pending.name ?? routeKey(ctx.config)
        guard let hit = try await ctx.services.apigateway.routes(apiId: apiId).first(where: { $0.settings.routeKey == rk && !ctx.excluded.contains($0.id) })
        else { return nil }
        return record(id: hit.id, name: rk, parentId: apiId)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.apigateway.deleteRoute(apiId: try r.requireParent(), id: try r.requireId())
    }
}

/// 13. The stage, auto-deployed.
struct StageResource: StackResource {
    let key: NodeKey = .stage
    let type = "apigateway:stage"
    let label = "API stage"
    var uniqueName: Bool { true }
    let dependencies: [NodeKey]
    var ownerKey: NodeKey? { .httpAPI }

    func pendingName(_ c: StackConfig) -> String? { c.stageName }

    func request(_ ctx: ResourceContext) throws -> APIGatewayV2.CreateStageRequest {
        .init(apiId: try ctx.id(of: .httpAPI), name: ctx.config.stageName, autoDeploy: true, tags: ctx.tags)
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        try await ctx.services.apigateway.createStage(r)
        return record(id: r.name, name: r.name, parentId: r.apiId)
    }

    /// In our API, so one found is ours.
    func isAlreadyExists(_ e: AWSServiceError) -> Bool { e.code == "ConflictException" }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let apiId = try ctx.id(of: .httpAPI)
        let name = pending.name ?? ctx.config.stageName
        guard try await probe({ _ = try await ctx.services.apigateway.stage(apiId: apiId, name: name) }) else { return nil }
        return record(id: name, name: name, parentId: apiId)
    }

    let schema = [AttributeSpec("name", .replace), AttributeSpec("auto_deploy")]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["name": ctx.config.stageName, "auto_deploy": "true"] }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let stage = try await ifFound({ try await ctx.services.apigateway.stage(apiId: try r.requireParent(), name: try r.requireId()) }) else {
            return .gone
        }
        return LiveState(.ours, ["name": stage.name, "auto_deploy": "\(stage.autoDeploy)"])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.apigateway.updateStage(apiId: try r.requireParent(), name: try r.requireId(), autoDeploy: true)
        return r
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.apigateway.deleteStage(apiId: try r.requireParent(), name: try r.requireId())
    }
}
