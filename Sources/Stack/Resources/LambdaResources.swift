import AWSClient
import Dispatch
import Foundation
import Services

/// 9. The echo function. CreateFunction is retried, bounded, while IAM propagates the new
/// role ("cannot be assumed by Lambda") — never a fixed sleep.
struct LambdaFunctionResource: StackResource {
    let key = "lambda_function"
    let type = "lambda:function"
    let label = "Lambda function"
    var uniqueName: Bool { true }
    let dependencies = ["lambda_role", "lambda_role_policy"]

    /// How long to wait for IAM propagation in total (AWS usually takes 5-10 s);
    /// SECURE_API_IAM_PROPAGATION_SECONDS overrides it.
    static var propagationBudgetSeconds: Double {
        ProcessInfo.processInfo.environment["SECURE_API_IAM_PROPAGATION_SECONDS"].flatMap(Double.init) ?? 90
    }

    func pendingName(_ c: StackConfig) -> String? { c.functionName }

    func plan(_ c: StackConfig, region: String) -> [PlannedCall] {
        [PlannedCall(service: "lambda", operation: "CreateFunction", parameters: [
            ("FunctionName", c.functionName), ("Runtime", c.runtime), ("Architectures", c.architecture),
            ("Handler", EchoFunctionCode.handler), ("Role", "<lambda_role arn>"), ("Code.ZipFile", "in-memory zip of \(EchoFunctionCode.fileName)"),
        ])]
    }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let c = ctx.config
        let spec = Lambda.FunctionSpec(name: c.functionName, runtime: c.runtime, handler: EchoFunctionCode.handler,
                                       roleArn: try ctx.arn(of: "lambda_role"), architecture: c.architecture,
                                       zip: EchoFunctionCode.zip(), tags: ctx.tags)
        let started = DispatchTime.now().uptimeNanoseconds
        var delay = 0.25
        var announced = false
        while true {
            do {
                let arn = try await ctx.services.lambda.createFunction(spec)
                return record(id: c.functionName, name: c.functionName, arn: arn)
            } catch let e as AWSServiceError where e.code == "InvalidParameterValueException" && e.message.contains("cannot be assumed by Lambda") {
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                guard elapsed + delay <= Self.propagationBudgetSeconds else {
                    throw StackError.iamPropagationTimeout(seconds: Int(elapsed.rounded()), last: e.message)
                }
                ctx.note(announced ? "still waiting for IAM role to propagate (\(Int(elapsed)) s)"
                                   : "waiting for IAM role \(c.roleName) to propagate before Lambda can assume it (up to \(Int(Self.propagationBudgetSeconds)) s)")
                announced = true
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay = min(delay * 2, 1)  // poll about once a second: finish soon after IAM is ready
            } catch let e as AWSServiceError where e.code == "ResourceConflictException" {
                // Exists already: ours (an earlier attempt whose answer was lost) or not.
                if let mine = try await find(ctx, pending: record(id: nil, name: c.functionName)) { return mine }
                throw e
            }
        }
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let fn: (arn: String, tags: Tags)
        do { fn = try await ctx.services.lambda.getFunction(name: ctx.config.functionName) } catch where NotFound.matches(error) { return nil }
        guard fn.tags["secure-api:id"] == ctx.stackId else {
            throw StackError.foreignResource("Lambda function \(ctx.config.functionName) already exists and was not created by this stack; choose another --function-name")
        }
        return record(id: ctx.config.functionName, name: ctx.config.functionName, arn: fn.arn)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.lambda.deleteFunction(name: try r.requireId())
    }

    func exists(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> Bool {
        try await probe { _ = try await ctx.services.lambda.getFunction(name: try r.requireId()) }
    }
}

/// 10. API Gateway's permission to invoke the function, scoped to this API.
struct InvokePermissionResource: StackResource {
    let key = "invoke_permission"
    let type = "lambda:permission"
    let label = "Lambda invoke permission"
    var uniqueName: Bool { true }
    let dependencies = ["lambda_function", "http_api"]

    func pendingName(_ c: StackConfig) -> String? { StackConfig.invokeStatementId }

    func sourceArn(_ ctx: ResourceContext) throws -> String {
        "arn:aws:execute-api:\(ctx.target.region):\(ctx.target.account):\(try ctx.id(of: "http_api"))/*/*"
    }

    func plan(_ c: StackConfig, region: String) -> [PlannedCall] {
        [PlannedCall(service: "lambda", operation: "AddPermission", parameters: [
            ("FunctionName", c.functionName), ("StatementId", StackConfig.invokeStatementId), ("Action", "lambda:InvokeFunction"),
            ("Principal", "apigateway.amazonaws.com"), ("SourceArn", "arn:aws:execute-api:\(region):<account>:<http_api>/*/*"),
        ])]
    }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        let fn = try ctx.id(of: "lambda_function")
        let arn = try sourceArn(ctx)
        do {
            try await ctx.services.lambda.addPermission(functionName: fn, statementId: StackConfig.invokeStatementId,
                                                        principal: "apigateway.amazonaws.com", sourceArn: arn)
        } catch let e as AWSServiceError where e.code == "ResourceConflictException" {
            // The statement id is ours and already there (an earlier attempt's answer was lost).
        }
        return record(id: StackConfig.invokeStatementId, name: StackConfig.invokeStatementId, arn: arn, parentId: fn)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        let fn = try ctx.id(of: "lambda_function")
        guard try await ctx.services.lambda.policyStatementIds(functionName: fn).contains(StackConfig.invokeStatementId) else { return nil }
        return record(id: StackConfig.invokeStatementId, name: StackConfig.invokeStatementId, arn: try sourceArn(ctx), parentId: fn)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.lambda.removePermission(functionName: try r.requireParent(), statementId: try r.requireId())
    }

    func exists(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> Bool {
        do {
            return try await ctx.services.lambda.policyStatementIds(functionName: try r.requireParent()).contains(try r.requireId())
        } catch where NotFound.matches(error) {
            return false
        }
    }
}

/// 14. The function's log group: Lambda creates it on first invocation; we record it so
/// teardown removes it.
struct LogGroupResource: StackResource {
    let key = "lambda_log_group"
    let type = "logs:log-group"
    let label = "Lambda log group"
    var uniqueName: Bool { true }
    let dependencies = ["lambda_function"]
    var createdOnDemand: Bool { true }

    func pendingName(_ c: StackConfig) -> String? { c.logGroupName }

    func plan(_ c: StackConfig, region: String) -> [PlannedCall] {
        [PlannedCall(service: "logs", operation: "(none: created by Lambda on first call; deleted by teardown)",
                     parameters: [("logGroupName", c.logGroupName)])]
    }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        record(id: ctx.config.logGroupName, name: ctx.config.logGroupName)
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        record(id: ctx.config.logGroupName, name: ctx.config.logGroupName)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await ctx.services.logs.deleteLogGroup(name: try r.requireId())
    }

    func exists(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> Bool {
        try await ctx.services.logs.logGroupExists(name: try r.requireId())
    }
}
