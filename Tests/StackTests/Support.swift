import Foundation
@testable import AWSClient
@testable import Stack
import Services

/// Test keys are written as plain strings ("a", "b", ...).
extension NodeKey: ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

/// A simulated SIGKILL: once thrown, nothing more reaches the cloud or the state store.
struct Crash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

/// An in-memory cloud behind the fake kinds: records every call (its order on a logical clock,
/// which unlike wall time never ties, and how many were in flight), holds the resources, and can crash at its Nth call, before or after the call took
/// effect (the answer lost on the way back).
final class FakeCloud: @unchecked Sendable {
    // @unchecked: every mutable field is read and written under `lock`.
    struct Object: Sendable, Equatable {
        var id: String
        var key: String
        var name: String
        var stackId: String
        var attributes: Attributes
        /// What a read says instead of judging the stack tag (someone else's, a changed tag).
        var ownership: Ownership?
    }

    struct Call: Sendable {
        var n: Int
        var op: String
        var key: String
        var id: String?
        /// Ticks of one clock shared by all calls: a call that starts after another's end
        /// has a larger `start` than that `end`.
        var start: Int
        var end: Int
        /// Calls in flight when this one started, itself included.
        var concurrency: Int
    }

    /// Where call k goes wrong: the process dies before it took effect, or after (its answer
    /// lost); `fails`: refused with an error, nothing done, the process lives on; `transient`:
    /// done, but answered with a 500 (the executor cannot know it was done).
    enum CrashPoint: Sendable { case before, after, fails, transient }

    private let lock = NSLock()
    private var objectList: [Object] = []
    private var callList: [Call] = []
    private var tick = 0
    private var count = 0
    private var inFlight = 0
    private var nextId = 0
    private var isDead = false
    private var crashAt: (n: Int, point: CrashPoint)?
    private let latency: UInt64

    init(latencyMs: UInt64 = 0) { latency = latencyMs * 1_000_000 }

    var objects: [Object] { lock.withLock { objectList } }
    var calls: [Call] { lock.withLock { callList } }
    var dead: Bool { lock.withLock { isDead } }

    /// The `n`th call from now goes wrong.
    func crash(atCall n: Int, _ point: CrashPoint) { lock.withLock { crashAt = (count + n, point) } }
    /// The process died: nothing more is sent.
    func kill() { lock.withLock { isDead = true } }
    /// A new process: calls go through again, the call log starts afresh.
    func restart() {
        lock.withLock {
            isDead = false
            crashAt = nil
            callList = []
        }
    }

    /// Drift made behind the stack's back.
    func edit(_ id: String, _ change: (inout Object) -> Void) {
        lock.withLock { if let i = objectList.firstIndex(where: { $0.id == id }) { change(&objectList[i]) } }
    }

    func put(_ object: Object) { lock.withLock { objectList.append(object) } }

    /// STS's GetCallerIdentity as a call on this cloud's clock (`nil`: it fails).
    func lookUpAccount(_ account: String?) async throws -> String {
        try await call("sts", "account", nil) {
            guard let account else { throw Self.error("ExpiredToken", 403, "the security token included in the request is expired") }
            return account
        }
    }

    private func call<T>(_ op: String, _ key: String, _ id: String?, _ effect: () throws -> T) async throws -> T {
        let (n, start, level): (Int, Int, Int) = try lock.withLock {
            if isDead { throw Crash() }
            count += 1
            tick += 1
            inFlight += 1
            return (count, tick, inFlight)
        }
        if latency > 0 { try? await Task.sleep(nanoseconds: latency) } else { await Task.yield() }
        return try lock.withLock {
            inFlight -= 1
            tick += 1
            callList.append(Call(n: n, op: op, key: key, id: id, start: start, end: tick, concurrency: level))
            if isDead { throw Crash() }
            let point = crashAt?.n == n ? crashAt?.point : nil
            switch point {
            case .before: isDead = true; throw Crash()
            case .fails: throw Self.error("ValidationException", 400, "injected failure")
            default: break
            }
            let result = try effect()
            switch point {
            case .after: isDead = true; throw Crash()
            case .transient: throw Self.error("InternalFailure", 500, "injected failure after the work was done")
            default: return result
            }
        }
    }

