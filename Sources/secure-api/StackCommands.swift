import AWSClient
import ArgumentParser
import Crypto
import Foundation
import Services
import Stack

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

/// Shared steps: resolve the target, say where the run goes, check state.json belongs there.
struct StackRun {
    let config: AWSConfiguration
    let target: StackTarget
    let description: String
    /// A first create's STS lookup, left running beside its first creates (`open(later:)`).
    var account: Task<String, Error>? = nil

    /// Resolves configuration (for an existing stack, in its recorded region), asks STS who we
    /// are, and returns the target line every run starts with. With `identityLater` and no
    /// state (a first create: no recorded account to check before writing), STS is asked in
    /// `account`, so its round trip is off the critical path; `target.account` is empty then.
    static func open(_ aws: AWSOptions, state: StackState?, identityLater: Bool = false) async throws -> StackRun {
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
        var endpoints: [String: String] = [:]
        for service in AWSService.all { endpoints[service.name] = try config.endpoints.resolve(service).endpoint.description }
        // An empty recorded account: STS never answered that run (its first create), so where
        // it pointed STS pins nothing (a run with STS fixed may finish or delete the stack).
        if let state {
            try requireSameEndpoints(recorded: state.target, resolved: endpoints, region: config.region,
                                     ignoring: state.target.account.isEmpty ? [AWSService.sts.name] : [])
        }
        let sts = try config.endpoints.resolve(.sts).endpoint
        @Sendable func callerAccount() async throws -> String {
            do {
                return try await STS(client: AWSClient(config: config)).getCallerIdentity().account
            } catch let e as AWSServiceError {
                throw CLIError("STS at \(sts) refused to name the account (\(config.endpoints.targetDescription())): \(e)")
            } catch {
                throw CLIError("cannot reach STS at \(sts) (\(config.endpoints.targetDescription())): \(error)")
            }
        }
        if identityLater && state == nil {
            let target = StackTarget(region: config.region, account: "", endpoint: endpoint, endpoints: endpoints)
            let description = endpoint == nil ? "AWS region \(config.region) (account: asked of STS beside the first creates)"
                                              : config.endpoints.targetDescription()
            return StackRun(config: config, target: target, description: description, account: Task { try await callerAccount() })
        }
        let account = try await callerAccount()
        // An empty recorded account (a first create stopped before STS answered): the ARNs of
        // what it made name the account it made them in.
        // Any STS that is AWS's answers for the account (an override of another service, or a
        // regional or VPC STS endpoint, does not make the stack an emulator's).
        if let state, sts.isAWS, let recorded = state.target.account.isEmpty ? state.accountOfRecordedARNs : state.target.account,
           recorded != account {
            throw CLIError("state.json's stack is in account \(recorded), but these credentials are for account \(account)")
        }
        let target = StackTarget(region: config.region, account: account, endpoint: endpoint, endpoints: endpoints)
        return StackRun(config: config, target: target, description: config.endpoints.targetDescription(account: account))
    }

    /// A stack is only ever changed where it was made: every service's endpoint must resolve as
    /// it did when state.json was written (else delete would call "not found" at the wrong
    /// place, and lose the IDs of what lives at the right one).
    static func requireSameEndpoints(recorded: StackTarget, resolved: [String: String], region: String,
                                     ignoring: Set<String> = []) throws {
        let defaults = StackTarget.endpoints(region: region, base: nil)
        var differences: [String] = []
        for service in AWSService.all where !ignoring.contains(service.name) {
            guard let was = recorded.endpoints[service.name], let now = resolved[service.name], was != now else { continue }
            let fix = was == defaults[service.name]
                ? "unset AWS_ENDPOINT_URL_\(service.endpointEnvSuffixes[0])/AWS_ENDPOINT_URL/--endpoint-url"
                : "set AWS_ENDPOINT_URL_\(service.endpointEnvSuffixes[0])=\(was)"
            differences.append("\(service.name) was created at \(was), this run would use \(now) (\(fix))")
        }
        guard differences.isEmpty else {
            throw CLIError("state.json's stack lives at other endpoints than this run targets: " + differences.joined(separator: "; ")
                           + "; or use another --state")
        }
    }
}

