import AWSClient
import ArgumentParser
import Crypto
import Foundation
import Services
import Stack

/// Options of every command that reads state.json.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: "Path of the state file.")
    var statePath = "state.json"
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

/// Shared steps: resolve the target, say where the run goes, check state.json belongs there.
struct StackRun {
    let config: AWSConfiguration
    let target: StackTarget
    let description: String

    /// Resolves configuration (for an existing stack, in its recorded region), asks STS who we
    /// are, and returns the target line every run starts with.
    static func open(_ aws: AWSOptions, state: StackState?) async throws -> StackRun {
        var session = aws.session
        if let state {
            if let flag = aws.region, flag != state.target.region {
                throw CLIError("state.json's stack is in region \(state.target.region), not \(flag): drop --region or use another --state")
            }
            session.region = state.target.region
        }
        let config = try session.resolve(log: { Console.verbose($0) })
        let custom = config.endpoints.customEndpoint
        let endpoint = custom.flatMap { $0.endpoint.map { "\($0)" } }
        if let state, state.target.endpoint != endpoint {
            let was = state.target.endpoint.map { "the endpoint \($0)" } ?? "AWS"
            let now = endpoint.map { "the endpoint \($0)" } ?? "AWS"
            throw CLIError("state.json was created against \(was), but this run targets \(now); "
                           + (state.target.endpoint.map { "set AWS_ENDPOINT_URL=\($0)" } ?? "unset AWS_ENDPOINT_URL") + " or use another --state")
        }
        let identity: STS.CallerIdentity
        do {
            identity = try await STS(client: AWSClient(config: config)).getCallerIdentity()
        } catch {
            throw CLIError("cannot reach \(config.endpoints.targetDescription()): \(error)")
        }
        if let state, endpoint == nil, state.target.account != identity.account {
            throw CLIError("state.json's stack is in account \(state.target.account), but these credentials are for account \(identity.account)")
        }
        let target = StackTarget(region: config.region, account: identity.account, endpoint: endpoint)
        return StackRun(config: config, target: target, description: config.endpoints.targetDescription(account: identity.account))
    }
}

/// Prints executor events as provisioner lines.
struct EventPrinter: Sendable {
    let toStderr: Bool
    /// Keys of resources AWS makes on its own later (the log group): recorded, not created by us.
    var onDemand: Set<String> = []

    func line(_ s: String) { toStderr ? Console.info(s) : Console.out(s) }