    static func error(_ code: String, _ status: Int, _ message: String) -> AWSServiceError {
        AWSServiceError(service: "fake", operation: "Fake", code: code, message: message, httpStatus: status, requestId: nil)
    }

    /// UNIQUE: names are unique per key, as AWS's are for roles and functions (a second is refused).
    func create(key: String, name: String, stackId: String, attributes: Attributes, unique: Bool = false) async throws -> String {
        try await call("create", key, nil) {
            if unique, objectList.contains(where: { $0.key == key && $0.name == name }) {
                throw Self.error("AlreadyExists", 409, "\(key) \(name) already exists")
            }
            nextId += 1
            let id = "\(key)-\(nextId)"
            objectList.append(Object(id: id, key: key, name: name, stackId: stackId, attributes: attributes))
            return id
        }
    }

    /// The first of ours with the name, in creation order (as AWS's list calls answer), passing
    /// over `excluded` as the product's kinds do.
    func find(key: String, name: String, stackId: String, excluded: Set<String>) async throws -> Object? {
        try await call("find", key, nil) {
            objectList.first { $0.key == key && $0.name == name && $0.stackId == stackId && !excluded.contains($0.id) }
        }
    }

    func read(key: String, id: String) async throws -> Object? {
        try await call("read", key, id) { objectList.first { $0.id == id } }
    }

    func update(key: String, id: String, _ attributes: Attributes) async throws {
        try await call("update", key, id) {
            guard let i = objectList.firstIndex(where: { $0.id == id }) else { throw Self.error("ResourceNotFoundException", 404, "\(id) not found") }
            objectList[i].attributes.merge(attributes) { _, new in new }
        }
    }

    /// Refuses while another resource still refers to it (a route to its integration).
    func delete(key: String, id: String) async throws {
        try await call("delete", key, id) {
            guard let i = objectList.firstIndex(where: { $0.id == id }) else { throw Self.error("ResourceNotFoundException", 404, "\(id) not found") }
            if let user = objectList.first(where: { $0.attributes.values.contains(id) }) {
                throw Self.error("ConflictException", 409, "\(id) is still used by \(user.id)")
            }
            objectList.remove(at: i)
        }
    }
}

/// The journal's store in memory: every saved state in order; a crash at the Nth save (the
/// save throws and the whole process is gone, the cloud too).
final class MemoryStore: StateStore, @unchecked Sendable {
    // @unchecked: mutable fields only under `lock`.
    private let lock = NSLock()
    private var saveList: [StackState] = []
    private var wasRemoved = false
    private var crashAtSave: Int?
    let cloud: FakeCloud

    init(cloud: FakeCloud) { self.cloud = cloud }

    var saves: [StackState] { lock.withLock { saveList } }
    var last: StackState? { saves.last }
    var removed: Bool { lock.withLock { wasRemoved } }

    /// The `n`th save from now crashes the process instead of writing.
    func crash(atSave n: Int) { lock.withLock { crashAtSave = saveList.count + n } }

    func save(_ state: StackState, outputs: [String: String]) throws {
        if cloud.dead { throw Crash() }
        try lock.withLock {
            if crashAtSave == saveList.count + 1 {
                crashAtSave = nil
                cloud.kill()
                throw Crash()
            }
            saveList.append(state)
        }
    }

    func remove() throws {
        if cloud.dead { throw Crash() }
        lock.withLock { wasRemoved = true }
    }
}

