import AWSClient
import Crypto
import Services

/// 1. The user pool. Pool names are not unique, so a crashed create is found by its tags.
struct UserPoolResource: StackResource {
    let key: NodeKey = .userPool
    let type = "cognito-idp:user-pool"
    let label = "Cognito user pool"
    let dependencies: [NodeKey] = []

    func pendingName(_ c: StackConfig) -> String? { c.userPoolName }

    func request(_ ctx: ResourceContext) -> CognitoIdentityProvider.CreateUserPoolRequest {
        .init(name: ctx.config.userPoolName, minimumPasswordLength: ctx.config.minimumPasswordLength, tags: ctx.tags)
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let pool = try await ctx.services.cognito.createUserPool(request(ctx))
        return record(id: pool.id, name: pool.name, arn: pool.arn)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        for candidate in try await ctx.services.cognito.listUserPools() where candidate.name == (pending.name ?? ctx.config.userPoolName) && !ctx.excluded.contains(candidate.id) {
            let pool = try await ctx.services.cognito.describeUserPool(id: candidate.id)
            if ctx.owns(pool.tags) { return record(id: pool.id, name: pool.name, arn: pool.arn) }
        }
        return nil
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.deleteUserPool(id: try r.requireId())
    }

    let schema = [AttributeSpec("pool_name", .replace), AttributeSpec("minimum_password_length")]
    /// Its users (and their passwords) go with it.
    var holdsData: Bool { true }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["pool_name": ctx.config.userPoolName, "minimum_password_length": "\(ctx.config.minimumPasswordLength)"]
    }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let pool = try await ifFound({ try await ctx.services.cognito.describeUserPool(id: try r.requireId()) }) else { return .gone }
        return LiveState(.judge(tags: pool.tags, stackId: ctx.stackId, sameResourceById: true),
                         ["pool_name": pool.name, "minimum_password_length": pool.minimumPasswordLength.map { "\($0)" } ?? ""])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.cognito.updateUserPool(id: try r.requireId(), minimumPasswordLength: ctx.config.minimumPasswordLength, tags: ctx.tags)
        return r
    }
}

/// 2. The hosted-UI domain. Prefixes are global: a taken generated one is replaced.
struct UserPoolDomainResource: StackResource {
    let key: NodeKey = .userPoolDomain
    let type = "cognito-idp:user-pool-domain"
    let label = "Cognito domain"
    var uniqueName: Bool { true }
    let dependencies: [NodeKey] = [.userPool]

    func pendingName(_ c: StackConfig) -> String? { c.domainPrefix }

    /// PREFIX: the configured one, or another when a generated one was taken.
    func request(_ ctx: ResourceContext, prefix: String) throws -> CognitoIdentityProvider.CreateUserPoolDomainRequest {
        .init(domain: prefix, userPoolId: try ctx.id(of: .userPool))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx, prefix: firstPrefix(ctx))] }

    func firstPrefix(_ ctx: ResourceContext) -> String { ctx.records[key]?.name ?? ctx.config.domainPrefix }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let poolId = try ctx.id(of: .userPool)
        var prefix = firstPrefix(ctx)
        for _ in 0..<5 {
            let owner = try await ctx.services.cognito.describeUserPoolDomain(domain: prefix)
            if owner == poolId { return record(id: prefix, name: prefix, parentId: poolId) }
            var reason = "taken"
            if owner == nil {
                do {
                    try await ctx.services.cognito.createUserPoolDomain(try request(ctx, prefix: prefix))
                    return record(id: prefix, name: prefix, parentId: poolId)
                } catch let e as AWSServiceError where e.code == "InvalidParameterException" && e.message.contains("already") {
                    // Taken between our check and the create.
                } catch let e as AWSServiceError where e.code == "InvalidParameterException" && ctx.config.domainPrefixGenerated
                            && e.message.lowercased().contains("reserved word") {
                    // "Domain cannot contain reserved word": Cognito's list may outgrow ours.
                    reason = "reserved by Cognito"
                }
            }
            guard ctx.config.domainPrefixGenerated else { throw StackError.domainPrefixTaken(prefix) }
            let taken = prefix
            prefix = DomainPrefix.generate()
            ctx.note("domain prefix '\(taken)' is \(reason); trying '\(prefix)'")
            try await ctx.renamePending(prefix)
        }
        throw StackError.domainPrefixTaken(prefix)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let poolId = try ctx.id(of: .userPool)
        let prefix = pending.name ?? ctx.config.domainPrefix
        guard try await ctx.services.cognito.describeUserPoolDomain(domain: prefix) == poolId else { return nil }
        return record(id: prefix, name: prefix, parentId: poolId)
    }

    /// The executor has just read its ownership (Cognito answers an empty description, not an
    /// error, for a missing domain).
    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.deleteUserPoolDomain(domain: try r.requireId(), userPoolId: try r.requireParent())
    }


    let schema = [AttributeSpec("domain", .replace), AttributeSpec("user_pool", .replace)]
    /// A pool has one prefix domain: the old one goes before the new one is made.
    var replaceDeletesFirst: Bool { true }

    /// A generated prefix that was taken and replaced stays as recorded.
    func desired(_ ctx: ResourceContext) throws -> Attributes {
        let c = ctx.config
        let recorded = ctx.records[key]?.status == .created ? ctx.records[key]?.id : nil
        return ["domain": c.domainPrefixGenerated ? recorded ?? c.domainPrefix : c.domainPrefix, "user_pool": try ctx.id(of: .userPool)]
    }

    /// Prefixes are global and reused: ours while it still points at our pool.
    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let prefix = try r.requireId()
        guard let pool = try await ctx.services.cognito.describeUserPoolDomain(domain: prefix) else { return .gone }
        guard pool == r.parentId else { return LiveState(.replaced("domain \(prefix) now belongs to user pool \(pool), not ours (\(r.parentId ?? "-"))")) }
        return LiveState(.ours, ["domain": prefix, "user_pool": pool])
    }
}

