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

    public func createUserPool(name: String, minimumPasswordLength: Int, tags: Tags) async throws -> UserPool {
        let out = try await call("CreateUserPool", [
            "PoolName": .string(name),
            "Policies": Self.passwordPolicy(minimumPasswordLength),
            "AutoVerifiedAttributes": ["email"],
            "Schema": [["Name": "email", "AttributeDataType": "String", "Required": true, "Mutable": true]],
            "UserPoolTags": .stringMap(tags),
        ], idempotent: false)
        return try Self.pool(try out.requiredObject("UserPool", "cognito-idp", "CreateUserPool"), "CreateUserPool")
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

    public func createUserPoolDomain(domain: String, userPoolId: String) async throws {
        _ = try await call("CreateUserPoolDomain", ["Domain": .string(domain), "UserPoolId": .string(userPoolId)], idempotent: false)
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

    public func createResourceServer(userPoolId: String, identifier: String, name: String, scopes: [(String, String)]) async throws {
        _ = try await call("CreateResourceServer", [
            "UserPoolId": .string(userPoolId), "Identifier": .string(identifier), "Name": .string(name),
            "Scopes": .array(scopes.map { ["ScopeName": .string($0.0), "ScopeDescription": .string($0.1)] }),
        ], idempotent: false)
    }

    /// Scope names of a resource server.
    public func describeResourceServer(userPoolId: String, identifier: String) async throws -> [String] {
        let out = try await call("DescribeResourceServer", ["UserPoolId": .string(userPoolId), "Identifier": .string(identifier)])
        return (out["ResourceServer"]?["Scopes"]?.array ?? []).compactMap { $0["ScopeName"]?.string }
    }

    /// UpdateResourceServer replaces the name and the whole scope list.
    public func updateResourceServer(userPoolId: String, identifier: String, name: String, scopes: [(String, String)]) async throws {
        _ = try await call("UpdateResourceServer", [
            "UserPoolId": .string(userPoolId), "Identifier": .string(identifier), "Name": .string(name),
            "Scopes": .array(scopes.map { ["ScopeName": .string($0.0), "ScopeDescription": .string($0.1)] }),
        ])
    }

    public func deleteResourceServer(userPoolId: String, identifier: String) async throws {
        _ = try await call("DeleteResourceServer", ["UserPoolId": .string(userPoolId), "Identifier": .string(identifier)])
    }

    // MARK: app client

    public struct AppClientSettings: Sendable {
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

    public func createUserPoolClient(userPoolId: String, _ s: AppClientSettings) async throws -> String {
        var input = Self.clientSettings(s)
        input["UserPoolId"] = .string(userPoolId)
        input["GenerateSecret"] = .bool(s.generateSecret)
        let out = try await call("CreateUserPoolClient", .object(input), idempotent: false)
        return try out.requiredObject("UserPoolClient", "cognito-idp", "CreateUserPoolClient")
            .required("ClientId", "cognito-idp", "CreateUserPoolClient")
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

    /// The client's description; `ClientSecret` is in it for confidential clients, so callers
    /// must never store or log the answer.
    public func describeUserPoolClient(userPoolId: String, clientId: String) async throws -> JSON {
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

    public func deleteUserPoolClient(userPoolId: String, clientId: String) async throws {
        _ = try await call("DeleteUserPoolClient", ["UserPoolId": .string(userPoolId), "ClientId": .string(clientId)])
    }

    // MARK: users

    public func adminCreateUser(userPoolId: String, username: String, email: String) async throws {
        _ = try await call("AdminCreateUser", [
            "UserPoolId": .string(userPoolId), "Username": .string(username), "MessageAction": "SUPPRESS",
            "UserAttributes": [["Name": "email", "Value": .string(email)], ["Name": "email_verified", "Value": "true"]],
        ], idempotent: false)
    }

    public func adminSetUserPassword(userPoolId: String, username: String, password: String) async throws {
        _ = try await call("AdminSetUserPassword", [
            "UserPoolId": .string(userPoolId), "Username": .string(username), "Password": .string(password), "Permanent": true,
        ])
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
            "UserAttributes": [["Name": "email", "Value": .string(email)], ["Name": "email_verified", "Value": "true"]],
        ])
    }

    public func adminDeleteUser(userPoolId: String, username: String) async throws {
        _ = try await call("AdminDeleteUser", ["UserPoolId": .string(userPoolId), "Username": .string(username)])
    }

    /// REFRESH_TOKEN_AUTH: new access and ID tokens from a refresh token (public client).
    public func refreshAuth(clientId: String, refreshToken: String) async throws -> JSON {
        let out = try await call("InitiateAuth", [
            "ClientId": .string(clientId), "AuthFlow": "REFRESH_TOKEN_AUTH",
            "AuthParameters": ["REFRESH_TOKEN": .string(refreshToken)],
        ])
        return try out.requiredObject("AuthenticationResult", "cognito-idp", "InitiateAuth")
    }

    /// USER_PASSWORD_AUTH for the emulator (no hosted UI there). The answer holds tokens.
    public func initiateAuth(clientId: String, username: String, password: String) async throws -> JSON {
        let out = try await call("InitiateAuth", [
            "ClientId": .string(clientId), "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": ["USERNAME": .string(username), "PASSWORD": .string(password)],
        ])
        return try out.requiredObject("AuthenticationResult", "cognito-idp", "InitiateAuth")
    }
}