/// A resource kind whose calls go to the fake cloud. Its desired attributes are `want` plus one
/// `ref:<dependency>` per dependency holding that dependency's ID (so replacing a dependency
/// changes its dependents, and the cloud refuses to delete what is still referred to).
struct FakeKind: StackResource {
    let key: NodeKey
    var type = "fake:thing"
    var dependencies: [NodeKey] = []
    let cloud: FakeCloud
    var want: Attributes = [:]
    var specs: [AttributeSpec] = []
    /// How a dependency's new ID is applied.
    var refMode: ChangeMode = .update
    var replaceDeletesFirst = false
    var ownerKey: NodeKey? = nil
    /// Runs before the create call (a kind's own wait, such as IAM propagation).
    var beforeCreate: (@Sendable (ResourceContext) async throws -> Void)? = nil
    /// Names unique per key in the cloud; a create of a taken name is refused "already exists".
    var uniqueNames = false

    init(_ key: NodeKey, _ cloud: FakeCloud, dependencies: [NodeKey] = [], want: Attributes = [:], specs: [AttributeSpec] = [],
         refMode: ChangeMode = .update, replaceDeletesFirst: Bool = false, ownerKey: NodeKey? = nil) {
        self.key = key
        self.cloud = cloud
        self.dependencies = dependencies
        self.want = want
        self.specs = specs
        self.refMode = refMode
        self.replaceDeletesFirst = replaceDeletesFirst
        self.ownerKey = ownerKey
    }

    var label: String { "fake \(key)" }
    var name: String { want["name"] ?? key.rawValue }

    func pendingName(_ config: StackConfig) -> String? { name }
    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest] { [] }

    var schema: [AttributeSpec] { specs + dependencies.map { AttributeSpec("ref:\($0)", refMode) } }
    var uniqueName: Bool { uniqueNames }
    /// The fake cloud answers "not found" as Lambda and Cognito do.
    var notFoundCodes: Set<String> { ["ResourceNotFoundException"] }
    func isAlreadyExists(_ e: AWSServiceError) -> Bool { uniqueNames && e.code == "AlreadyExists" }

    func desired(_ ctx: ResourceContext) throws -> Attributes {
        var a = want
        for d in dependencies { a["ref:\(d)"] = try ctx.id(of: d) }
        return a
    }

    func create(_ ctx: ResourceContext) async throws -> ResourceRecord {
        try await beforeCreate?(ctx)
        let id = try await cloud.create(key: key.rawValue, name: name, stackId: ctx.stackId, attributes: try desired(ctx), unique: uniqueNames)
        return record(id: id, name: name, parentId: try ownerKey.map { try ctx.id(of: $0) })
    }

    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord? {
        if uniqueNames, let theirs = cloud.objects.first(where: { $0.key == key.rawValue && $0.name == (pending.name ?? name) && $0.stackId != ctx.stackId }) {
            // As the product's kinds do for a unique name held by someone else.
            throw StackError.foreignResource("\(label) \(theirs.name) already exists and was not created by this stack")
        }
        guard let o = try await cloud.find(key: key.rawValue, name: pending.name ?? name, stackId: ctx.stackId, excluded: ctx.excluded) else { return nil }
        return record(id: o.id, name: o.name)
    }

    func delete(_ r: ResourceRecord, _ ctx: ResourceContext) async throws {
        try await cloud.delete(key: key.rawValue, id: try r.requireId())
    }

    func read(_ r: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState {
        guard let o = try await cloud.read(key: key.rawValue, id: try r.requireId()) else { return .gone }
        return LiveState(o.ownership ?? (o.stackId == ctx.stackId ? .ours : .replaced("tagged \(o.stackId)")), o.attributes)
    }

    func update(_ r: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        guard changes.allSatisfy({ !$0.replaces }) else {
            throw StackError.invalidConfig("\(key): asked to update \(changes.map(\.name)) in place, which force a replacement")
        }
        try await cloud.update(key: key.rawValue, id: try r.requireId(), Dictionary(uniqueKeysWithValues: changes.map { ($0.name, $0.new) }))
        return r
    }
}

