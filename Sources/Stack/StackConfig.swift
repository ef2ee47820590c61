import AWSClient

/// How the API's routes are protected (DESIGN.md's patterns).
public enum AuthPattern: String, Sendable, CaseIterable {
    /// JWT authorizer trusting the stack's Cognito user pool (default).
    case cognito
    /// JWT authorizer trusting an external OIDC issuer (e.g. Keycloak); no Cognito.
    case oidc
    /// A Lambda REQUEST authorizer that verifies the Cognito access token itself.
    case lambda
    /// AWS_IAM: callers sign requests with SigV4 (service execute-api); no Cognito.
    case iam
}

/// What a stack is created with. Recorded in state.json so `delete`, `status` and resumes
/// never depend on today's flags. Holds no secret: the password is passed separately.
public struct StackConfig: Sendable, Equatable {
    public var auth: AuthPattern = .cognito
    /// The external issuer and audience (auth = oidc).
    public var oidcIssuer: String?
    public var oidcAudience: String?
    public var authorizerRoleName = "APIGatewayAuthorizerRole"
    public var authorizerFunctionName = "CognitoAuthorizerFunction"
    public var stackName: String
    public var userPoolName: String
    public var domainPrefix: String
    /// True when the prefix was generated (a taken one is then replaced, not an error).
    public var domainPrefixGenerated: Bool
    public var resourceServerIdentifier: String
    public var scopes: [String]
    public var appClientName: String
    public var machineClientName: String
    public var callbackURL: String
    public var username: String
    public var email: String
    public var apiName: String
    public var authorizerName: String
    public var roleName: String
    public var functionName: String
    public var runtime: String
    public var architecture: String
    public var routeKey: String
    /// The route that needs the write scope.
    public var writeRouteKey: String
    public var stageName: String
    public var minimumPasswordLength: Int
    /// The user's function code (`--code`: a directory or a .zip); nil for the embedded echo function.
    public var codePath: String?
    /// The function's handler (`--handler`, module.function); nil for the code's default.
    public var handler: String?

    public static let basicExecutionPolicyArn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    public static let invokeStatementId = "secure-api-apigateway-invoke"
    public static let authorizerStatementId = "secure-api-apigateway-authorizer"

    public init(stackName: String = "HelloAPI", userPoolName: String = "HelloUserPool", domainPrefix: String,
                domainPrefixGenerated: Bool, resourceServerIdentifier: String = "HelloAPI",
                scopes: [String] = ["hello.read", "hello.write"], appClientName: String = "Terminal Application",
                machineClientName: String = "Machine Client",
                callbackURL: String = "http://localhost:8083/callback", username: String = "Testuser",
                email: String = "testuser@example.com", apiName: String = "HelloAPI",
                authorizerName: String = "CognitoJWTAuthorizer", roleName: String = "APIGatewayLambdaRole",
                functionName: String = "EchoFunction", runtime: String = "python3.12", architecture: String = "arm64",
                routeKey: String = "GET /hello", writeRouteKey: String = "POST /hello", stageName: String = "dev", minimumPasswordLength: Int = 8) {
        self.stackName = stackName
        self.userPoolName = userPoolName
        self.domainPrefix = domainPrefix
        self.domainPrefixGenerated = domainPrefixGenerated
        self.resourceServerIdentifier = resourceServerIdentifier
        self.scopes = scopes
        self.appClientName = appClientName
        self.machineClientName = machineClientName
        self.callbackURL = callbackURL
        self.username = username
        self.email = email
        self.apiName = apiName
        self.authorizerName = authorizerName
        self.roleName = roleName
        self.functionName = functionName
        self.runtime = runtime
        self.architecture = architecture
        self.routeKey = routeKey
        self.writeRouteKey = writeRouteKey
        self.stageName = stageName
        self.minimumPasswordLength = minimumPasswordLength
    }

    /// Full scope names as the app client and route use them (`HelloAPI/hello.read`).
    public var qualifiedScopes: [String] { scopes.map { "\(resourceServerIdentifier)/\($0)" } }
    /// The terminal client's scopes: OIDC ones plus the read scope.
    public var appClientScopes: [String] {
        ["openid", "profile", "email"] + qualifiedScopes.filter { $0.hasSuffix(".read") }
    }

    // MARK: validation (before any AWS call): the rules live in InputRules

    /// What a stored configuration (state.json) must satisfy to be read at all.
    public func validate() throws { try InputRules.checkStored(self) }

    /// Everything AWS would refuse in this configuration; returns warnings to show. The runtime
    /// matters only while a function is still to be created.
    public func validateForCreate(functionsToCreate: Bool = true) throws -> [String] {
        try InputRules.checkNew(self, functionsToCreate: functionsToCreate)
    }
}

extension StackConfig {
    /// The pool's password policy, checked before any AWS call.
    public static func validatePassword(_ p: String, minimumLength: Int) throws {
        try InputRules.checkPassword(p, minimumLength: minimumLength)
    }
}

