import AWSClient

/// Amazon API Gateway v2 — HTTP APIs (REST-JSON with camelCase members; signs as `apigateway`).
public struct APIGatewayV2: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    static func apiPath(_ apiId: String, _ rest: String = "") -> String {
        "/v2/apis/\(AWSClient.escapePathSegment(apiId))\(rest)"
    }

    func call(_ op: String, _ method: String, _ path: String, _ body: JSON? = nil, idempotent: Bool = true) async throws -> JSON {
        try await client.rest(.apiGatewayV2, op, method: method, path: path, body: body, idempotent: idempotent)
    }

    /// Items of a paginated Get* list.
    func items(_ op: String, _ path: String) async throws -> [JSON] {
        var result: [JSON] = []
        var token: String?
        repeat {
            let out = try await client.rest(.apiGatewayV2, op, method: "GET", path: path,
                                            query: token.map { [("nextToken", $0)] } ?? [])
            result += out["items"]?.array ?? []
            token = out["nextToken"]?.string
        } while token != nil
        return result
    }

    // MARK: API

    public struct API: Sendable { public var id: String; public var name: String; public var endpoint: String; public var tags: Tags }

    static func api(_ j: JSON, _ op: String) throws -> API {
        API(id: try j.required("apiId", "apigatewayv2", op), name: j["name"]?.string ?? "",
            endpoint: j["apiEndpoint"]?.string ?? "", tags: (j["tags"]?.object ?? [:]).compactMapValues(\.string))
    }

    public struct CreateApiRequest: JSONServiceRequest, Equatable {
        public var name: String
        public var tags: Tags
        public init(name: String, tags: Tags) {
            self.name = name
            self.tags = tags
        }
        public var service: AWSService { .apiGatewayV2 }
        public var operation: String { "CreateApi" }
        public var body: JSON { ["name": .string(name), "protocolType": "HTTP", "tags": .stringMap(tags)] }
    }

    public func createApi(_ r: CreateApiRequest) async throws -> API {
        try Self.api(try await call(r.operation, "POST", "/v2/apis", r.body, idempotent: false), r.operation)
    }

    public func getApi(id: String) async throws -> API {
        try Self.api(try await call("GetApi", "GET", Self.apiPath(id)), "GetApi")
    }

    public func getApis() async throws -> [API] {
        try await items("GetApis", "/v2/apis").map { try Self.api($0, "GetApis") }
    }

    public func updateApi(id: String, name: String) async throws {
        _ = try await call("UpdateApi", "PATCH", Self.apiPath(id), ["name": .string(name)])
    }

    public func deleteApi(id: String) async throws {
        _ = try await call("DeleteApi", "DELETE", Self.apiPath(id))
    }

    // MARK: authorizer

    static func jwtAuthorizerSettings(name: String, issuer: String, audience: [String]) -> JSON {
        ["name": .string(name), "authorizerType": "JWT", "identitySource": ["$request.header.Authorization"],
         "jwtConfiguration": ["issuer": .string(issuer), "audience": .strings(audience)]]
    }

    /// The settings of an authorizer, JWT or a Lambda REQUEST one.
    public enum AuthorizerSettings: Sendable, Equatable {
        case jwt(name: String, issuer: String, audience: [String])
        case request(name: String, functionArn: String, region: String)

        var body: JSON {
            switch self {
            case .jwt(let name, let issuer, let audience): return APIGatewayV2.jwtAuthorizerSettings(name: name, issuer: issuer, audience: audience)
            case .request(let name, let arn, let region): return APIGatewayV2.requestAuthorizerSettings(name: name, functionArn: arn, region: region)
            }
        }
    }

    public struct CreateAuthorizerRequest: JSONServiceRequest, Equatable {
        public var apiId: String
        public var settings: AuthorizerSettings
        public init(apiId: String, _ settings: AuthorizerSettings) {
            self.apiId = apiId
            self.settings = settings
        }
        public var service: AWSService { .apiGatewayV2 }
        public var operation: String { "CreateAuthorizer" }
        public var pathMembers: [(String, String)] { [("ApiId", apiId)] }
        public var body: JSON { settings.body }
    }

    public func createAuthorizer(_ r: CreateAuthorizerRequest) async throws -> String {
        let out = try await call(r.operation, "POST", Self.apiPath(r.apiId, "/authorizers"), r.body, idempotent: false)
        return try out.required("authorizerId", "apigatewayv2", r.operation)
    }

    public func updateJWTAuthorizer(apiId: String, id: String, name: String, issuer: String, audience: [String]) async throws {
        _ = try await call("UpdateAuthorizer", "PATCH", Self.apiPath(apiId, "/authorizers/\(AWSClient.escapePathSegment(id))"),
                           Self.jwtAuthorizerSettings(name: name, issuer: issuer, audience: audience))
    }

    /// The URI API Gateway invokes a Lambda authorizer at.
    public static func lambdaInvocationURI(functionArn: String, region: String) -> String {
        "arn:aws:apigateway:\(region):lambda:path/2015-03-31/functions/\(functionArn)/invocations"
    }

    /// A Lambda REQUEST authorizer (payload 2.0, simple responses). Result caching is off:
    /// the function decides per route (scopes), so a cached Allow must not cross routes.
    static func requestAuthorizerSettings(name: String, functionArn: String, region: String) -> JSON {
        ["name": .string(name), "authorizerType": "REQUEST",
         "authorizerUri": .string(lambdaInvocationURI(functionArn: functionArn, region: region)),
         "authorizerPayloadFormatVersion": "2.0", "enableSimpleResponses": true,
         "identitySource": ["$request.header.Authorization"], "authorizerResultTtlInSeconds": 0]
    }

    public func updateRequestAuthorizer(apiId: String, id: String, name: String, functionArn: String, region: String) async throws {
        _ = try await call("UpdateAuthorizer", "PATCH", Self.apiPath(apiId, "/authorizers/\(AWSClient.escapePathSegment(id))"),
                           Self.requestAuthorizerSettings(name: name, functionArn: functionArn, region: region))
    }

    public struct Authorizer: Sendable {
        public var id: String
        public var name: String
        public var type: String
        public var identitySource: [String]
        public var issuer: String
        public var audience: [String]
        public var uri: String
    }

    /// The ID of an item: from the answer, or the one asked for (KNOWN) when the answer omits it.
    static func id(_ j: JSON, _ key: String, _ op: String, known: String?) throws -> String {
        if let known { return j[key]?.string ?? known }
        return try j.required(key, "apigatewayv2", op)
    }

    static func authorizer(_ a: JSON, _ op: String, id known: String? = nil) throws -> Authorizer {
        Authorizer(id: try id(a, "authorizerId", op, known: known), name: a["name"]?.string ?? "",
                   type: a["authorizerType"]?.string ?? "", identitySource: (a["identitySource"]?.array ?? []).compactMap(\.string),
                   issuer: a["jwtConfiguration"]?["issuer"]?.string ?? "",
                   audience: (a["jwtConfiguration"]?["audience"]?.array ?? []).compactMap(\.string), uri: a["authorizerUri"]?.string ?? "")
    }

    public func authorizer(apiId: String, id: String) async throws -> Authorizer {
        try Self.authorizer(try await call("GetAuthorizer", "GET", Self.apiPath(apiId, "/authorizers/\(AWSClient.escapePathSegment(id))")),
                            "GetAuthorizer", id: id)
    }

    public func authorizers(apiId: String) async throws -> [Authorizer] {
        try await items("GetAuthorizers", Self.apiPath(apiId, "/authorizers")).map { try Self.authorizer($0, "GetAuthorizers") }
    }

    public func deleteAuthorizer(apiId: String, id: String) async throws {
        _ = try await call("DeleteAuthorizer", "DELETE", Self.apiPath(apiId, "/authorizers/\(AWSClient.escapePathSegment(id))"))
    }

    // MARK: integration

    static func lambdaIntegration(functionArn: String) -> JSON {
        ["integrationType": "AWS_PROXY", "integrationUri": .string(functionArn), "integrationMethod": "POST", "payloadFormatVersion": "2.0"]
    }

    /// A Lambda proxy integration (payload 2.0).
    public struct CreateIntegrationRequest: JSONServiceRequest, Equatable {
        public var apiId: String
        public var functionArn: String
        public init(apiId: String, functionArn: String) {
            self.apiId = apiId
            self.functionArn = functionArn
        }
        public var service: AWSService { .apiGatewayV2 }
        public var operation: String { "CreateIntegration" }
        public var pathMembers: [(String, String)] { [("ApiId", apiId)] }
        public var body: JSON { APIGatewayV2.lambdaIntegration(functionArn: functionArn) }
    }

    public func createIntegration(_ r: CreateIntegrationRequest) async throws -> String {
        let out = try await call(r.operation, "POST", Self.apiPath(r.apiId, "/integrations"), r.body, idempotent: false)
        return try out.required("integrationId", "apigatewayv2", r.operation)
    }

    public struct Integration: Sendable {
        public var id: String
        /// The Lambda function's ARN for a proxy integration.
        public var uri: String
    }

    static func integration(_ i: JSON, _ op: String, id known: String? = nil) throws -> Integration {
        Integration(id: try id(i, "integrationId", op, known: known), uri: i["integrationUri"]?.string ?? "")
    }

    public func integration(apiId: String, id: String) async throws -> Integration {
        try Self.integration(try await call("GetIntegration", "GET", Self.apiPath(apiId, "/integrations/\(AWSClient.escapePathSegment(id))")),
                             "GetIntegration", id: id)
    }

    public func integrations(apiId: String) async throws -> [Integration] {
        try await items("GetIntegrations", Self.apiPath(apiId, "/integrations")).map { try Self.integration($0, "GetIntegrations") }
    }

    public func updateLambdaIntegration(apiId: String, id: String, functionArn: String) async throws {
        _ = try await call("UpdateIntegration", "PATCH", Self.apiPath(apiId, "/integrations/\(AWSClient.escapePathSegment(id))"),
                           Self.lambdaIntegration(functionArn: functionArn))
    }

    public func deleteIntegration(apiId: String, id: String) async throws {
        _ = try await call("DeleteIntegration", "DELETE", Self.apiPath(apiId, "/integrations/\(AWSClient.escapePathSegment(id))"))
    }

    // MARK: route

    public struct RouteSettings: Sendable, Equatable {
        public var routeKey: String
        public var authorizationType: String
        /// Empty for AWS_IAM and NONE.
        public var authorizerId: String
        public var scopes: [String]
        public var target: String

        public init(routeKey: String, authorizationType: String, authorizerId: String, scopes: [String], target: String) {
            self.routeKey = routeKey
            self.authorizationType = authorizationType
            self.authorizerId = authorizerId
            self.scopes = scopes
            self.target = target
        }
    }

    public struct CreateRouteRequest: JSONServiceRequest, Equatable {
        public var apiId: String
        public var route: RouteSettings
        public init(apiId: String, _ route: RouteSettings) {
            self.apiId = apiId
            self.route = route
        }
        public var service: AWSService { .apiGatewayV2 }
        public var operation: String { "CreateRoute" }
        public var pathMembers: [(String, String)] { [("ApiId", apiId)] }
        public var body: JSON {
            var body: [String: JSON] = ["routeKey": .string(route.routeKey), "authorizationType": .string(route.authorizationType),
                                        "target": .string(route.target)]
            if !route.authorizerId.isEmpty { body["authorizerId"] = .string(route.authorizerId) }
            if !route.scopes.isEmpty { body["authorizationScopes"] = .strings(route.scopes) }
            return .object(body)
        }
    }

    public func createRoute(_ r: CreateRouteRequest) async throws -> String {
        let out = try await call(r.operation, "POST", Self.apiPath(r.apiId, "/routes"), r.body, idempotent: false)
        return try out.required("routeId", "apigatewayv2", r.operation)
    }

    /// Sends every setting, an empty authorizer ID and scope list included (that is how a route
    /// stops using an authorizer), as Terraform does.
    public func updateRoute(apiId: String, id: String, _ r: RouteSettings) async throws {
        _ = try await call("UpdateRoute", "PATCH", Self.apiPath(apiId, "/routes/\(AWSClient.escapePathSegment(id))"), [
            "routeKey": .string(r.routeKey), "authorizationType": .string(r.authorizationType), "authorizerId": .string(r.authorizerId),
            "authorizationScopes": .strings(r.scopes), "target": .string(r.target),
        ])
    }

    public struct Route: Sendable {
        public var id: String
        public var settings: RouteSettings
    }

    static func route(_ r: JSON, _ op: String, id known: String? = nil) throws -> Route {
        // No authorizationType in the answer means NONE (AWS's default): a public route.
        Route(id: try id(r, "routeId", op, known: known),
              settings: RouteSettings(routeKey: r["routeKey"]?.string ?? "", authorizationType: r["authorizationType"]?.string ?? "NONE",
                                      authorizerId: r["authorizerId"]?.string ?? "",
                                      scopes: (r["authorizationScopes"]?.array ?? []).compactMap(\.string), target: r["target"]?.string ?? ""))
    }

    public func route(apiId: String, id: String) async throws -> Route {
        try Self.route(try await call("GetRoute", "GET", Self.apiPath(apiId, "/routes/\(AWSClient.escapePathSegment(id))")), "GetRoute", id: id)
    }

    public func routes(apiId: String) async throws -> [Route] {
        try await items("GetRoutes", Self.apiPath(apiId, "/routes")).map { try Self.route($0, "GetRoutes") }
    }

    public func deleteRoute(apiId: String, id: String) async throws {
        _ = try await call("DeleteRoute", "DELETE", Self.apiPath(apiId, "/routes/\(AWSClient.escapePathSegment(id))"))
    }

    // MARK: stage

    public struct CreateStageRequest: JSONServiceRequest, Equatable {
        public var apiId: String
        public var name: String
        public var autoDeploy: Bool
        public var tags: Tags
        public init(apiId: String, name: String, autoDeploy: Bool, tags: Tags) {
            self.apiId = apiId
            self.name = name
            self.autoDeploy = autoDeploy
            self.tags = tags
        }
        public var service: AWSService { .apiGatewayV2 }
        public var operation: String { "CreateStage" }
        public var pathMembers: [(String, String)] { [("ApiId", apiId)] }
        public var body: JSON { ["stageName": .string(name), "autoDeploy": .bool(autoDeploy), "tags": .stringMap(tags)] }
    }

    public func createStage(_ r: CreateStageRequest) async throws {
        _ = try await call(r.operation, "POST", Self.apiPath(r.apiId, "/stages"), r.body, idempotent: false)
    }

    public struct Stage: Sendable {
        public var name: String
        public var autoDeploy: Bool
    }

    public func stage(apiId: String, name: String) async throws -> Stage {
        let out = try await call("GetStage", "GET", Self.apiPath(apiId, "/stages/\(AWSClient.escapePathSegment(name))"))
        return Stage(name: out["stageName"]?.string ?? name, autoDeploy: out["autoDeploy"]?.bool ?? false)
    }

    public func updateStage(apiId: String, name: String, autoDeploy: Bool) async throws {
        _ = try await call("UpdateStage", "PATCH", Self.apiPath(apiId, "/stages/\(AWSClient.escapePathSegment(name))"),
                           ["autoDeploy": .bool(autoDeploy)])
    }

    public func deleteStage(apiId: String, name: String) async throws {
        _ = try await call("DeleteStage", "DELETE", Self.apiPath(apiId, "/stages/\(AWSClient.escapePathSegment(name))"))
    }
}