public enum DomainPrefix {
    /// 16 random lower-case letters, as the tutorial does when DOMAIN_PREFIX is unset, never
    /// containing a word Cognito reserves (aws, amazon, cognito): about 1 in 1,250 draws would.
    public static func generate() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        while true {
            let prefix = String(Crypto.randomBytes(16).map { letters[Int($0) % 26] })
            if !InputRules.reservedDomainWords.contains(where: { prefix.contains($0) }) { return prefix }
        }
    }
}

/// 3. The resource server and its scopes.
struct ResourceServerResource: StackResource {
    let key: NodeKey = .resourceServer
    let type = "cognito-idp:resource-server"
    let label = "Cognito resource server"
    var uniqueName: Bool { true }
    let dependencies: [NodeKey] = [.userPool]
    var ownerKey: NodeKey? { .userPool }

    func pendingName(_ c: StackConfig) -> String? { c.resourceServerIdentifier }

    static func scopes(_ c: StackConfig) -> [CognitoIdentityProvider.Scope] { c.scopes.map { .init($0, description: c.scopeDescription(scope: $0)) } }

    func request(_ ctx: ResourceContext) throws -> CognitoIdentityProvider.CreateResourceServerRequest {
        let c = ctx.config
        return .init(userPoolId: try ctx.id(of: .userPool), identifier: c.resourceServerIdentifier, name: c.resourceServerName, scopes: Self.scopes(c))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        try await ctx.services.cognito.createResourceServer(r)
        return record(id: r.identifier, name: r.identifier, parentId: r.userPoolId)
    }

    /// In our pool, so one found is ours.
    func isAlreadyExists(_ e: AWSServiceError) -> Bool { e.code == "InvalidParameterException" && e.message.contains("already exists") }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let poolId = try ctx.id(of: .userPool)
        let identifier = pending.name ?? ctx.config.resourceServerIdentifier
        let exists = try await probe {
            _ = try await ctx.services.cognito.describeResourceServer(userPoolId: poolId, identifier: identifier)
        }
        return exists ? record(id: identifier, name: identifier, parentId: poolId) : nil
    }

    let schema = [AttributeSpec("identifier", .replace), AttributeSpec("scopes", security: true)]

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["identifier": ctx.config.resourceServerIdentifier, "scopes": listValue(ctx.config.scopes)]
    }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let scopes = try await ifFound({ try await ctx.services.cognito.describeResourceServer(userPoolId: try r.requireParent(), identifier: try r.requireId()) })
        else { return .gone }
        return LiveState(.ours, ["identifier": try r.requireId(), "scopes": listValue(scopes)])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        let c = ctx.config
        try await ctx.services.cognito.updateResourceServer(userPoolId: try r.requireParent(), identifier: try r.requireId(),
                                                            name: c.resourceServerName, scopes: Self.scopes(c))
        return r
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.deleteResourceServer(userPoolId: try r.requireParent(), identifier: try r.requireId())
    }
}

/// 4. An app client. Names are not unique within a pool; one with our name is ours.
struct AppClientResource: StackResource {
    let key: NodeKey
    let type = "cognito-idp:user-pool-client"
    let label: String
    let dependencies: [NodeKey] = [.userPool, .resourceServer]
    var ownerKey: NodeKey? { .userPool }
    let settings: @Sendable (StackConfig) -> CognitoIdentityProvider.AppClientSettings

    func pendingName(_ c: StackConfig) -> String? { settings(c).name }

    func request(_ ctx: ResourceContext) throws -> CognitoIdentityProvider.CreateUserPoolClientRequest {
        .init(userPoolId: try ctx.id(of: .userPool), settings(ctx.config))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let id = try await ctx.services.cognito.createUserPoolClient(r)
        return record(id: id, name: r.settings.name, parentId: r.userPoolId)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let poolId = try ctx.id(of: .userPool)
        let name = pending.name ?? settings(ctx.config).name
        guard let hit = try await ctx.services.cognito.listUserPoolClients(userPoolId: poolId).first(where: {
            $0.name == name && !ctx.excluded.contains($0.id)
        }) else { return nil }
        return record(id: hit.id, name: name, parentId: poolId)
    }

