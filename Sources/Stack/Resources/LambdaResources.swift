import AWSClient
import Foundation
import Services

/// How long a create waits for a new role to propagate in IAM (AWS usually takes 5-10 s):
/// SECURE_API_IAM_PROPAGATION_SECONDS, 0 to 3600, default 90.
public enum IAMPropagation {
    public static let variable = "SECURE_API_IAM_PROPAGATION_SECONDS"
    public static let defaultSeconds = 90.0

    public static func budgetSeconds(_ env: [String: String]) throws -> Double {
        guard let text = env[variable] else { return defaultSeconds }
        guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds.isFinite, (0...3600).contains(seconds) else {
            throw StackError.invalidConfig("\(variable) must be a number of seconds from 0 to 3600, not '\(text)'")
        }
        return seconds
    }
}

/// 9. The echo function. CreateFunction is retried, bounded, while IAM propagates the new
/// role ("cannot be assumed by Lambda") — never a fixed sleep.
struct LambdaFunctionResource: StackResource {
    var key: NodeKey = .lambdaFunction
    let type = "lambda:function"
    var label = "Lambda function"
    var uniqueName: Bool { true }
    var roleKey: NodeKey = .lambdaRole
    var attachmentKey: NodeKey = .lambdaRolePolicy
    /// Resources the function's environment names (the authorizer's user pool and clients).
    var extraDependencies: [NodeKey] = []
    var dependencies: [NodeKey] { [roleKey, attachmentKey] + extraDependencies }
    var functionName: @Sendable (StackConfig) -> String = { $0.functionName }
    var roleName: @Sendable (StackConfig) -> String = { $0.roleName }
    var code: FunctionCode = .echo
    /// Whether `--code`/`--handler` replace the embedded code (the echo function; not the authorizer).
    var userCode = true
    /// Environment variables, from the created resources (the authorizer needs the pool).
    var environment: @Sendable (ResourceContext) throws -> [String: String] = { _ in [:] }
    /// The statement IDs of the graph's invoke permissions on this function; any other
    /// statement in its resource policy lets someone else invoke it: security drift.
    var grantStatementIds = [StackConfig.invokeStatementId]

    /// How long to wait for IAM propagation in total (checked by the CLI before any call).
    static var propagationBudgetSeconds: Double {
        (try? IAMPropagation.budgetSeconds(ProcessInfo.processInfo.environment)) ?? IAMPropagation.defaultSeconds
    }

    func pendingName(_ c: StackConfig) -> String? { functionName(c) }

    func request(_ ctx: ResourceContext) throws -> Lambda.CreateFunctionRequest {
        let c = ctx.config
        let package = try code.package(c, userCode: userCode)
        return .init(name: functionName(c), runtime: c.runtime, handler: package.handler, roleArn: try ctx.arn(of: roleKey),
                     architecture: c.architecture, zip: package.zip, tags: ctx.tags, environment: try environment(ctx))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let arn = try await whileRolePropagates(ctx) { try await ctx.services.lambda.createFunction(r) }
        return record(id: r.name, name: r.name, arn: arn)
    }

    func isAlreadyExists(_ e: AWSServiceError) -> Bool { e.code == "ResourceConflictException" }

    /// Retries BODY, bounded, while Lambda says the role "cannot be assumed by Lambda": a new
    /// role (created, or switched to by an update) takes seconds to propagate in IAM. Polls
    /// about once a second, so it finishes soon after IAM is ready.
    func whileRolePropagates<T: Sendable>(_ ctx: ResourceContext, _ body: () async throws -> T) async throws -> T {
        let budget = Self.propagationBudgetSeconds
        return try await ctx.retrying(.seconds(budget), delay: Retrying.doubling(from: 0.25, upTo: 1)).run { attempt in
            do { return .done(try await body()) } catch let e as AWSServiceError
                where e.code == "InvalidParameterValueException" && e.message.contains("cannot be assumed by Lambda") {
                let seconds = Int(attempt.elapsed.rounded())
                return .again(throwing: StackError.iamPropagationTimeout(seconds: seconds, last: e.message),
                              note: attempt.number > 1 ? "still waiting for IAM role to propagate (\(seconds) s)"
                                  : "waiting for IAM role \(roleName(ctx.config)) to propagate before Lambda can assume it (up to \(Int(budget)) s)")
            }
        }
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let fn: Lambda.Function
        let name = pending.name ?? functionName(ctx.config)
        do { fn = try await ctx.services.lambda.getFunction(name: name) } catch where isNotFound(error) { return nil }
        try ctx.requireOwned(fn.tags, "Lambda function \(name)", flag: "--function-name")
        return record(id: name, name: name, arn: fn.arn)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.lambda.deleteFunction(name: try r.requireId())
    }