    func callAsFunction(_ event: StackEvent) {
        func row(_ mark: String, _ label: String, _ r: ResourceRecord, _ tail: String) -> String {
            "  \(mark) \(pad(label, 34)) \(pad(Console.safe(r.name ?? ""), 24)) \(pad(Console.safe(r.id ?? "-"), 30)) \(tail)"
        }
        switch event {
        case .created(let label, let r, _, _) where onDemand.contains(r.key):
            line(row(Console.dim("·"), label, r, "expected (made by Lambda on first call)"))
        case .created(let label, let r, let s, let adopted):
            line(row(Console.green("+"), label, r, String(format: "%.2fs", s) + (adopted ? " (found after an interrupted run; adopted)" : "")))
        case .note(let m):
            line("    \(Console.yellow("…")) \(Console.safe(m))")
        case .deleted(let label, let r, let s, let gone):
            line(row(Console.yellow("-"), label, r, gone ? "already gone" : String(format: "%.2fs", s)))
        case .deleteFailed(let label, let r, let e):
            line(row("!", label, r, "delete failed: \(Console.safe("\(e)"))"))
        case .verifiedGone(let label, let r):
            line(row(Console.yellow("-"), label, r, "verified gone (removed with its parent)"))
        case .remains(let label, let r):
            line(row("!", label, r, "STILL EXISTS"))
        }
    }
}

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create the secured API stack (or resume an interrupted create); IDs go to state.json.",
        discussion: "The test user's password comes from PASSWORD (or --password-stdin), never from a flag value.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions

    @Option(help: "How routes are protected: cognito (JWT authorizer + Cognito), oidc (JWT authorizer + external issuer), lambda (Lambda REQUEST authorizer), iam (AWS_IAM, SigV4 callers).")
    var auth: AuthPattern?
    @Option(help: "OIDC issuer URL for --auth oidc, e.g. https://HOST/realms/REALM.") var issuer: String?
    @Option(help: "Audience for --auth oidc (Keycloak's default is 'account').") var audience: String?
    @Option(help: "Stack name (tag secure-api:stack=NAME on every resource that takes tags).") var stackName = "HelloAPI"
    @Option(help: "Cognito user pool name.") var userPoolName = "HelloUserPool"
    @Option(help: "Hosted-UI domain prefix (default: DOMAIN_PREFIX, else 16 random letters).") var domainPrefix: String?
    @Option(help: "Resource server identifier.") var resourceServer = "HelloAPI"
    @Option(help: "Scopes of the resource server, comma separated.") var scopes = "hello.read,hello.write"
    @Option(help: "Name of the public app client.") var appClientName = "Terminal Application"
    @Option(help: "OAuth callback URL of the app client.") var callbackURL = "http://localhost:8083/callback"
    @Option(help: "Test user name.") var username = "Testuser"
    @Option(help: "Test user e-mail.") var email = "testuser@example.com"
    @Option(help: "HTTP API name.") var apiName = "HelloAPI"
    @Option(help: "IAM role name for the Lambda function.") var roleName = "APIGatewayLambdaRole"
    @Option(help: "Lambda function name.") var functionName = "EchoFunction"
    @Option(help: "Lambda runtime.") var runtime = "python3.12"
    @Option(help: "Stage name.") var stage = "dev"
    @Flag(help: "Read the test user's password from stdin instead of PASSWORD.") var passwordStdin = false
    @Option(help: "How many independent resources to create at once (1-16).") var maxConcurrency = 4
    @Option(help: "text or json (json: the summary on stdout, progress on stderr).") var output: OutputFormat = .text

    func validate() throws {
        if maxConcurrency < 1 || maxConcurrency > 16 { throw ValidationError("--max-concurrency must be 1...16") }
    }

    func newConfig(env: [String: String]) throws -> StackConfig {
        let given = domainPrefix ?? env["DOMAIN_PREFIX"].flatMap { $0.isEmpty ? nil : $0 }
        let config = StackConfig(
            stackName: stackName, userPoolName: userPoolName, domainPrefix: given ?? DomainPrefix.generate(),
            domainPrefixGenerated: given == nil, resourceServerIdentifier: resourceServer,
            scopes: scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, appClientName: appClientName,
            callbackURL: callbackURL, username: username, email: email, apiName: apiName, roleName: roleName,
            functionName: functionName, runtime: runtime, stageName: stage)
        var withAuth = config
        withAuth.auth = auth ?? .cognito
        withAuth.oidcIssuer = issuer.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        withAuth.oidcAudience = audience
        try withAuth.validate()
        return withAuth
    }

    func readPassword(env: [String: String]) -> String? {
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }
        return env["PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func run() async throws {
        let env = aws.session.environment
        let file = StateFile(path: stateOptions.statePath)
        try file.lock()
        let existing = try file.load()
        if let existing, let auth, auth != existing.config.auth {
            throw CLIError("\(file.path) holds a stack created with --auth \(existing.config.auth.rawValue), not \(auth.rawValue): delete it first, or use another --state")
        }
        let config = try existing?.config ?? newConfig(env: env)
        let graph = StackGraph.forAuth(config.auth)
        let password = graph.node("test_user") == nil ? nil : readPassword(env: env)
        if graph.node("test_user") != nil, existing?.record("test_user")?.status != .created {
            guard let password else {
                throw CLIError("PASSWORD is not set: the test user needs one (export PASSWORD=... or pipe it to --password-stdin)")
            }
            try StackConfig.validatePassword(password, minimumLength: config.minimumPasswordLength)
        }
        let run = try await StackRun.open(aws, state: existing)
        let printer = EventPrinter(toStderr: output == .json, onDemand: Set(graph.nodes.filter(\.createdOnDemand).map(\.key)))
        printer.line("Target: \(run.description)")
        let state = existing ?? StackState(stackId: StackDefaults.newStackId(), target: run.target, config: config, resources: [])
        if existing != nil, !graph.nodes.allSatisfy({ existing?.record($0.key)?.status == .created }) {
            printer.line("Resuming stack '\(state.config.stackName)' from \(file.path) (\(state.resources.count) entries)")
        }
        let executor = StackExecutor(graph: graph, services: StackServices(client: AWSClient(config: run.config)),
                                     maxConcurrency: maxConcurrency,
                                     inFlightWindowSeconds: Double(run.config.timeouts.totalMilliseconds) / 1000,
                                     events: { printer($0) })
        let started = Date()
        let summary = try await executor.create(state: state, file: file, password: password)
        let seconds = Date().timeIntervalSince(started)
        let outputs = summary.state.outputs
        if summary.alreadyComplete {
            printer.line("Stack '\(state.config.stackName)' is complete: nothing to create (\(state.resources.count) resources in \(file.path)).")
        } else {
            printer.line(String(format: "Created %d, adopted %d in %.1fs (%d retries). State: %@", summary.created, summary.adopted,
                                seconds, run.config.retry.retryCount, file.path))
        }
        if output == .json {
            let json: JSON = ["target": .string(run.description), "created": .number(Double(summary.created)),
                              "adopted": .number(Double(summary.adopted)), "already_complete": .bool(summary.alreadyComplete),
                              "outputs": .object(outputs.mapValues { .string($0) })]
            print(json.serialized(pretty: true))
        } else {
            if let url = outputs["hello_url"] { printer.line("API URL: \(Console.safe(url))") }
            printer.line("Next: secure-api status | secure-api request | secure-api delete")
        }
    }
}

struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete everything in state.json, in exact reverse order, then verify nothing remains.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let file = StateFile(path: stateOptions.statePath)
        guard file.exists else {
            print("No \(file.path): nothing to delete.")
            return
        }
        try file.lock()
        guard let state = try file.load() else {
            print("No \(file.path): nothing to delete.")
            return
        }
        let run = try await StackRun.open(aws, state: state)
        print("Target: \(run.description)")
        if state.resources.isEmpty {
            try file.remove()
            print("Stack '\(state.config.stackName)' has no resources: nothing to delete.")
            return
        }
        print("Deleting stack '\(state.config.stackName)': \(state.resources.count) resources, newest first")
        let printer = EventPrinter(toStderr: false)
        let executor = StackExecutor(graph: .forAuth(state.config.auth), services: StackServices(client: AWSClient(config: run.config)),
                                     inFlightWindowSeconds: Double(run.config.timeouts.totalMilliseconds) / 1000,
                                     events: { printer($0) })
        let started = Date()
        let summary = try await executor.delete(state: state, file: file)
        if summary.remaining.isEmpty {
            print(String(format: "Deleted in %.1fs (%d retries); verified nothing remains. Removed %@.", Date().timeIntervalSince(started),
                         run.config.retry.retryCount, file.path))
        } else {
            let names = summary.remaining.map { "\($0.type) \($0.id ?? $0.name ?? "?")" }.joined(separator: ", ")
            throw CLIError("\(summary.remaining.count) resource(s) remain: \(names); state kept in \(file.path), run delete again")
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Check each resource in state.json against AWS: exists, missing (drift) or pending.",
        discussion: "Exit status: 0 when the stack is complete and every resource exists, 2 when not, 1 on error.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let file = StateFile(path: stateOptions.statePath)
        guard let state = try file.load() else {
            print("No \(file.path): no stack.")
            throw ExitCode(2)
        }
        let run = try await StackRun.open(aws, state: state)
        print("Target: \(run.description)")
        let executor = StackExecutor(graph: .forAuth(state.config.auth), services: StackServices(client: AWSClient(config: run.config)),
                                     events: { _ in })
        var complete = true
        for (node, record, status) in try await executor.status(state: state) {
            if status != .exists && status != .notYet { complete = false }
            print("  \(pad(node.label, 34)) \(pad(Console.safe(record?.id ?? "-"), 30)) \(status.rawValue)")
        }
        print(complete ? "Stack '\(state.config.stackName)' is complete." : "Stack '\(state.config.stackName)' is NOT complete: run create to finish or repair it.")
        if !complete { throw ExitCode(2) }
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the ordered AWS calls create would make (no network, no credentials).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, mermaid }
    @Option(help: "text or mermaid (the dependency graph).") var format: Format = .text
    @Option(help: "Region to show in ARNs and URLs.") var region: String?
    @Option(help: "Auth pattern to plan: cognito, oidc, lambda or iam.") var auth: AuthPattern = .cognito

    func run() throws {
        let graph = StackGraph.forAuth(auth)
        if format == .mermaid {
            print(graph.mermaid())
            return
        }
        let env = ProcessInfo.processInfo.environment
        let region = self.region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "<region>"
        var config = StackConfig(domainPrefix: env["DOMAIN_PREFIX"] ?? "<random 16 letters>", domainPrefixGenerated: env["DOMAIN_PREFIX"] == nil)
        config.auth = auth
        var n = 0
        for node in graph.topologicalOrder() {
            for call in node.plan(config, region: region) {
                n += 1
                let params = call.parameters.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
                print("\(pad(String(n), 3)) \(call.service) \(call.operation)  \(Console.dim(params))")
            }
        }
        print("Independent branches run concurrently; longest dependency chain: \(graph.criticalPathLength()) resources.")
    }
}

enum StackDefaults {
    static func newStackId() -> String { "sa-" + Crypto.randomBytes(6).hexString }
}

/// Left-aligns in a column without cutting long values (IDs must stay copyable).
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

extension AuthPattern: ExpressibleByArgument {}