/// Counts calls and keeps notes across concurrent closures.
final class Counter: @unchecked Sendable {
    // @unchecked: mutable fields only under `lock`.
    private let lock = NSLock()
    private var n = 0
    private var said: [String] = []
    func next() -> Int { lock.withLock { n += 1; return n } }
    var count: Int { lock.withLock { n } }
    func note(_ s: String) { lock.withLock { said.append(s) } }
    var notes: [String] { lock.withLock { said } }
}

/// Events as the executor reported them.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [StackEvent] = []
    func add(_ e: StackEvent) { lock.withLock { list.append(e) } }
    var events: [StackEvent] { lock.withLock { list } }
}

/// One test's world: the cloud, the journal store, and executors over fake graphs.
struct Harness {
    let cloud: FakeCloud
    let store: MemoryStore
    let log = EventLog()
    /// Every kind the test uses, also those a later graph drops (found for leftover records).
    var kinds: [FakeKind]
    static let stackId = "stack-under-test"

    init(latencyMs: UInt64 = 0, kinds: (FakeCloud) -> [FakeKind]) {
        cloud = FakeCloud(latencyMs: latencyMs)
        store = MemoryStore(cloud: cloud)
        self.kinds = kinds(cloud)
    }

    func kind(_ key: NodeKey) -> FakeKind? { kinds.first { $0.key == key } }

    /// The graph of these keys, in this order (kinds as registered, or as given).
    func graph(_ keys: [NodeKey]) -> [FakeKind] { keys.compactMap(kind) }

    static func services() throws -> StackServices {
        // Never used by the fakes: a client pointed at a closed port, with static credentials.
        let env = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret", "AWS_REGION": "us-east-1",
                   "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_CONFIG_FILE": "/nonexistent/config",
                   "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials", "HOME": "/nonexistent"]
        return StackServices(client: AWSClient(config: try SessionOptions(environment: env).resolve()))
    }

    func executor(_ nodes: [FakeKind], maxConcurrency: Int = 4, stop: StopSignal = StopSignal(),
                  inFlightWindowSeconds: Double = 0) throws -> StackExecutor {
        let kinds = self.kinds
        let log = self.log
        return StackExecutor(graph: StackGraph(nodes: nodes), services: try Self.services(), maxConcurrency: maxConcurrency,
                             inFlightWindowSeconds: inFlightWindowSeconds, stop: stop, kindOf: { r in kinds.first { $0.key == r.key && $0.type == r.type } },
                             events: { log.add($0) })
    }

    static func emptyState() -> StackState {
        StackState(stackId: stackId, target: StackTarget(region: "us-east-1", account: "000000000000", endpoint: nil, endpoints: [:]),
                   config: StackConfig(domainPrefix: "fake-prefix", domainPrefixGenerated: false), resources: [])
    }

    /// What `secure-api create` does with a state: refresh, then converge.
    @discardableResult
    func converge(_ nodes: [FakeKind], from state: StackState, maxConcurrency: Int = 4,
                  stop: StopSignal = StopSignal(), inFlightWindowSeconds: Double = 0) async throws -> StackExecutor.CreateSummary {
        let exec = try executor(nodes, maxConcurrency: maxConcurrency, stop: stop, inFlightWindowSeconds: inFlightWindowSeconds)
        let live = try await exec.refresh(state)
        return try await exec.create(state: state, live: live, file: store, password: nil)
    }

    func plan(_ nodes: [FakeKind], _ state: StackState) async throws -> StackPlan {
        let exec = try executor(nodes)
        return exec.plan(state, live: try await exec.refresh(state))
    }

    /// The cloud's resources of this stack.
    var ours: [FakeCloud.Object] { cloud.objects.filter { $0.stackId == Self.stackId } }

    func calls(_ op: String, _ key: NodeKey) -> [FakeCloud.Call] { cloud.calls.filter { $0.op == op && $0.key == key.rawValue } }
}