    let schema = [AttributeSpec("function_name", .replace), AttributeSpec("runtime"), AttributeSpec("handler"),
                  AttributeSpec("role", security: true), AttributeSpec("code_sha256"), AttributeSpec("architecture"),
                  AttributeSpec("environment", security: true), AttributeSpec("other_grants", security: true)]

    /// Statements of the function's policy the stack did not add, as `SID (principal)`.
    func otherGrants(_ name: String, _ ctx: ResourceContext) async throws -> [Lambda.PolicyStatement] {
        try await ctx.services.lambda.policyStatements(functionName: name).filter { !grantStatementIds.contains($0.sid) }
    }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        let c = ctx.config
        let package = try code.package(c, userCode: userCode)
        return ["function_name": functionName(c), "runtime": c.runtime, "handler": package.handler, "role": try ctx.arn(of: roleKey),
                "code_sha256": package.sha256, "architecture": c.architecture, "environment": JSON.stringMap(try environment(ctx)).serialized(),
                "other_grants": ""]
    }

    /// Function names are reused and Lambda has no other lasting ID: ours only with our tag.
    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let fn: Lambda.Function, others: [Lambda.PolicyStatement]
        let name = try r.requireId()
        do {
            async let reading = ctx.services.lambda.getFunction(name: name)
            async let grants = otherGrants(name, ctx)
            (fn, others) = try await (reading, grants)
        } catch where isNotFound(error) { return .gone }
        return LiveState(.judge(tags: fn.tags, stackId: ctx.stackId, sameResourceById: false), [
            "function_name": name, "runtime": fn.runtime, "handler": fn.handler, "role": fn.roleArn, "code_sha256": fn.codeSha256,
            "architecture": fn.architectures.first ?? "x86_64", "environment": JSON.stringMap(fn.environment).serialized(),
            "other_grants": listValue(others.map { "\($0.sid) (\($0.principal.isEmpty ? "?" : $0.principal))" }),
        ])
    }

    /// Lambda refuses a second update while one is in progress (and any before a new function
    /// is Active): each update waits for the last to settle.
    static let settleBudgetSeconds = 60.0

    func waitUntilSettled(_ name: String, _ ctx: ResourceContext) async throws {
        try await ctx.retrying(.seconds(Self.settleBudgetSeconds), delay: Retrying.every(1)).run { _ in
            let fn = try await ctx.services.lambda.getFunction(name: name)
            if fn.state != "Pending" && fn.lastUpdateStatus != "InProgress" { return .done(()) }
            return .again(throwing: StackError.createFailed(resource: "Lambda function \(name)",
                                                            underlying: "still \(fn.state)/\(fn.lastUpdateStatus) after \(Int(Self.settleBudgetSeconds)) s; run create again"),
                          note: "waiting for Lambda function \(name) to finish its last update (\(fn.state), \(fn.lastUpdateStatus))")
        }
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        let name = try r.requireId()
        let c = ctx.config
        let package = try code.package(c, userCode: userCode)
        let names = Set(changes.map(\.name))
        if !names.isDisjoint(with: ["runtime", "handler", "role", "environment"]) {
            try await waitUntilSettled(name, ctx)
            let roleArn = try ctx.arn(of: roleKey), environment = try environment(ctx)
            try await whileRolePropagates(ctx) {
                try await ctx.services.lambda.updateFunctionConfiguration(name: name, runtime: c.runtime, handler: package.handler,
                                                                          roleArn: roleArn, environment: environment)
            }
        }
        if !names.isDisjoint(with: ["code_sha256", "architecture"]) {
            try await waitUntilSettled(name, ctx)
            try await ctx.services.lambda.updateFunctionCode(name: name, zip: package.zip, architecture: c.architecture)
        }
        if names.contains("other_grants") {
            // Looked up again now: the plan's list may be stale. One already removed is fine.
            for statement in try await otherGrants(name, ctx) {
                do { try await ctx.services.lambda.removePermission(functionName: name, statementId: statement.sid) } catch where isNotFound(error) {}
            }
        }
        return r
    }
}