/// Prints executor events as provisioner lines.
struct EventPrinter: Sendable {
    let toStderr: Bool
    /// Keys of resources AWS makes on its own later (the log group): recorded, not created by us.
    var onDemand: Set<NodeKey> = []

    func line(_ s: String) { toStderr ? Console.info(s) : Console.out(s) }

    func callAsFunction(_ event: StackEvent) {
        func row(_ mark: String, _ label: String, _ r: ResourceRecord, _ tail: String) -> String {
            "  \(mark) \(pad(label, 34)) \(pad(Console.safe(r.name ?? ""), 24)) \(pad(Console.safe(r.id ?? "-"), 30)) \(tail)"
        }
        switch event {
        case .created(let label, let r, _, _) where onDemand.contains(r.key):
            line(row(Console.dim("·"), label, r, "expected (made by Lambda on first call)"))
        case .created(let label, let r, let s, let adopted):
            line(row(Console.green("+"), label, r, String(format: "%.2fs", s) + (adopted ? " (already existed; adopted)" : "")))
        case .updated(let label, let r, let changes, let s):
            line(row(Console.yellow("~"), label, r, String(format: "%.2fs", s) + " updated: " + changes.map(\.name).joined(separator: ", ")))
        case .replaced(let label, let r, let changes, let s):
            line(row(Console.yellow("-/+"), label, r, String(format: "%.2fs", s) + " replaced (" + changes.filter(\.replaces).map(\.name).joined(separator: ", ") + ")"))
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
        case .notOurs(let label, let r, let reason, let kept):
            line(row("!", label, r, "NOT OURS, left alone: \(reason)" + (kept ? "" : " (dropped from state)")))
        }
    }
}

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create the stack, or converge it: apply changed settings, repair drift, resume an interrupted run.",
        discussion: """
            A flag given changes the setting recorded in state.json; one left out keeps it. Each run reads every \
            resource, then creates what is missing, updates in place, replaces (what cannot change in place) and \
            deletes what the configuration dropped; `plan` shows the same without doing it. The test user's \
            password comes from PASSWORD (or --password-stdin), never from a flag value.
            """)

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var settings: StackConfigOptions
    @Flag(help: "Read the test user's password from stdin instead of PASSWORD.") var passwordStdin = false
    @Flag(help: "Allow changes that replace or delete the user pool (its users and their passwords are lost).") var allowReplace = false
    @Option(help: "How many independent resources to create at once (1-16).") var maxConcurrency = 4
    @Option(help: "text or json (json: the summary on stdout, progress on stderr).") var output: OutputFormat = .text

    func validate() throws {
        if maxConcurrency < 1 || maxConcurrency > 16 { throw ValidationError("--max-concurrency must be 1...16") }
    }

    func readPassword(env: [String: String]) -> String? { SecretInput.password(fromStdin: passwordStdin, env: env) }

    func requirePassword(_ password: String?, _ config: StackConfig) throws -> String {
        guard let password else {
            throw CLIError("PASSWORD is not set: the test user needs one (export PASSWORD=... or pipe it to --password-stdin)")
        }
        try StackConfig.validatePassword(password, minimumLength: config.minimumPasswordLength)
        return password
    }

    func run() async throws {
        let interrupts = Interrupts(command: "create")
        interrupts.install()
        let file = try stateOptions.open(aws.session)
        try await StateLock.holding(file, operation: "create", interrupts: interrupts) { try await converge(file, interrupts: interrupts) }
    }

    func converge(_ file: any StateBackend, interrupts: Interrupts) async throws {
        let env = aws.session.environment
        let existing = try await file.load()
        let config = try settings.config(base: existing?.config, env: env)
        try StackConfigOptions.checkedForChange(config, recorded: existing)
        let graph = StackGraph.forAuth(config.auth)
        var password = graph.node(.testUser) == nil ? nil : readPassword(env: env)
        let userMade = existing?.record(.testUser)?.status == .created && existing?.config.auth == config.auth
        if graph.node(.testUser) != nil, !userMade { password = try requirePassword(password, config) }
        let run = try await StackRun.open(aws, state: existing, identityLater: true)
        let printer = EventPrinter(toStderr: output == .json, onDemand: Set(graph.nodes.filter(\.createdOnDemand).map(\.key)))
        printer.line("Target: \(run.description)")
        var state = existing ?? StackState(stackId: StackDefaults.newStackId(), target: run.target, config: config, resources: [])
        state.config = config
        state.target.endpoints = run.target.endpoints
        if state.target.account.isEmpty { state.target.account = run.target.account }
        let executor = StackExecutor(graph: graph, services: StackServices(client: AWSClient(config: run.config)),
                                     maxConcurrency: maxConcurrency, stop: interrupts.stop, events: { printer($0) })
        let live = try await executor.refresh(state)
        let plan = executor.plan(state, live: live)
        if let foreign = plan.items.first(where: { $0.action == .notOurs }) {
            throw CLIError("\(foreign.name) \(foreign.record?.id ?? ""): \(foreign.reason ?? "not ours"); secure-api will not change it (run delete, or give it another name)")
        }
        let destructive = plan.items.filter { ($0.action == .replace || $0.action == .delete) && $0.destroysData }
        if !destructive.isEmpty && !allowReplace {
            PlanPrinter(toStderr: true).print(plan)
            throw CLIError("this change would \(destructive.map { "\($0.action == .delete ? "delete" : "replace") the \($0.name) \($0.record?.id ?? "")" }.joined(separator: " and ")), losing its users: run again with --allow-replace to do it")
        }
        if plan.items.contains(where: { $0.key == .testUser && ($0.action == .create || $0.action == .replace) }) {
            password = try requirePassword(password, config)
        }
        if !plan.hasChanges {
            printer.line("Stack '\(config.stackName)' is up to date: no changes (\(state.resources.count) resources in \(file.path)).")
            if existing?.config != config || existing?.target != state.target { try await file.save(state, outputs: state.outputs) }
            try report(state.outputs, run: run, summary: nil, seconds: 0, printer: printer, path: file.path, resourceCount: state.resources.count)
            return
        }
        if let existing {
            // An interrupted run left pending (or deposed) entries: this run resumes it.
            let resuming = existing.resources.contains { $0.status != .created }
            printer.line("\(resuming ? "Resuming" : "Converging") stack '\(config.stackName)' from \(file.path): \(plan.summary.dropFirst(6))")
        }
        let started = Date()
        let account = run.account.map { lookup in
            Task {
                let id = try await lookup.value
                if run.target.endpoint == nil { printer.line("Account: \(id) (STS)") }
                return id
            }
        }
        let summary: StackExecutor.CreateSummary
        do {
            summary = try await executor.create(state: state, live: live, file: file, password: password, account: account)
        } catch {
            // A first create that made nothing (wrong endpoint, refused credentials) leaves no
            // state: nothing to resume or delete. One that made something says so.
            guard existing == nil, let left = try? await file.load() else { throw error }
            if left.resources.isEmpty {
                try? await file.remove()
                throw error
            }
            let made = left.resources.filter { $0.status == .created }.count
            guard made > 0 else { throw error }
            throw CLIError("\(error); \(made) resource(s) made before it are recorded in \(file.path): run `secure-api create` again "
                           + "to finish once that is fixed, or `secure-api delete` to remove them")
        }
        let seconds = Date().timeIntervalSince(started)
        if summary.interrupted {
            Console.info("interrupted after \(summary.done) of \(summary.total) resources; run `secure-api create` again to resume")
        } else {
            printer.line(String(format: "Created %d, updated %d, replaced %d, deleted %d, adopted %d in %.1fs (%d retries). State: %@",
                                summary.created, summary.updated, summary.replaced, summary.deleted, summary.adopted,
                                seconds, run.config.retry.retryCount, file.path))
        }
        try report(summary.state.outputs, run: run, summary: summary, seconds: seconds, printer: printer, path: file.path)
        if summary.interrupted { throw ExitCode(interrupts.exitCode ?? 130) }
        if !summary.notOurs.isEmpty {
            throw CLIError("left alone \(summary.notOurs.count) resource(s) that are no longer provably this stack's: "
                           + summary.notOurs.map { "\($0.type) \($0.id ?? "?")" }.joined(separator: ", "))
        }
    }

    /// The summary: `--output json` (README: JSON output) or the API URL and what to do next.
    func report(_ outputs: [String: String], run: StackRun, summary: StackExecutor.CreateSummary?, seconds: Double,
                printer: EventPrinter, path: String, resourceCount: Int = 0) throws {
        let interrupted = summary?.interrupted ?? false
        if output == .json {
            // On a first create the account arrives beside the first creates: the journal has it.
            let account = summary?.state.target.account ?? run.target.account
            let json: JSON = ["command": "create", "target": .string(run.description), "state": .string(path),
                              "account": account.isEmpty ? .null : .string(account),
                              "created": .number(Double(summary?.created ?? 0)),
                              "updated": .number(Double(summary?.updated ?? 0)), "replaced": .number(Double(summary?.replaced ?? 0)),
                              "deleted": .number(Double(summary?.deleted ?? 0)),
                              "adopted": .number(Double(summary?.adopted ?? 0)), "already_complete": .bool(summary == nil),
                              "interrupted": .bool(interrupted),
                              "resources_done": .number(Double(summary?.done ?? resourceCount)), "resources_total": .number(Double(summary?.total ?? resourceCount)),
                              "seconds": .number((seconds * 100).rounded() / 100),
                              "outputs": .object(outputs.mapValues { .string($0) })]
            Console.out(json.serialized(pretty: true))
        } else if !interrupted {
            if let url = outputs["hello_url"] { printer.line("API URL: \(Console.safe(url))") }
            if let url = outputs["cognito_domain_url"] { printer.line("Hosted UI: \(Console.safe(url))/oauth2/authorize") }
            if let url = outputs["token_url"] { printer.line("Token URL: \(Console.safe(url))") }
            let state = path == "state.json" ? "" : " --state \(path)"
            printer.line("Next: secure-api status\(state) | secure-api request\(state) | secure-api verify\(state) | secure-api delete\(state) (or make status | make request | make verify | make delete)")
        }
    }
}
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete everything in state.json, in reverse dependency order, then verify nothing remains.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Option(help: "How many independent resources to delete at once (1-16).") var maxConcurrency = 4
    @Option(help: "text or json (json: the summary on stdout, progress on stderr).") var output: OutputFormat = .text

    func validate() throws {
        if maxConcurrency < 1 || maxConcurrency > 16 { throw ValidationError("--max-concurrency must be 1...16") }
    }

    /// The `--output json` summary (README: JSON output).
    func summary(target: String?, path: String, deleted: Int, total: Int, remaining: [ResourceRecord], interrupted: Bool,
                 seconds: Double, notOurs: [ResourceRecord] = []) -> String {
        func list(_ records: [ResourceRecord]) -> JSON {
            .array(records.map { r in
                .object(["key": .string(r.key.rawValue), "type": .string(r.type), "id": r.id.map { .string($0) } ?? .null,
                         "name": r.name.map { .string($0) } ?? .null])
            })
        }
        let json: JSON = ["command": "delete", "target": target.map { .string($0) } ?? .null, "state": .string(path),
                          "deleted": .number(Double(deleted)), "total": .number(Double(total)), "remaining": list(remaining),
                          "not_ours": list(notOurs), "interrupted": .bool(interrupted), "seconds": .number((seconds * 100).rounded() / 100)]
        return json.serialized(pretty: true)
    }

    func run() async throws {
        let file = try stateOptions.open(aws.session)
        let printer = EventPrinter(toStderr: output == .json)
        guard try await file.hasState() else {
            printer.line("No \(file.path): nothing to delete.")
            if output == .json { Console.out(summary(target: nil, path: file.path, deleted: 0, total: 0, remaining: [], interrupted: false, seconds: 0)) }
            return
        }
        let interrupts = Interrupts(command: "delete")
        interrupts.install()
        try await StateLock.holding(file, operation: "delete", interrupts: interrupts) {
            try await teardown(file, printer: printer, interrupts: interrupts)
        }
    }

    func teardown(_ file: any StateBackend, printer: EventPrinter, interrupts: Interrupts) async throws {
        guard let state = try await file.load() else {
            printer.line("No \(file.path): nothing to delete.")
            if output == .json { Console.out(summary(target: nil, path: file.path, deleted: 0, total: 0, remaining: [], interrupted: false, seconds: 0)) }
            return
        }
        let run = try await StackRun.open(aws, state: state)
        printer.line("Target: \(run.description)")
        if state.resources.isEmpty {
            try await file.remove()
            printer.line("Stack '\(state.config.stackName)' has no resources: nothing to delete.")
            if output == .json { Console.out(summary(target: run.description, path: file.path, deleted: 0, total: 0, remaining: [], interrupted: false, seconds: 0)) }
            return
        }
        printer.line("Deleting stack '\(state.config.stackName)': \(state.resources.count) resources, dependents first")
        let executor = StackExecutor(graph: .forAuth(state.config.auth), services: StackServices(client: AWSClient(config: run.config)),
                                     maxConcurrency: maxConcurrency, stop: interrupts.stop, events: { printer($0) })
        let started = Date()
        let summary = try await executor.delete(state: state, file: file)
        let seconds = Date().timeIntervalSince(started)
        if output == .json {
            Console.out(self.summary(target: run.description, path: file.path, deleted: summary.deleted, total: summary.total,
                                     remaining: summary.remaining, interrupted: summary.interrupted, seconds: seconds, notOurs: summary.notOurs))
        }
        if summary.interrupted {
            Console.info("interrupted after \(summary.deleted) of \(summary.total) deletions; run `secure-api delete` again to resume")
            throw ExitCode(interrupts.exitCode ?? 130)
        }
        if !summary.notOurs.isEmpty {
            let names = summary.notOurs.map { "\($0.type) \($0.id ?? $0.name ?? "?")" }.joined(separator: ", ")
            throw CLIError("left alone \(summary.notOurs.count) resource(s) that are not provably this stack's (replaced or re-tagged by someone else): \(names)"
                           + (summary.remaining.isEmpty ? "; nothing of ours remains, \(file.path) removed" : "; state kept in \(file.path)"))
        }
        if summary.remaining.isEmpty {
            printer.line(String(format: "Deleted in %.1fs (%d retries); verified nothing remains. Removed %@.", seconds,
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
        abstract: "Check every resource in state.json against AWS: exists, missing, not ours, and drift in its settings (security first).",
        discussion: "Exit status: 0 when every resource exists, is ours and matches the configuration, 2 when not, 1 on error. Takes the same settings as create (a flag given is what status compares with).")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var settings: StackConfigOptions
    @Option(help: "text or json.") var output: OutputFormat = .text

    func run() async throws {
        let file = try stateOptions.open(aws.session)
        guard var state = try await file.load() else {
            if output == .json { print(JSON.object(["stack": .null, "complete": false]).serialized(pretty: true)) } else { print("No \(file.path): no stack.") }
            throw ExitCode(2)
        }
        state.config = try settings.config(base: state.config, env: aws.session.environment)
        try state.config.validate()
        let run = try await StackRun.open(aws, state: state)
        let executor = StackExecutor(graph: .forAuth(state.config.auth), services: StackServices(client: AWSClient(config: run.config)),
                                     events: { _ in })
        let live = try await executor.refresh(state)
        let plan = executor.plan(state, live: live)
        let report = StatusReport(plan: plan, live: live)
        if output == .json {
            print(report.json(target: run.description, stack: state.config.stackName).serialized(pretty: true))
        } else {
            print("Target: \(run.description)")
            report.print(stack: state.config.stackName, path: file.path)
        }
        if !report.complete { throw ExitCode(2) }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what create would change: with a state file, live against the configuration (+ create, ~ update, -/+ replace, - delete); without one, the calls a first create makes (no network).",
        discussion: "--detailed-exitcode: 0 no changes, 2 changes, 1 error (as terraform plan).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, mermaid }
    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var settings: StackConfigOptions
    @Option(help: "text or mermaid (the dependency graph).") var format: Format = .text
    @Option(help: "text or json.") var output: OutputFormat = .text
    @Flag(help: "Exit 2 when there are changes, 0 when none, 1 on error.") var detailedExitcode = false

    func run() async throws {
        let env = aws.session.environment
        let file = try stateOptions.open(aws.session)
        let existing = try await file.load()
        let config = try settings.config(base: existing?.config, env: env)
        try StackConfigOptions.checkedForChange(config, recorded: existing)
        let graph = StackGraph.forAuth(config.auth)
        if format == .mermaid {
            print(graph.mermaid())
            return
        }
        guard var state = existing else {
            try offlinePlan(graph, config: config, env: env)
            if detailedExitcode { throw ExitCode(2) }
            return
        }
        state.config = config
        let run = try await StackRun.open(aws, state: existing)
        let executor = StackExecutor(graph: graph, services: StackServices(client: AWSClient(config: run.config)), events: { _ in })
        let plan = executor.plan(state, live: try await executor.refresh(state))
        if output == .json {
            print(PlanPrinter.json(plan, target: run.description).serialized(pretty: true))
        } else {
            print("Target: \(run.description)")
            PlanPrinter(toStderr: false).print(plan)
        }
        if detailedExitcode && plan.hasChanges { throw ExitCode(2) }
    }

    /// No stack yet: the calls a first create makes, in order (no network, no credentials).
    func offlinePlan(_ graph: StackGraph, config: StackConfig, env: [String: String]) throws {
        let given = aws.region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"]
        if let given { try Partition.requireSupported(region: given) }
        let region = given ?? "<region>"
        var config = config
        if config.domainPrefixGenerated { config.domainPrefix = "<random 16 letters>" }
        var calls: [JSON] = []
        // The request values create sends, built by the same functions, never sent here.
        let resolver = EndpointResolver(flag: aws.endpointURL, environment: env, region: region)
        let endpoints = Dictionary(uniqueKeysWithValues: AWSService.all.compactMap { s in
            (try? resolver.resolve(s)).map { (s.name, $0.endpoint.description) }
        })
        for (node, requests) in try graph.firstCreateRequests(config, region: region, endpoints: endpoints) {
            if output == .json {
                calls += requests.map { call in
                    ["service": .string(call.service.name), "operation": .string(call.operation), "resource": .string(node.key.rawValue),
                     "parameters": .object(Dictionary(call.parameters.map { ($0.0, JSON.string($0.1)) }, uniquingKeysWith: { a, _ in a }))]
                }
                continue
            }
            print("+ \(node.label)")
            if requests.isEmpty {
                print("    (no call: AWS makes \(node.pendingName(config) ?? node.label) on demand; delete removes it)")
            }
            for call in requests {
                print("    \(call.service.name) \(call.operation)")
                for (name, value) in call.parameters { print(Console.dim("      \(name) = \(Console.safe(value))")) }
            }
        }
        if output == .json {
            print(JSON.object(["changes": true, "create": .number(Double(graph.nodes.count)), "calls": .array(calls)]).serialized(pretty: true))
        } else {
            print("Independent branches run concurrently; longest dependency chain: \(graph.criticalPathLength()) resources.")
            print("Plan: \(graph.nodes.count) to create, 0 to update, 0 to replace, 0 to delete.")
        }
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
