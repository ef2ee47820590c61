import AWSClient
import Services

/// 8. The Lambda execution role. Role names are unique per account; one carrying another
/// stack's tags (or none) is never adopted — that would later delete someone else's role.
struct LambdaRoleResource: StackResource {
    var key: NodeKey = .lambdaRole
    let type = "iam:role"
    var label = "IAM role"
    var uniqueName: Bool { true }
    let dependencies: [NodeKey] = []
    var roleName: @Sendable (StackConfig) -> String = { $0.roleName }

    static let assumeRolePolicy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#

    func pendingName(_ c: StackConfig) -> String? { roleName(c) }

    func request(_ ctx: ResourceContext) -> IAM.CreateRoleRequest {
        .init(name: roleName(ctx.config), assumeRolePolicy: Self.assumeRolePolicy, tags: ctx.tags)
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = request(ctx)
        let role = try await ctx.services.iam.createRole(r)
        return record(id: r.name, name: r.name, arn: role.arn, uniqueId: role.roleId)
    }

    func isAlreadyExists(_ e: AWSServiceError) -> Bool { e.code == "EntityAlreadyExists" }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let role: IAM.Role
        let name = pending.name ?? roleName(ctx.config)
        do { role = try await ctx.services.iam.getRole(name: name) } catch where isNotFound(error) { return nil }
        try ctx.requireOwned(role.tags, "IAM role \(name)", flag: "--role-name")
        return record(id: name, name: name, arn: role.arn, uniqueId: role.roleId)
    }

    /// The managed policies the graph attaches (its attachment nodes); any other policy on the
    /// role, managed or inline, is drift that widens what the function may do.
    var attachedPolicyArns = [StackConfig.basicExecutionPolicyArn]

    let schema = [AttributeSpec("role_name", .replace), AttributeSpec("trust_policy", security: true),
                  AttributeSpec("other_policies", security: true)]

    /// Policies compare as canonical JSON (sorted keys), whatever spacing IAM returns.
    static func canonical(_ policy: String) -> String { (try? JSON(parsing: Array(policy.utf8)))?.serialized() ?? policy }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["role_name": roleName(ctx.config), "trust_policy": Self.canonical(Self.assumeRolePolicy), "other_policies": ""]
    }

    /// Policies on the role the stack did not put there: managed ones by ARN, inline ones as `inline:NAME`.
    func otherPolicies(_ role: String, _ ctx: ResourceContext) async throws -> (managed: [String], inline: [String]) {
        async let managed = ctx.services.iam.listAttachedRolePolicies(roleName: role)
        async let inline = ctx.services.iam.listRolePolicies(roleName: role)
        return (try await managed.filter { !attachedPolicyArns.contains($0) }, try await inline)
    }

    /// Role names are reused: ours only with our tag and, when recorded, the same RoleId.
    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let role: IAM.Role, others: (managed: [String], inline: [String])
        let name = try r.requireId()
        do {
            async let reading = ctx.services.iam.getRole(name: name)
            async let listing = otherPolicies(name, ctx)
            (role, others) = try await (reading, listing)
        } catch where isNotFound(error) { return .gone }
        return LiveState(.judge(tags: role.tags, uniqueId: role.roleId, recordedUniqueId: r.uniqueId, stackId: ctx.stackId, sameResourceById: false),
                         ["role_name": name, "trust_policy": Self.canonical(role.assumeRolePolicy),
                          "other_policies": listValue(others.managed + others.inline.map { "inline:" + $0 })])
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        let name = try r.requireId()
        if changes.contains(where: { $0.name == "trust_policy" }) {
            try await ctx.services.iam.updateAssumeRolePolicy(roleName: name, policy: Self.assumeRolePolicy)
        }
        if changes.contains(where: { $0.name == "other_policies" }) {
            // Looked up again now: the plan's list may be stale. A policy already gone is fine.
            let others = try await otherPolicies(name, ctx)
            for arn in others.managed {
                do { try await ctx.services.iam.detachRolePolicy(roleName: name, policyArn: arn) } catch where isNotFound(error) {}
            }
            for policy in others.inline {
                do { try await ctx.services.iam.deleteRolePolicy(roleName: name, policyName: policy) } catch where isNotFound(error) {}
            }
        }
        return r
    }

    /// IAM refuses to delete a role with policies on it (DeleteConflict): ones added behind the
    /// stack's back go with our role, as an update would have removed them.
    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        let name = try r.requireId()
        do {
            try await ctx.services.iam.deleteRole(name: name)
        } catch let e as AWSServiceError where e.code == "DeleteConflict" {
            ctx.note("IAM role \(name) has policies the stack did not attach: removing them with the role")
            _ = try await update(r, [AttributeChange(name: "other_policies", old: nil, new: "", replaces: false, security: true)], ctx)
            try await ctx.services.iam.deleteRole(name: name)
        }
    }
}

/// 8b. The AWS managed policy attached to the role (AttachRolePolicy is idempotent).
struct RolePolicyAttachmentResource: StackResource {
    var key: NodeKey = .lambdaRolePolicy
    let type = "iam:role-policy-attachment"
    var label = "IAM policy attachment"
    var uniqueName: Bool { true }
    var roleKey: NodeKey = .lambdaRole
    var roleName: @Sendable (StackConfig) -> String = { $0.roleName }
    var dependencies: [NodeKey] { [roleKey] }
    var ownerKey: NodeKey? { roleKey }

    func pendingName(_ c: StackConfig) -> String? { StackConfig.basicExecutionPolicyArn }

    func request(_ ctx: ResourceContext) throws -> IAM.AttachRolePolicyRequest {
        .init(roleName: try ctx.id(of: roleKey), policyArn: StackConfig.basicExecutionPolicyArn)
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        try await ctx.services.iam.attachRolePolicy(r)
        return record(id: r.policyArn, name: "AWSLambdaBasicExecutionRole", arn: r.policyArn, parentId: r.roleName)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let role = try ctx.id(of: roleKey)
        guard try await ctx.services.iam.listAttachedRolePolicies(roleName: role).contains(StackConfig.basicExecutionPolicyArn) else { return nil }
        return record(id: StackConfig.basicExecutionPolicyArn, name: "AWSLambdaBasicExecutionRole", arn: StackConfig.basicExecutionPolicyArn, parentId: role)
    }

    let schema = [AttributeSpec("policy_arn", .replace, security: true), AttributeSpec("role", .replace)]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["policy_arn": StackConfig.basicExecutionPolicyArn, "role": try ctx.id(of: roleKey)] }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let attached = try await ifFound { try await ctx.services.iam.listAttachedRolePolicies(roleName: try r.requireParent()) } ?? []
        return attached.contains(try r.requireId()) ? LiveState(.ours, ["policy_arn": try r.requireId(), "role": try r.requireParent()]) : .gone
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.iam.detachRolePolicy(roleName: try r.requireParent(), policyArn: try r.requireId())
    }
}
