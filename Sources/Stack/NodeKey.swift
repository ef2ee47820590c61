/// A node's key, unique in a graph and in state.json: typed, so a misspelt dependency or
/// record lookup does not compile. state.json keeps the strings (`rawValue`).
public struct NodeKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let userPool = NodeKey(rawValue: "user_pool")
    public static let userPoolDomain = NodeKey(rawValue: "user_pool_domain")
    public static let resourceServer = NodeKey(rawValue: "resource_server")
    public static let appClient = NodeKey(rawValue: "app_client")
    public static let machineClient = NodeKey(rawValue: "machine_client")
    public static let testUser = NodeKey(rawValue: "test_user")
    public static let httpAPI = NodeKey(rawValue: "http_api")
    public static let authorizer = NodeKey(rawValue: "authorizer")
    public static let lambdaRole = NodeKey(rawValue: "lambda_role")
    public static let lambdaRolePolicy = NodeKey(rawValue: "lambda_role_policy")
    public static let lambdaFunction = NodeKey(rawValue: "lambda_function")
    public static let lambdaLogGroup = NodeKey(rawValue: "lambda_log_group")
    public static let invokePermission = NodeKey(rawValue: "invoke_permission")
    public static let integration = NodeKey(rawValue: "integration")
    public static let route = NodeKey(rawValue: "route")
    public static let routeWrite = NodeKey(rawValue: "route_write")
    public static let stage = NodeKey(rawValue: "stage")
    public static let authorizerRole = NodeKey(rawValue: "authorizer_role")
    public static let authorizerRolePolicy = NodeKey(rawValue: "authorizer_role_policy")
    public static let authorizerFunction = NodeKey(rawValue: "authorizer_function")
    public static let authorizerLogGroup = NodeKey(rawValue: "authorizer_log_group")
    public static let authorizerPermission = NodeKey(rawValue: "authorizer_permission")
}
