import AWSClient
import ArgumentParser
import Dispatch
import Foundation
import Services
import Stack

/// Options of every command that reads the state.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: "Where the state lives: a file path, or s3://BUCKET/KEY (default: SECURE_API_STATE, else state.json).")
    var state: String?

    /// The store `--state` names.
    func open(_ session: SessionOptions) throws -> any StateBackend {
        try Self.open(state ?? ProcessInfo.processInfo.environment["SECURE_API_STATE"].flatMap { $0.isEmpty ? nil : $0 } ?? "state.json",
                      session)
    }

    /// A path, or an S3 object reached with the session's credentials, region and endpoint
    /// (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `--endpoint-url`).
    static func open(_ text: String, _ session: SessionOptions) throws -> any StateBackend {
        switch try StateLocation(parsing: text) {
        case .file(let path): return StateFile(path: path)
        case .s3(let bucket, let key):
            return S3StateStore(bucket: bucket, key: key, client: AWSClient(config: try session.resolve(log: { Console.verbose($0) })))
        }
    }
}

enum StateLock {
    /// Runs `body` holding the state's lock for `operation`, and releases it at the end: after
    /// success, after an error, on a graceful stop, and before a second signal exits at once.
    static func holding<T>(_ store: any StateBackend, operation: String, interrupts: Interrupts?,
                           _ body: () async throws -> T) async throws -> T {
        // Registered first: a second signal while the lock is being taken still releases it
        // (releasing a lock we do not hold is refused by its ID check, so this is safe early).
        interrupts?.onHardExit { releaseBlocking(store) }
        try await store.lock(operation: operation)
        if let s3 = store as? S3StateStore, let warning = await s3.versioningWarning() { Console.info("warning: " + Console.safe(warning)) }
        let result: T
        do { result = try await body() } catch {
            await release(store)
            throw error
        }
        await release(store)
        return result
    }

    static func release(_ store: any StateBackend) async {
        if let warning = await store.unlock() { Console.info("warning: " + Console.safe(warning)) }
    }

    /// From the signal queue (not a Swift concurrency thread, so it may block), at most 5 s.
    static func releaseBlocking(_ store: any StateBackend) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await release(store)
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            Console.info("warning: the lock on \(store.path) may still be held (releasing it took over 5 s): if no run holds it, "
                         + "`secure-api force-unlock --state \(store.path) ID` with the ID the next run prints")
        }
    }
}

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Read and move the state: show it, make an S3 bucket for it, migrate it between a file and S3.",
        subcommands: [StateShowCommand.self, StateBootstrapCommand.self, StateMigrateCommand.self])
}

struct StateShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print the state as JSON (local or s3://), e.g. for `| jq -r .outputs.api_url`.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try stateOptions.open(aws.session)
        guard let state = try await store.load() else { throw CLIError("no state at \(store.path): create the stack first (secure-api create)") }
        Console.emit(STDOUT_FILENO, state.document(outputs: state.outputs))
    }
}

struct ForceUnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "force-unlock",
        abstract: "Remove a stale lock of an S3 state, after checking its ID (printed by the run it refused).",
        discussion: "Only when the run holding it is gone (killed, its machine lost): removing the lock of a live run lets two runs change the stack at once.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Argument(help: "The lock's ID.") var id: String

    func run() async throws {
        guard let store = try stateOptions.open(aws.session) as? S3StateStore else {
            throw CLIError("force-unlock is for an S3 state (--state s3://BUCKET/KEY); a local state's lock goes with its process")
        }
        let info = try await store.forceUnlock(id: id)
        let whose = info.pid == 0 ? "(not a secure-api lock)" : "of " + Console.safe(info.holder)
        Console.out("Removed the lock \(Console.safe(info.id)) \(whose) on \(store.path).")
    }
}

