import ArgumentParser
import Foundation
import Stack

/// The stack's settings as flags (create, plan, status). A flag given changes the value
/// recorded in state.json; one left out keeps it (so `make api` never undoes an earlier
/// `--scopes`); a new stack starts from the tutorial's defaults.
struct StackConfigOptions: ParsableArguments {
    @Option(help: "How routes are protected: cognito (JWT authorizer + Cognito), oidc (JWT authorizer + external issuer), lambda (Lambda REQUEST authorizer), iam (AWS_IAM, SigV4 callers). Default cognito.")
    var auth: AuthPattern?
    @Option(help: "OIDC issuer URL for --auth oidc, e.g. https://HOST/realms/REALM (kept exactly as given: tokens' iss must match it).") var issuer: String?
    @Option(help: "Audience for --auth oidc (Keycloak's default is 'account').") var audience: String?
    @Option(help: "Stack name (tag secure-api:stack=NAME on every resource that takes tags). Default HelloAPI.") var stackName: String?
    @Option(help: "Cognito user pool name (changing it replaces the pool and its users: needs --allow-replace). Default HelloUserPool.")
    var userPoolName: String?
    @Option(help: "Hosted-UI domain prefix (default: DOMAIN_PREFIX, else 16 random letters).") var domainPrefix: String?
    @Option(help: "Resource server identifier (a URL is fine; its Name is derived). Default HelloAPI.") var resourceServer: String?
    @Option(help: "Scopes of the resource server, comma separated. Default hello.read,hello.write.") var scopes: String?
    @Option(help: "Name of the public app client. Default 'Terminal Application'.") var appClientName: String?
    @Option(help: "OAuth callback URL of the app client (https, or http for exactly localhost/127.0.0.1). Default http://localhost:8083/callback.") var callbackURL: String?
    @Option(help: "Test user name. Default Testuser.") var username: String?
    @Option(help: "Test user e-mail. Default testuser@example.com.") var email: String?
    @Option(help: "HTTP API name. Default HelloAPI.") var apiName: String?
    @Option(help: "IAM role name for the Lambda function. Default APIGatewayLambdaRole.") var roleName: String?
    @Option(help: "Lambda function name. Default EchoFunction.") var functionName: String?
    @Option(help: "Lambda runtime, Python (or SECURE_API_RUNTIME). Default python3.12.") var runtime: String?
    @Option(help: "Your function code: a directory (zipped reproducibly) or a .zip (or SECURE_API_CODE). Default: the embedded echo function.")
    var code: String?
    @Option(help: "Handler of --code, module.function (or SECURE_API_HANDLER). Default lambda_function.lambda_handler.") var handler: String?
    @Option(help: "Stage name. Default dev.") var stage: String?

    /// The configuration this run wants: the recorded one (or the defaults) with what was given.
    /// The caller checks it: `create` and `plan` with AWS's input rules (`checkedForChange`),
    /// `status` with those a stored one must meet.
    func config(base recorded: StackConfig?, env: [String: String]) throws -> StackConfig {
        let givenPrefix = domainPrefix ?? env["DOMAIN_PREFIX"].flatMap { $0.isEmpty ? nil : $0 }
        var c = recorded ?? StackConfig(domainPrefix: givenPrefix ?? DomainPrefix.generate(), domainPrefixGenerated: givenPrefix == nil)
        if recorded != nil, let givenPrefix, givenPrefix != c.domainPrefix {
            c.domainPrefix = givenPrefix
            c.domainPrefixGenerated = false
        }
        func nonEmpty(_ k: String) -> String? { env[k].flatMap { $0.isEmpty ? nil : $0 } }
        if let auth { c.auth = auth }
        if let issuer { c.oidcIssuer = issuer }  // kept exactly: API Gateway compares tokens' iss with it
        if let audience { c.oidcAudience = audience }
        if let stackName { c.stackName = stackName }
        if let userPoolName { c.userPoolName = userPoolName }
        if let resourceServer { c.resourceServerIdentifier = resourceServer }
        if let scopes { c.scopes = scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let appClientName { c.appClientName = appClientName }
        if let callbackURL { c.callbackURL = callbackURL }
        if let username { c.username = username }
        if let email { c.email = email }
        if let apiName { c.apiName = apiName }
        if let roleName { c.roleName = roleName }
        if let functionName { c.functionName = functionName }
        if let runtime = runtime ?? nonEmpty("SECURE_API_RUNTIME") { c.runtime = runtime }
        if let code = code ?? nonEmpty("SECURE_API_CODE") {
            // Recorded absolute, so plan and status read the same code from any directory.
            c.codePath = code == "embedded" ? nil : URL(fileURLWithPath: code).standardizedFileURL.path
            if code == "embedded" { c.handler = nil }  // the embedded code has its own handler
        }
        if let handler = handler ?? nonEmpty("SECURE_API_HANDLER") { c.handler = handler }
        if let h = c.handler, h.isEmpty || h.count > 128 || h.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ValidationError("--handler must be 1-128 characters without spaces (Lambda's rule, e.g. app.handler)")
        }
        if let stage { c.stageName = stage }
        _ = try IAMPropagation.budgetSeconds(env)  // a bad value fails now, not after the role is made
        if c.auth != .oidc { c.oidcIssuer = nil; c.oidcAudience = nil }
        if c.codePath != nil {
            // Read it now: a missing or unreadable --code fails before any AWS call.
            _ = try FunctionPackage.load(c.codePath ?? "", handler: c.handler ?? "lambda_function.lambda_handler")
        }
        return c
    }

    /// AWS's input rules for what this run would send (before any call), with their warnings
    /// printed (a runtime close to its block date). The runtime is checked only when a function
    /// is to be created or its runtime changes.
    static func checkedForChange(_ c: StackConfig, recorded: StackState?) throws {
        let graph = StackGraph.forAuth(c.auth)
        let functionsToCreate = recorded?.config.runtime != c.runtime
            || graph.nodes.contains { $0.type == "lambda:function" && recorded?.record($0.key)?.status != .created }
        do {
            for warning in try c.validateForCreate(functionsToCreate: functionsToCreate) { Console.info("warning: \(warning)") }
        } catch let StackError.invalidConfig(m) where recorded.map({ (try? $0.config.validateForCreate(functionsToCreate: functionsToCreate)) == nil }) ?? false {
            // The recorded settings themselves: made under older rules, AWS would refuse them now.
            throw CLIError("state.json's stack cannot be finished: \(m); delete it and create again")
        }
    }
}
