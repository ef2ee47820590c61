import AWSClient

/// Amazon Cognito user pools (JSON 1.1, `AWSCognitoIdentityProviderService.*`): only the
/// operations the stack uses.
public struct CognitoIdentityProvider: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    func call(_ op: String, _ input: JSON, idempotent: Bool = true) async throws -> JSON {
        try await client.json(.cognitoIdentityProvider, op, input, idempotent: idempotent)
    }

    // MARK: user pool

    public struct UserPool: Sendable {
        public var id: String
        public var name: String
        public var arn: String
        public var tags: Tags
        public var minimumPasswordLength: Int?
    }

    static func passwordPolicy(_ minimumLength: Int) -> JSON {
        ["PasswordPolicy": ["MinimumLength": .number(Double(minimumLength)), "RequireUppercase": true,
                            "RequireLowercase": true, "RequireNumbers": true, "RequireSymbols": true]]
    }

    public struct CreateUserPoolRequest: JSONServiceRequest, Equatable {
        public var name: String
        public var minimumPasswordLength: Int
        public var tags: Tags
        public init(name: String, minimumPasswordLength: Int, tags: Tags) {
            self.name = name
            self.minimumPasswordLength = minimumPasswordLength
            self.tags = tags
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "CreateUserPool" }
        public var body: JSON {
            ["PoolName": .string(name), "Policies": CognitoIdentityProvider.passwordPolicy(minimumPasswordLength),
             "AutoVerifiedAttributes": ["email"],
             "Schema": [["Name": "email", "AttributeDataType": "String", "Required": true, "Mutable": true]],
             "UserPoolTags": .stringMap(tags)]
        }
    }

    public func createUserPool(_ r: CreateUserPoolRequest) async throws -> UserPool {
        let out = try await call(r.operation, r.body, idempotent: false)
        return try Self.pool(try out.requiredObject("UserPool", "cognito-idp", r.operation), r.operation)
    }

    /// UpdateUserPool resets what it is not sent, so everything we set at create goes again.
    public func updateUserPool(id: String, minimumPasswordLength: Int, tags: Tags) async throws {
        _ = try await call("UpdateUserPool", [
            "UserPoolId": .string(id), "Policies": Self.passwordPolicy(minimumPasswordLength),
            "AutoVerifiedAttributes": ["email"], "UserPoolTags": .stringMap(tags),
        ])
    }

    public func describeUserPool(id: String) async throws -> UserPool {
        let out = try await call("DescribeUserPool", ["UserPoolId": .string(id)])
        return try Self.pool(try out.requiredObject("UserPool", "cognito-idp", "DescribeUserPool"), "DescribeUserPool")
    }

    static func pool(_ p: JSON, _ op: String) throws -> UserPool {
        UserPool(id: try p.required("Id", "cognito-idp", op), name: p["Name"]?.string ?? "",
                 arn: p["Arn"]?.string ?? "", tags: (p["UserPoolTags"]?.object ?? [:]).compactMapValues(\.string),
                 minimumPasswordLength: p["Policies"]?["PasswordPolicy"]?["MinimumLength"]?.int)
    }

    /// All pools (id, name), following NextToken.
    public func listUserPools() async throws -> [(id: String, name: String)] {
        var result: [(String, String)] = []
        var token: String?
        repeat {
            var input: [String: JSON] = ["MaxResults": 60]
            if let token { input["NextToken"] = .string(token) }
            let out = try await call("ListUserPools", .object(input))
            for p in out["UserPools"]?.array ?? [] {
                if let id = p["Id"]?.string { result.append((id, p["Name"]?.string ?? "")) }
            }
            token = out["NextToken"]?.string
        } while token != nil
        return result
    }

    public func deleteUserPool(id: String) async throws {
        _ = try await call("DeleteUserPool", ["UserPoolId": .string(id)])
    }

    // MARK: domain

    public struct CreateUserPoolDomainRequest: JSONServiceRequest, Equatable {
        public var domain: String
        public var userPoolId: String
        public init(domain: String, userPoolId: String) {
            self.domain = domain
            self.userPoolId = userPoolId
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "CreateUserPoolDomain" }
        public var body: JSON { ["Domain": .string(domain), "UserPoolId": .string(userPoolId)] }
    }

    public func createUserPoolDomain(_ r: CreateUserPoolDomainRequest) async throws {
        _ = try await call(r.operation, r.body, idempotent: false)
    }

    /// The pool a domain prefix belongs to, or nil when the prefix is free (Cognito answers
    /// an empty description for a missing domain).
    public func describeUserPoolDomain(domain: String) async throws -> String? {
        let out = try await call("DescribeUserPoolDomain", ["Domain": .string(domain)])
        return out["DomainDescription"]?["UserPoolId"]?.string.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func deleteUserPoolDomain(domain: String, userPoolId: String) async throws {
        _ = try await call("DeleteUserPoolDomain", ["Domain": .string(domain), "UserPoolId": .string(userPoolId)])
    }

    // MARK: resource server

    public struct Scope: Sendable, Equatable {
        public var name: String
        public var description: String
        public init(_ name: String, description: String) {
            self.name = name
            self.description = description
        }
    }

    static func scopes(_ scopes: [Scope]) -> JSON {
        .array(scopes.map { ["ScopeName": .string($0.name), "ScopeDescription": .string($0.description)] })
    }

    public struct CreateResourceServerRequest: JSONServiceRequest, Equatable {
        public var userPoolId: String
        public var identifier: String
        public var name: String
        public var scopes: [Scope]
        public init(userPoolId: String, identifier: String, name: String, scopes: [Scope]) {
            self.userPoolId = userPoolId
            self.identifier = identifier
            self.name = name
            self.scopes = scopes
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "CreateResourceServer" }
        public var body: JSON {
            ["UserPoolId": .string(userPoolId), "Identifier": .string(identifier), "Name": .string(name),
             "Scopes": CognitoIdentityProvider.scopes(scopes)]
        }
    }

    public func createResourceServer(_ r: CreateResourceServerRequest) async throws {
        _ = try await call(r.operation, r.body, idempotent: false)
    }

    /// Scope names of a resource server.
    public func describeResourceServer(userPoolId: String, identifier: String) async throws -> [String] {
        let out = try await call("DescribeResourceServer", ["UserPoolId": .string(userPoolId), "Identifier": .string(identifier)])
        return (out["ResourceServer"]?["Scopes"]?.array ?? []).compactMap { $0["ScopeName"]?.string }
    }

    /// UpdateResourceServer replaces the name and the whole scope list.
    public func updateResourceServer(userPoolId: String, identifier: String, name: String, scopes: [Scope]) async throws {
        _ = try await call("UpdateResourceServer", [
            "UserPoolId": .string(userPoolId), "Identifier": .string(identifier), "Name": .string(name), "Scopes": Self.scopes(scopes),
        ])
    }

    public func deleteResourceServer(userPoolId: String, identifier: String) async throws {
        _ = try await call("DeleteResourceServer", ["UserPoolId": .string(userPoolId), "Identifier": .string(identifier)])
    }

    // MARK: app client

    public struct AppClientSettings: Sendable, Equatable {
        public var name: String
        public var generateSecret: Bool
        public var flows: [String]
        public var scopes: [String]
        public var callbackURLs: [String]
        public var explicitAuthFlows: [String]
        public init(name: String, generateSecret: Bool, flows: [String], scopes: [String], callbackURLs: [String],
                    explicitAuthFlows: [String]) {
            self.name = name
            self.generateSecret = generateSecret
            self.flows = flows
            self.scopes = scopes
            self.callbackURLs = callbackURLs
            self.explicitAuthFlows = explicitAuthFlows
        }
    }

    /// The settings both CreateUserPoolClient and UpdateUserPoolClient send (an update resets
    /// every attribute it is not sent, so it always sends all of them).
    static func clientSettings(_ s: AppClientSettings) -> [String: JSON] {
        var input: [String: JSON] = [
            "ClientName": .string(s.name), "AllowedOAuthFlows": .strings(s.flows), "AllowedOAuthScopes": .strings(s.scopes),
            "AllowedOAuthFlowsUserPoolClient": true, "SupportedIdentityProviders": ["COGNITO"],
            "ExplicitAuthFlows": .strings(s.explicitAuthFlows),
        ]
        if !s.callbackURLs.isEmpty { input["CallbackURLs"] = .strings(s.callbackURLs) }
        return input
    }

    public struct CreateUserPoolClientRequest: JSONServiceRequest, Equatable {
        public var userPoolId: String
        public var settings: AppClientSettings
        public init(userPoolId: String, _ settings: AppClientSettings) {
            self.userPoolId = userPoolId
            self.settings = settings
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "CreateUserPoolClient" }
        public var body: JSON {
            var input = CognitoIdentityProvider.clientSettings(settings)
            input["UserPoolId"] = .string(userPoolId)
            input["GenerateSecret"] = .bool(settings.generateSecret)
            return .object(input)
        }
    }

    public func createUserPoolClient(_ r: CreateUserPoolClientRequest) async throws -> String {
        let out = try await call(r.operation, r.body, idempotent: false)
        return try out.requiredObject("UserPoolClient", "cognito-idp", r.operation).required("ClientId", "cognito-idp", r.operation)
    }

    public func listUserPoolClients(userPoolId: String) async throws -> [(id: String, name: String)] {
        var result: [(String, String)] = []
        var token: String?
        repeat {
            var input: [String: JSON] = ["UserPoolId": .string(userPoolId), "MaxResults": 60]
            if let token { input["NextToken"] = .string(token) }
            let out = try await call("ListUserPoolClients", .object(input))
            for c in out["UserPoolClients"]?.array ?? [] {
                if let id = c["ClientId"]?.string { result.append((id, c["ClientName"]?.string ?? "")) }
            }
            token = out["NextToken"]?.string
        } while token != nil
        return result
    }

    /// The client's description; `ClientSecret` is in it for confidential clients: only
    /// `clientSecret` hands that out, so no caller can store or log it by accident.
    func describeUserPoolClient(userPoolId: String, clientId: String) async throws -> JSON {
        let out = try await call("DescribeUserPoolClient", ["UserPoolId": .string(userPoolId), "ClientId": .string(clientId)])
        return try out.requiredObject("UserPoolClient", "cognito-idp", "DescribeUserPoolClient")
    }

    public func updateUserPoolClient(userPoolId: String, clientId: String, _ s: AppClientSettings) async throws {
        var input = Self.clientSettings(s)
        input["UserPoolId"] = .string(userPoolId)
        input["ClientId"] = .string(clientId)
        _ = try await call("UpdateUserPoolClient", .object(input))
    }

    /// An app client's settings as Cognito holds them; `generateSecret` says whether it has a
    /// secret (the secret itself is not kept).
    public func userPoolClientSettings(userPoolId: String, clientId: String) async throws -> AppClientSettings {
        let c = try await describeUserPoolClient(userPoolId: userPoolId, clientId: clientId)
        func list(_ k: String) -> [String] { (c[k]?.array ?? []).compactMap(\.string) }
        return AppClientSettings(name: c["ClientName"]?.string ?? "", generateSecret: c["ClientSecret"]?.string.map { !$0.isEmpty } ?? false,
                                 flows: list("AllowedOAuthFlows"), scopes: list("AllowedOAuthScopes"),
                                 callbackURLs: list("CallbackURLs"), explicitAuthFlows: list("ExplicitAuthFlows"))
    }

    /// A confidential client's secret (nil for a public client): never store or log it.
    public func clientSecret(userPoolId: String, clientId: String) async throws -> String? {
        try await describeUserPoolClient(userPoolId: userPoolId, clientId: clientId)["ClientSecret"]?.string.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func deleteUserPoolClient(userPoolId: String, clientId: String) async throws {
        _ = try await call("DeleteUserPoolClient", ["UserPoolId": .string(userPoolId), "ClientId": .string(clientId)])
    }

    // MARK: users

    static func emailAttributes(_ email: String) -> JSON {
        [["Name": "email", "Value": .string(email)], ["Name": "email_verified", "Value": "true"]]
    }

    public struct AdminCreateUserRequest: JSONServiceRequest, Equatable {
        public var userPoolId: String
        public var username: String
        public var email: String
        public init(userPoolId: String, username: String, email: String) {
            self.userPoolId = userPoolId
            self.username = username
            self.email = email
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "AdminCreateUser" }
        public var body: JSON {
            ["UserPoolId": .string(userPoolId), "Username": .string(username), "MessageAction": "SUPPRESS",
             "UserAttributes": CognitoIdentityProvider.emailAttributes(email)]
        }
    }

    public func adminCreateUser(_ r: AdminCreateUserRequest) async throws {
        _ = try await call(r.operation, r.body, idempotent: false)
    }

    /// Sets a permanent password: `plan` never shows it.
    public struct AdminSetUserPasswordRequest: JSONServiceRequest, Equatable {
        public var userPoolId: String
        public var username: String
        public var password: String
        public init(userPoolId: String, username: String, password: String) {
            self.userPoolId = userPoolId
            self.username = username
            self.password = password
        }
        public var service: AWSService { .cognitoIdentityProvider }
        public var operation: String { "AdminSetUserPassword" }
        public var body: JSON {
            ["UserPoolId": .string(userPoolId), "Username": .string(username), "Password": .string(password), "Permanent": true]
        }
        public func summary(of member: String) -> String? { member == "Password" ? "(secret: PASSWORD, not shown)" : nil }
    }

    public func adminSetUserPassword(_ r: AdminSetUserPasswordRequest) async throws {
        _ = try await call(r.operation, r.body)
    }

    /// The user's status (e.g. CONFIRMED) and attributes, or a not-found error.
    public func adminGetUser(userPoolId: String, username: String) async throws -> (status: String, attributes: [String: String]) {
        let out = try await call("AdminGetUser", ["UserPoolId": .string(userPoolId), "Username": .string(username)])
        var attributes: [String: String] = [:]
        for a in out["UserAttributes"]?.array ?? [] { if let n = a["Name"]?.string { attributes[n] = a["Value"]?.string ?? "" } }
        return (out["UserStatus"]?.string ?? "", attributes)
    }

    public func adminUpdateUserEmail(userPoolId: String, username: String, email: String) async throws {
        _ = try await call("AdminUpdateUserAttributes", [
            "UserPoolId": .string(userPoolId), "Username": .string(username),
            "UserAttributes": Self.emailAttributes(email),
        ])
    }

    public func adminDeleteUser(userPoolId: String, username: String) async throws {
        _ = try await call("AdminDeleteUser", ["UserPoolId": .string(userPoolId), "Username": .string(username)])
    }

    /// InitiateAuth's tokens (secrets: never store them in state or log them; printing one
    /// shows no token).
    public struct AuthenticationResult: Sendable, CustomStringConvertible {
        public var description: String { "AuthenticationResult(tokens redacted, expires in \(expiresIn.map(String.init) ?? "?") s)" }
        public var accessToken: String
        public var idToken: String?
        /// Absent when refreshing: the refresh token used stays valid.
        public var refreshToken: String?
        public var expiresIn: Int?
    }

    func initiateAuth(_ input: JSON) async throws -> AuthenticationResult {
        let out = try await call("InitiateAuth", input).requiredObject("AuthenticationResult", "cognito-idp", "InitiateAuth")
        return AuthenticationResult(accessToken: try out.required("AccessToken", "cognito-idp", "InitiateAuth"), idToken: out["IdToken"]?.string,
                                    refreshToken: out["RefreshToken"]?.string, expiresIn: out["ExpiresIn"]?.int)
    }

    /// REFRESH_TOKEN_AUTH: new access and ID tokens from a refresh token (public client).
    public func refreshAuth(clientId: String, refreshToken: String) async throws -> AuthenticationResult {
        try await initiateAuth(["ClientId": .string(clientId), "AuthFlow": "REFRESH_TOKEN_AUTH",
                                "AuthParameters": ["REFRESH_TOKEN": .string(refreshToken)]])
    }

    /// USER_PASSWORD_AUTH for the emulator (no hosted UI there).
    public func initiateAuth(clientId: String, username: String, password: String) async throws -> AuthenticationResult {
        try await initiateAuth(["ClientId": .string(clientId), "AuthFlow": "USER_PASSWORD_AUTH",
                                "AuthParameters": ["USERNAME": .string(username), "PASSWORD": .string(password)]])
    }
}