struct StateBootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create a private S3 bucket for state: versioning on, public access blocked, default encryption, TLS-only policy.")

    @OptionGroup var aws: AWSOptions
    @Argument(help: "s3://BUCKET") var url: String

    func run() async throws {
        guard url.lowercased().hasPrefix("s3://") else { throw ValidationError("expected s3://BUCKET, not '\(url)'") }
        var bucket = String(url.dropFirst(5))
        while bucket.hasSuffix("/") { bucket.removeLast() }
        guard !bucket.contains("/") else { throw ValidationError("expected s3://BUCKET (no key): the bucket holds any number of states") }
        do { try StateLocation.validate(bucket: bucket) } catch { throw ValidationError("\(error)") }
        let config = try aws.configuration()
        let s3 = S3(client: AWSClient(config: config))
        // An existing bucket keeps its settings (its encryption may be KMS, its policy may grant
        // others): bootstrap makes new buckets only. (CreateBucket answers 200 for one of ours
        // in us-east-1, so look first.)
        if try await s3.bucketExists(bucket) {
            throw CLIError("bucket \(bucket) already exists: bootstrap leaves an existing bucket's settings alone; use it with --state s3://\(bucket)/secure-api/state.json (secure-api warns when its versioning is off), or choose a new name")
        }
        do {
            try await s3.createBucket(bucket, region: config.region)
            Console.out("Created bucket \(bucket) in \(config.region).")
        } catch let e as AWSServiceError where e.code == "BucketAlreadyOwnedByYou" {
            throw CLIError("bucket \(bucket) already exists (created meanwhile): bootstrap leaves an existing bucket's settings alone")
        } catch let e as AWSServiceError where e.code == "BucketAlreadyExists" {
            throw CLIError("bucket \(bucket) belongs to another account (names are global): choose another name")
        }
        try await s3.blockPublicAccess(bucket)
        Console.out("  public access blocked")
        try await s3.enableDefaultEncryption(bucket)
        Console.out("  default encryption: SSE-S3 (AES256)")
        try await s3.enableVersioning(bucket)
        Console.out("  versioning enabled (every state written is kept)")
        // The policy denies every plain-http request: on an http endpoint (the local emulator)
        // it would lock the state out of its own bucket.
        guard try config.endpoints.resolve(.s3).endpoint.scheme == "https" else {
            Console.out("  bucket policy: TLS only: skipped, this endpoint is plain http and the policy would refuse every call to it")
            Console.out("Use it with: --state s3://\(bucket)/secure-api/state.json (or SECURE_API_STATE in .env)")
            return
        }
        let arn = "arn:aws:s3:::\(bucket)"
        let policy: JSON = ["Version": "2012-10-17", "Statement": .array([[
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": .array([.string(arn), .string(arn + "/*")]),
            "Condition": ["Bool": ["aws:SecureTransport": "false"]],
        ]])]
        try await s3.putBucketPolicy(bucket, policy: policy)
        Console.out("  bucket policy: TLS only")
        Console.out("Use it with: --state s3://\(bucket)/secure-api/state.json (or SECURE_API_STATE in .env)")
    }
}

struct StateMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move the state from --state to --to (a file to s3://BUCKET/KEY, or back), under both locks.",
        discussion: "The source is removed only once the copy at the destination has been read back and matches.")

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Option(help: "Where the state goes: a path or s3://BUCKET/KEY.") var to: String

    func run() async throws {
        let source = try stateOptions.open(aws.session)
        let destination = try StateOptions.open(to, aws.session)
        guard source.path != destination.path else { throw CLIError("--to is the state's own path \(source.path)") }
        let interrupts = Interrupts(command: "state migrate")
        interrupts.install()
        try await StateLock.holding(source, operation: "migrate", interrupts: interrupts) {
            try await StateLock.holding(destination, operation: "migrate", interrupts: interrupts) {
                guard let state = try await source.load() else { throw CLIError("no state at \(source.path): nothing to migrate") }
                if try await destination.hasState() {
                    // The same stack: a migrate that stopped after its copy; finish it by hand, never by deleting the stack.
                    let there = try? await destination.load()
                    let same = there?.stackId == state.stackId
                    throw CLIError("\(destination.path) already holds a state" + (same
                        ? " of this very stack (\(state.stackId)): an earlier migrate got that far; compare the two (secure-api state show), then remove \(source.path) by hand — do not run delete, which would remove the stack both name"
                        : " (\(there.map { "stack \($0.stackId)" } ?? "unreadable")): refusing to overwrite it; choose another --to"))
                }
                try await destination.save(state, outputs: state.outputs)
                guard let copy = try await destination.load(), copy == state else {
                    throw CLIError("the copy at \(destination.path) does not read back as written: \(source.path) kept")
                }
                try await source.remove()
                Console.out("Moved the state of stack '\(state.config.stackName)' (\(state.resources.count) resources) from \(source.path) to \(destination.path).")
                Console.out("From now on pass --state \(destination.path) to every command (or set SECURE_API_STATE=\(destination.path) in .env): without it, create would start a new stack.")
            }
        }
    }
}