extension StackConfig {
    func toJSON() -> JSON {
        var o = toJSONBase().object ?? [:]
        o["auth"] = .string(auth.rawValue)
        if let oidcIssuer { o["oidc_issuer"] = .string(oidcIssuer) }
        if let oidcAudience { o["oidc_audience"] = .string(oidcAudience) }
        o["authorizer_role_name"] = .string(authorizerRoleName)
        o["authorizer_function_name"] = .string(authorizerFunctionName)
        if let codePath { o["code_path"] = .string(codePath) }
        if let handler { o["handler"] = .string(handler) }
        return .object(o)
    }

    func toJSONBase() -> JSON {
        [
            "stack_name": .string(stackName), "user_pool_name": .string(userPoolName), "domain_prefix": .string(domainPrefix),
            "domain_prefix_generated": .bool(domainPrefixGenerated), "resource_server_identifier": .string(resourceServerIdentifier),
            "scopes": .array(scopes.map { .string($0) }), "app_client_name": .string(appClientName), "machine_client_name": .string(machineClientName),
            "callback_url": .string(callbackURL), "username": .string(username), "email": .string(email),
            "api_name": .string(apiName), "authorizer_name": .string(authorizerName), "role_name": .string(roleName),
            "function_name": .string(functionName), "runtime": .string(runtime), "architecture": .string(architecture),
            "route_key": .string(routeKey), "write_route_key": .string(writeRouteKey), "stage_name": .string(stageName),
            "minimum_password_length": .number(Double(minimumPasswordLength)),
        ]
    }

    init(json: JSON) throws {
        func s(_ k: String) throws -> String {
            guard let v = json[k]?.string else { throw StackError.malformedState("config.\(k) must be a string") }
            return v
        }
        guard let scopes = json["scopes"]?.array?.compactMap(\.string), scopes.count == json["scopes"]?.array?.count else {
            throw StackError.malformedState("config.scopes must be a list of strings")
        }
        guard let generated = json["domain_prefix_generated"]?.bool else {
            throw StackError.malformedState("config.domain_prefix_generated must be true or false")
        }
        guard let minLength = json["minimum_password_length"]?.int else {
            throw StackError.malformedState("config.minimum_password_length must be an integer")
        }
        self.init(stackName: try s("stack_name"), userPoolName: try s("user_pool_name"), domainPrefix: try s("domain_prefix"),
                  domainPrefixGenerated: generated, resourceServerIdentifier: try s("resource_server_identifier"),
                  scopes: scopes, appClientName: try s("app_client_name"), machineClientName: try s("machine_client_name"), callbackURL: try s("callback_url"),
                  username: try s("username"), email: try s("email"), apiName: try s("api_name"),
                  authorizerName: try s("authorizer_name"), roleName: try s("role_name"), functionName: try s("function_name"),
                  runtime: try s("runtime"), architecture: try s("architecture"), routeKey: try s("route_key"),
                  writeRouteKey: try s("write_route_key"),
                  stageName: try s("stage_name"), minimumPasswordLength: minLength)
        if let a = json["auth"] {
            guard let text = a.string, let pattern = AuthPattern(rawValue: text) else {
                throw StackError.malformedState("config.auth must be one of \(AuthPattern.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            auth = pattern
        }
        codePath = json["code_path"]?.string
        handler = json["handler"]?.string
        oidcIssuer = json["oidc_issuer"]?.string
        oidcAudience = json["oidc_audience"]?.string
        if let r = json["authorizer_role_name"]?.string { authorizerRoleName = r }
        if let f = json["authorizer_function_name"]?.string { authorizerFunctionName = f }
    }
}

public enum StackError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String)
    case malformedState(String)
    case unsupportedStateVersion(Int)
    case locked(path: String, holder: String)
    case stateIO(String)
    case targetMismatch(String)
    case createFailed(resource: String, underlying: String)
    case domainPrefixTaken(String)
    /// A resource with our name exists but carries no tag of this stack: never adopt or delete it.
    case foreignResource(String)
    case iamPropagationTimeout(seconds: Int, last: String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return m
        case .malformedState(let m): return "refusing malformed state file: \(m) (the file was left untouched)"
        case .unsupportedStateVersion(let v): return "refusing state file of version \(v): this secure-api understands versions \(StateFile.readableVersions.lowerBound)-\(StateFile.readableVersions.upperBound) (the file was left untouched; upgrade secure-api)"
        case .locked(let p, let h): return "another secure-api run is using \(p) (\(h)); wait for it to finish"
        case .stateIO(let m): return m
        case .targetMismatch(let m): return m
        case .createFailed(let r, let u): return "creating \(r): \(u)"
        case .foreignResource(let m): return m
        case .domainPrefixTaken(let p): return "domain prefix '\(p)' is already taken by another user pool: choose another DOMAIN_PREFIX"
        case .iamPropagationTimeout(let s, let last): return "the Lambda role was still not assumable after \(s) s (IAM propagation); run create again to resume. Last error: \(last)"
        }
    }
}