/// 10. API Gateway's permission to invoke the function, scoped to this API.
struct InvokePermissionResource: StackResource {
    var key: NodeKey = .invokePermission
    let type = "lambda:permission"
    var label = "Lambda invoke permission"
    var uniqueName: Bool { true }
    var functionKey: NodeKey = .lambdaFunction
    var functionName: @Sendable (StackConfig) -> String = { $0.functionName }
    var statementId = StackConfig.invokeStatementId
    /// The resource that scopes the permission (the API; for an authorizer, the authorizer).
    var scopeKey: NodeKey = .httpAPI
    var ownerKey: NodeKey? { functionKey }
    var dependencies: [NodeKey] { [functionKey, .httpAPI, scopeKey].reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
    /// `arn:aws:execute-api:region:account:api/*/*`, or `.../authorizers/<id>` for an authorizer.
    var sourceArnSuffix: @Sendable (ResourceContext) throws -> String = { _ in "/*/*" }

    func pendingName(_ c: StackConfig) -> String? { statementId }

    func sourceArn(_ ctx: ResourceContext) throws -> String {
        "arn:aws:execute-api:\(ctx.target.region):\(ctx.target.account):\(try ctx.id(of: .httpAPI))\(try sourceArnSuffix(ctx))"
    }

    func request(_ ctx: ResourceContext) throws -> Lambda.AddPermissionRequest {
        .init(functionName: try ctx.id(of: functionKey), statementId: statementId, principal: "apigateway.amazonaws.com", sourceArn: try sourceArn(ctx))
    }

    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [try request(ctx)] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let r = try request(ctx)
        let (fn, arn) = (r.functionName, r.sourceArn)
        try await ctx.retrying(.attempts(10), delay: Retrying.every(0.5)).run { _ in
            do {
                try await ctx.services.lambda.addPermission(r)
                return .done(())
            } catch let e as AWSServiceError where e.code == "ResourceConflictException" {
                // Either our statement is already there (an earlier attempt's answer was lost),
                // or the function is busy (still being created or updated): look, then wait. A
                // statement with our id but another scope is not the one wanted: never adopted.
                let existing = try await ctx.services.lambda.policyStatements(functionName: fn).first { $0.sid == statementId }
                guard let existing else { return .again(throwing: e) }
                guard existing.sourceArn == arn, existing.principal == "apigateway.amazonaws.com" else {
                    throw StackError.foreignResource("Lambda permission \(statementId) on \(fn) exists with SourceArn \(existing.sourceArn), not \(arn); run create again to replace it")
                }
                return .done(())
            }
        }
        return record(id: statementId, name: statementId, arn: arn, parentId: fn)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let fn = try ctx.id(of: functionKey)
        guard try await ctx.services.lambda.policyStatementIds(functionName: fn).contains(statementId) else { return nil }
        return record(id: statementId, name: statementId, arn: try sourceArn(ctx), parentId: fn)
    }

    let schema = [AttributeSpec("source_arn", .replace, security: true), AttributeSpec("principal", .replace, security: true),
                  AttributeSpec("function", .replace)]
    /// The statement id stays the same: the old statement goes before the new one is added.
    var replaceDeletesFirst: Bool { true }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        ["source_arn": try sourceArn(ctx), "principal": "apigateway.amazonaws.com", "function": try ctx.id(of: functionKey)]
    }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let fn = try r.requireParent()
        guard let st = try await ctx.services.lambda.policyStatements(functionName: fn).first(where: { $0.sid == r.id }) else { return .gone }
        return LiveState(.ours, ["source_arn": st.sourceArn, "principal": st.principal, "function": fn])
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.lambda.removePermission(functionName: try r.requireParent(), statementId: try r.requireId())
    }
}

/// 14. The function's log group: Lambda creates it on first invocation; we record it so
/// teardown removes it.
struct LogGroupResource: StackResource {
    var key: NodeKey = .lambdaLogGroup
    let type = "logs:log-group"
    var label = "Lambda log group"
    var uniqueName: Bool { true }
    var functionKey: NodeKey = .lambdaFunction
    var dependencies: [NodeKey] { [functionKey] }
    var createdOnDemand: Bool { true }
    var ownerKey: NodeKey? { functionKey }
    /// Lambda's log group outlives the function.
    var goneWithOwner: Bool { false }
    var functionName: @Sendable (StackConfig) -> String = { $0.functionName }

    func logGroupName(_ c: StackConfig) -> String { "/aws/lambda/\(functionName(c))" }

    func pendingName(_ c: StackConfig) -> String? { logGroupName(c) }

    /// No call: Lambda makes it.
    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [] }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        record(id: logGroupName(ctx.config), name: logGroupName(ctx.config))
    }

    let schema = [AttributeSpec("name", .replace)]

    func desired(_ ctx: ResourceContext) throws -> Attributes { ["name": logGroupName(ctx.config)] }

    /// Nothing to read: Lambda makes it on the first call. The name is the one recorded.
    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        let name = try r.requireId()
        return LiveState(try await ctx.services.logs.logGroupExists(name: name) ? .ours : .gone, ["name": name])
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        record(id: logGroupName(ctx.config), name: logGroupName(ctx.config))
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.logs.deleteLogGroup(name: try r.requireId())
    }
}