    let schema = [AttributeSpec("client_name"), AttributeSpec("has_secret", .replace, security: true),
                  AttributeSpec("oauth_flows", security: true), AttributeSpec("oauth_scopes", security: true),
                  AttributeSpec("callback_urls", security: true), AttributeSpec("explicit_auth_flows", security: true)]

    static func attributes(_ s: CognitoIdentityProvider.AppClientSettings) -> Attributes {
        ["client_name": s.name, "has_secret": "\(s.generateSecret)", "oauth_flows": listValue(s.flows), "oauth_scopes": listValue(s.scopes),
         "callback_urls": listValue(s.callbackURLs), "explicit_auth_flows": listValue(s.explicitAuthFlows)]
    }

    func desired(_ ctx: ResourceContext) throws -> Attributes { Self.attributes(settings(ctx.config)) }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        do { return LiveState(.ours, Self.attributes(try await ctx.services.cognito.userPoolClientSettings(userPoolId: try r.requireParent(), clientId: try r.requireId()))) }
        catch where isNotFound(error) { return .gone }
    }

    /// UpdateUserPoolClient resets what it is not sent: the service sends every setting.
    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        let s = settings(ctx.config)
        try await ctx.services.cognito.updateUserPoolClient(userPoolId: try r.requireParent(), clientId: try r.requireId(), s)
        var updated = r
        updated.name = s.name
        return updated
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.deleteUserPoolClient(userPoolId: try r.requireParent(), clientId: try r.requireId())
    }
}

/// 5. The test user with a permanent password (two calls; both safe to repeat on adopt).
struct TestUserResource: StackResource {
    let key: NodeKey = .testUser
    let type = "cognito-idp:user"
    let label = "Cognito test user"
    var uniqueName: Bool { true }
    /// AdminCreateUser, then AdminSetUserPassword.
    var createIsOneCall: Bool { false }
    let dependencies: [NodeKey] = [.userPool]
    var ownerKey: NodeKey? { .userPool }

    func pendingName(_ c: StackConfig) -> String? { c.username }

    func request(_ ctx: ResourceContext) throws -> CognitoIdentityProvider.AdminCreateUserRequest {
        .init(userPoolId: try ctx.id(of: .userPool), username: ctx.config.username, email: ctx.config.email)
    }

    /// The password is passed in, never stored; a plan shows none (and needs none).
    func passwordRequest(_ ctx: ResourceContext, _ poolId: String, username: String) throws -> CognitoIdentityProvider.AdminSetUserPasswordRequest {
        guard let password = ctx.password ?? (ctx.planning ? "" : nil) else {
            throw StackError.invalidConfig("the test user needs a password: set PASSWORD (or --password-stdin)")
        }
        return .init(userPoolId: poolId, username: username, password: password)
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] {
        let r = try request(ctx)
        return [r, try passwordRequest(ctx, r.userPoolId, username: r.username)]
    }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        try await ctx.services.cognito.adminCreateUser(r)
        try await ctx.services.cognito.adminSetUserPassword(try passwordRequest(ctx, r.userPoolId, username: r.username))
        return record(id: r.username, name: r.username, parentId: r.userPoolId)
    }

    /// Our own earlier attempt (its answer lost), in our pool: adopted, and `finishAdoption`
    /// sets its password.
    func isAlreadyExists(_ e: AWSServiceError) -> Bool { e.code == "UsernameExistsException" }

    /// A user of a pool that is gone is not found either.
    var notFoundCodes: Set<String> { ["UserNotFoundException", "ResourceNotFoundException"] }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let poolId = try ctx.id(of: .userPool)
        let username = pending.name ?? ctx.config.username
        guard try await probe({ _ = try await ctx.services.cognito.adminGetUser(userPoolId: poolId, username: username) }) else {
            return nil
        }
        return record(id: username, name: username, parentId: poolId)
    }

    /// The crash may have come between AdminCreateUser and AdminSetUserPassword.
    func finishAdoption(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.adminSetUserPassword(try passwordRequest(ctx, try r.requireParent(), username: try r.requireId()))
    }

    let schema = [AttributeSpec("username", .replace), AttributeSpec("email")]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["username": ctx.config.username, "email": ctx.config.email] }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        do {
            let user = try await ctx.services.cognito.adminGetUser(userPoolId: try r.requireParent(), username: try r.requireId())
            return LiveState(.ours, ["username": try r.requireId(), "email": user.attributes["email"] ?? ""])
        } catch where isNotFound(error) { return .gone }
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        try await ctx.services.cognito.adminUpdateUserEmail(userPoolId: try r.requireParent(), username: try r.requireId(), email: ctx.config.email)
        return r
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.cognito.adminDeleteUser(userPoolId: try r.requireParent(), username: try r.requireId())
    }
}
