import AWSClient
import Dispatch
import Foundation
import Services

/// What the executor reports as it goes; the CLI turns these into lines or JSON.
public enum StackEvent: Sendable {
    case created(label: String, record: ResourceRecord, seconds: Double, adopted: Bool)
    case updated(label: String, record: ResourceRecord, changes: [AttributeChange], seconds: Double)
    case replaced(label: String, record: ResourceRecord, changes: [AttributeChange], seconds: Double)
    case note(String)
    case deleted(label: String, record: ResourceRecord, seconds: Double, alreadyGone: Bool)
    case deleteFailed(label: String, record: ResourceRecord, error: String)
    case verifiedGone(label: String, record: ResourceRecord)
    case remains(label: String, record: ResourceRecord)
    /// Left alone: not provably ours. `kept`: still listed in state.json (our resource with a
    /// changed tag) rather than dropped (ours is gone and someone else's has its name).
    case notOurs(label: String, record: ResourceRecord, reason: String, kept: Bool)
}

extension StackError {
    var isStateIO: Bool { if case .stateIO = self { return true } else { return false } }
}

/// The journal of a run: state in memory, saved atomically after every change.
actor Journal {
    private(set) var state: StackState
    let file: any StateStore

    /// The write in progress: each write waits for the one before, so a slow store (S3) gets
    /// them in the journal's order even though the actor takes other calls meanwhile.
    private var lastWrite: Task<Void, Error>?

    init(state: StackState, file: any StateStore) {
        self.state = state
        self.file = file
    }

    func save() async throws {
        let snapshot = state, previous = lastWrite, store = file
        let write = Task {
            _ = await previous?.result
            try await store.save(snapshot, outputs: snapshot.outputs)
        }
        lastWrite = write
        try await write.value
    }

    /// The current records by key (deposed ones are not current).
    func records() -> [NodeKey: ResourceRecord] { state.currentRecords }

    func index(_ key: NodeKey) -> Int? { state.resources.firstIndex { $0.key == key && $0.status != .deposed } }

    /// Write-ahead: the entry exists (pending) before the call that creates the resource. A
    /// record of one that is gone becomes pending again.
    func markPending(key: NodeKey, type: String, name: String?) async throws {
        let now = String(Int(Date().timeIntervalSince1970))
        if let i = index(key) {
            if state.resources[i].status == .created {
                state.resources[i] = ResourceRecord(key: key, type: type, status: .pending, name: name ?? state.resources[i].name)
            }
            state.resources[i].name = name ?? state.resources[i].name
            state.resources[i].requestedAt = now
        } else {
            state.resources.append(ResourceRecord(key: key, type: type, status: .pending, name: name, requestedAt: now))
        }
        try await save()
    }

    func markCreated(_ record: ResourceRecord) async throws {
        var r = record
        r.status = .created
        r.createdAt = r.createdAt ?? ISO8601DateFormatter().string(from: Date())
        if let i = index(record.key) { state.resources[i] = r } else { state.resources.append(r) }
        try await save()
    }

    /// Removes a record: the current one of its key, or the deposed one with its ID. Nothing
    /// to remove writes nothing.
    func remove(_ record: ResourceRecord) async throws {
        let before = state.resources.count
        if record.status == .deposed {
            // IDs of children are names inside their parent: the parent tells two apart.
            state.resources.removeAll { $0.key == record.key && $0.status == .deposed && $0.id == record.id && $0.parentId == record.parentId }
        } else if let i = index(record.key) {
            state.resources.remove(at: i)
        }
        if state.resources.count != before { try await save() }
    }

    /// The account STS named, once a first create learns it.
    func setAccount(_ account: String) async throws {
        state.target.account = account
        try await save()
    }

    /// Write-ahead for a replacement: the old record is kept, marked deposed, before the new
    /// one is made, so a crash in between still knows to delete it.
    func depose(key: NodeKey) async throws {
        guard let i = index(key) else { return }
        state.resources[i].status = .deposed
        try await save()
    }
}

/// Walks a stack graph: create (concurrent, bounded, resumable), delete (journal reversed),
/// status (exists / missing / pending).
public struct StackExecutor: Sendable {
    public let graph: StackGraph
    public let services: StackServices
    public let maxConcurrency: Int
    /// How long after sending a create AWS may still make the resource (see `inFlightWindow`).
    public let inFlightWindowSeconds: Double
    /// Set from outside to stop gracefully: no new resource is started.
    public let stop: StopSignal
    public let events: @Sendable (StackEvent) -> Void
    /// The kind of a record this graph may lack (another --auth's, a deposed one): any of the
    /// product's graphs; tests pass their fake kinds.
    let kindOf: @Sendable (ResourceRecord) -> (any StackResource)?

    /// How long AWS may take to finish a create it has received. A killed run's create can still
    /// land at AWS that long after it was sent (the client's HTTP timeout does not bound it: AWS
    /// goes on without the client), so for kinds AWS does not deduplicate by name a resume looks
    /// at once, looks again when this window has passed, and only then creates.
    public static let inFlightWindow: Double = 10

    public init(graph: StackGraph, services: StackServices, maxConcurrency: Int = 4,
                inFlightWindowSeconds: Double = StackExecutor.inFlightWindow, stop: StopSignal = StopSignal(),
                events: @escaping @Sendable (StackEvent) -> Void) {
        self.init(graph: graph, services: services, maxConcurrency: maxConcurrency, inFlightWindowSeconds: inFlightWindowSeconds,
                  stop: stop, kindOf: { StackGraph.kind(for: $0) }, events: events)
    }

    init(graph: StackGraph, services: StackServices, maxConcurrency: Int, inFlightWindowSeconds: Double, stop: StopSignal = StopSignal(),
         kindOf: @escaping @Sendable (ResourceRecord) -> (any StackResource)?, events: @escaping @Sendable (StackEvent) -> Void) {
        self.graph = graph
        self.services = services
        self.maxConcurrency = max(1, maxConcurrency)
        self.inFlightWindowSeconds = inFlightWindowSeconds
        self.stop = stop
        self.kindOf = kindOf
        self.events = events
    }

    /// Finds what an interrupted run's create made. Kinds AWS deduplicates by name need one
    /// look (a racing create fails and adopts); the others are looked for again once the
    /// in-flight window since the request was sent has passed, so a create AWS was still
    /// finishing is adopted, not made twice.
    func findInterrupted(_ node: any StackResource, _ ctx: ResourceContext, _ pending: ResourceRecord,
                         find: (ResourceRecord) async throws -> ResourceRecord?) async throws -> ResourceRecord? {
        if let found = try await find(pending) { return found }
        guard !node.uniqueName, let sent = pending.requestedAt.flatMap(Double.init), sent.isFinite else { return nil }
        // requested_at is whole seconds (+1 so truncation never shortens the window); clamped so a
        // timestamp from the future (clock skew, a hand edit) never means a long sleep.
        let remaining = min(sent + 1 + inFlightWindowSeconds - Date().timeIntervalSince1970, inFlightWindowSeconds)
        guard remaining > 0 else { return nil }
        events(.note("\(node.label): not there yet; the interrupted run's create may still be finishing at AWS: looking again in \(Int(remaining.rounded(.up))) s"))
        try await stop.pause(remaining)
        return try await find(pending)
    }

    func context(_ state: StackState, _ records: [NodeKey: ResourceRecord], password: String?, journal: Journal?, key: NodeKey) -> ResourceContext {
        let type = graph.node(key)?.type ?? ""
        var ctx = ResourceContext(services: services, config: state.config, target: state.target, stackId: state.stackId,
                                  records: records, password: password, note: { [events] in events(.note($0)) },
                                  renamePending: { name in try await journal?.markPending(key: key, type: type, name: name) })
        ctx.excluded = Set(state.resources.filter { $0.key == key && $0.status == .deposed }.compactMap(\.id))
        ctx.stop = stop
        return ctx
    }

    // MARK: - create

    public struct CreateSummary: Sendable {
        public var created = 0
        public var adopted = 0
        public var updated = 0
        public var replaced = 0
        public var deleted = 0
        /// Leftovers not deleted because they are not provably ours.
        public var notOurs: [ResourceRecord] = []
        public var alreadyComplete = false
        public var state: StackState
        /// Stopped by `stop` before the stack was complete.
        public var interrupted = false
        /// Resources done (this run or before) and the stack's total.
        public var done = 0
        public var total = 0
    }

    public func isComplete(_ state: StackState) -> Bool {
        graph.nodes.allSatisfy { state.record($0.key)?.status == .created }
    }

    /// Converges: creates what is missing, updates in place, replaces, then deletes what the
    /// configuration dropped and what replacements deposed, all journalled write-ahead.
    /// `live` is a refresh of `initial` (the caller has checked its plan).
    /// The account lookup's entry among the calls in flight (no node has this key).
    static let accountLookup = "(sts)"

    /// What a child task of `create` finished: a node, or the account lookup.
    private enum Finished: Sendable {
        case node(NodeKey, Result<(ResourceRecord, Double, Outcome), Error>)
        case account(Result<String, Error>)
    }

    /// `account`: on a first create, the caller's STS lookup, still running. Nodes without
    /// dependencies start beside it (nothing they send names the account); the others wait
    /// for it, and it is journalled as soon as it is known. Its failure stops the run.
    public func create(state initial: StackState, live: [String: LiveState], file: any StateStore, password: String?,
                       account: Task<String, Error>? = nil) async throws -> CreateSummary {
        let journal = Journal(state: initial, file: file)
        try await journal.save()
        var done = Set<NodeKey>()
        var running = Set<NodeKey>()
        var firstError: Error?
        var accountKnown = account == nil
        var summary = CreateSummary(state: initial)
        let launchOrder = graph.criticalFirst()

        try await withThrowingTaskGroup(of: Finished.self) { group in
            if let account {
                // In flight like a node: a first Ctrl-C waits for it (bounded, counted down).
                stop.begin(Self.accountLookup, "account lookup (STS)")
                group.addTask { .account(await account.result) }
            }
            func launchReady() async {
                for node in launchOrder where firstError == nil && !stop.isRequested && running.count < maxConcurrency {
                    guard !done.contains(node.key), !running.contains(node.key), node.dependencies.allSatisfy(done.contains),
                          accountKnown || node.dependencies.isEmpty else { continue }
                    running.insert(node.key)
                    stop.begin(node.key.rawValue, node.label)
                    let state = await journal.state
                    let current = state.record(node.key).flatMap { live[$0.ref] }
                    group.addTask {
                        let started = DispatchTime.now().uptimeNanoseconds
                        do {
                            let (record, outcome) = try await convergeOne(node, state: state, live: current, password: password, journal: journal)
                            return .node(node.key, .success((record, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, outcome)))
                        } catch {
                            return .node(node.key, .failure(error))
                        }
                    }
                }
            }
            await launchReady()
            while let finished = try await group.next() {
                let key: NodeKey, result: Result<(ResourceRecord, Double, Outcome), Error>
                if case .account = finished { stop.end(Self.accountLookup) }
                switch finished {
                case .account(.success(let id)):
                    do { try await journal.setAccount(id); accountKnown = true } catch { firstError = firstError ?? error }
                    await launchReady()
                    continue
                case .account(.failure(let error)):
                    firstError = error  // the reason the creates beside it failed too, if they did
                    continue
                case .node(let k, let r):
                    (key, result) = (k, r)
                }
                running.remove(key)
                stop.end(key.rawValue)
                let label = graph.node(key)?.label ?? key.rawValue
                switch result {
                case .success(let (record, seconds, outcome)):
                    done.insert(key)
                    switch outcome {
                    case .created: summary.created += 1; events(.created(label: label, record: record, seconds: seconds, adopted: false))
                    case .adopted: summary.adopted += 1; events(.created(label: label, record: record, seconds: seconds, adopted: true))
                    case .updated(let c): summary.updated += 1; events(.updated(label: label, record: record, changes: c, seconds: seconds))
                    case .replaced(let c): summary.replaced += 1; events(.replaced(label: label, record: record, changes: c, seconds: seconds))
                    case .unchanged: break
                    }
                case .failure(let error):
                    if firstError == nil, !(error is StoppedWaiting) { firstError = error }
                }
                await launchReady()
            }
        }
        if let firstError { throw firstError }
        summary.total = graph.nodes.count
        summary.done = done.count
        if done.count < graph.nodes.count {
            summary.interrupted = true
            summary.state = await journal.state
            return summary
        }
        let deleted: Int, notOurs: [ResourceRecord]
        do { (deleted, notOurs) = try await deleteLeftovers(journal: journal) } catch is StoppedWaiting {
            summary.interrupted = true
            summary.state = await journal.state
            return summary
        }
        summary.deleted = deleted
        summary.notOurs = notOurs
        summary.state = await journal.state
        return summary
    }

    /// One node: adopt a pending leftover if it exists, else journal pending and create.
    /// A create whose answer was lost (connection broke after sending) is looked up before
    /// it is tried again, so it never makes a second resource.
    func createOne(_ node: any StackResource, state: StackState, records: [NodeKey: ResourceRecord], password: String?,
                   journal: Journal) async throws -> (ResourceRecord, Bool) {
        var ctx = context(state, records, password: password, journal: journal, key: node.key)
        // A replacement's old resource (deposed) may share the name: never adopt it as the new one.
        let deposed = Set(await journal.state.resources.filter { $0.key == node.key && $0.status == .deposed }.compactMap(\.id))
        ctx.excluded = deposed
        func find(_ pending: ResourceRecord) async throws -> ResourceRecord? {
            guard let found = try await node.find(ctx, pending: pending), !deposed.contains(found.id ?? "") else { return nil }
            return found
        }
        /// Takes over what exists (finishing what an interrupted create left undone).
        func adopt(_ found: ResourceRecord) async throws -> (ResourceRecord, Bool) {
            try await node.finishAdoption(found, ctx)
            try await journal.markCreated(found)
            return (found, true)
        }
        func failed(_ underlying: String) -> StackError {
            StackError.createFailed(resource: "\(node.label) \(node.pendingName(state.config) ?? "")", underlying: underlying)
        }
        if let pending = records[node.key], pending.status == .pending {
            if let found = try await findInterrupted(node, ctx, pending, find: find) { return try await adopt(found) }
        } else {
            try await journal.markPending(key: node.key, type: node.type, name: node.pendingName(state.config))
        }
        // A create of a new node that made nothing (every attempt refused by AWS, or never
        // connected) leaves no record: a first create against a wrong endpoint or with refused
        // credentials leaves no state behind (the run deletes an empty one).
        var mayHaveSent = false
        func forgetIfNeverSent(_ error: Error) async {
            guard !mayHaveSent, node.createIsOneCall, Self.madeNothing(error), records[node.key] == nil else { return }
            try? await journal.remove(ResourceRecord(key: node.key, type: node.type, status: .pending))
        }
        // Each attempt whose outcome stayed unknown is looked up before the next, so the next
        // never makes a second resource.
        let attempts = Retrying(.attempts(Self.createAttempts), delay: { 0.2 * Double($0) }, stop: stop)
        return try await attempts.run { attempt in
            do {
                // Each attempt is journalled with its send time, so a resume after a kill
                // during this very attempt waits it out too.
                if attempt.number > 1 {
                    try await journal.markPending(key: node.key, type: node.type, name: await journal.records()[node.key]?.name ?? node.pendingName(state.config))
                } else if records[node.key]?.status == .pending {
                    // The killed run's resource was not found: this attempt makes today's.
                    try await journal.markPending(key: node.key, type: node.type, name: node.pendingName(state.config))
                }
                var record = try await node.create(ctx)
                record.applied = try? node.desired(ctx)
                try await journal.markCreated(record)
                return .done((record, false))
            } catch let e as AWSServiceError where node.isAlreadyExists(e) {
                // One with our unique name exists: an earlier attempt of ours whose answer was
                // lost, or a replacement's deposed old one wanted again (a change undone): adopted,
                // then converged like any adopted resource. Someone else's: `find` refuses it,
                // naming the flag to change.
                let pending = await journal.records()[node.key] ?? ResourceRecord(key: node.key, type: node.type, status: .pending,
                                                                                     name: node.pendingName(state.config))
                var unfiltered = ctx
                unfiltered.excluded = []
                let found: ResourceRecord?
                do { found = try await node.find(unfiltered, pending: pending) } catch let refusal as StackError {
                    await forgetIfNeverSent(e)  // someone else's: this create made nothing
                    throw refusal
                } catch {
                    throw failed("it exists, and looking it up failed: \(error)")
                }
                guard let found else {
                    await forgetIfNeverSent(e)
                    throw failed("\(e)")
                }
                // Another node of this stack holds it (two settings naming one resource): never
                // two records for one resource, or deleting one node would delete the other's.
                if let holder = await journal.state.resources.first(where: {
                    $0.key != node.key && $0.type == found.type && $0.id == found.id && $0.parentId == found.parentId && $0.status != .deposed
                }) {
                    throw StackError.foreignResource("\(node.label) \(found.id ?? ""): already this stack's \(holder.key); give it another name")
                }
                var wanted = found
                wanted.status = .deposed
                try await journal.remove(wanted)  // a deposed one wanted again is current
                return .done(try await adopt(found))
            } catch where Self.outcomeUnknown(error) && !Self.neverSent(error) {
                // (A call that never connected was retried by the client already, and needs no look.)
                // Look before trying again: the attempt may have created it. After a timeout the
                // request may even still be running at AWS, so for kinds AWS does not
                // deduplicate by name keep looking for the in-flight window before re-creating.
                mayHaveSent = true
                let pending = await journal.records()[node.key] ?? ResourceRecord(key: node.key, type: node.type, status: .pending)
                events(.note("\(node.label): \(error); checking whether it was created"))
                let patience = Self.isTimeout(error) && !node.uniqueName ? inFlightWindowSeconds : 0
                let looks = Retrying(.seconds(patience), delay: Retrying.doubling(from: 0.5, upTo: 5), stop: stop)
                let found = try await looks.run { _ -> Retrying.Step<ResourceRecord?> in
                    if let found = try await find(pending) { return .done(found) }
                    return .again(last: .success(nil))
                }
                if let found { return .done(try await adopt(found)) }
                return .again(throwing: failed("\(error)"))
            } catch where error is StackError || error is StoppedWaiting {
                throw error
            } catch {
                await forgetIfNeverSent(error)
                throw failed("\(error)")
            }
        }
    }

    /// The request never left this machine: the host was not found or refused the connection.
    static func neverSent(_ error: Error) -> Bool {
        if let e = error as? AWSClientError, case .transport(_, _, .connectFailed, _) = e { return true }
        return false
    }

    /// A one-call create that failed so made nothing: never sent, or refused by AWS with an
    /// answer (a 4xx that is no throttle: bad credentials, invalid input, a limit).
    static func madeNothing(_ error: Error) -> Bool {
        if neverSent(error) { return true }
        guard let e = error as? AWSServiceError else { return false }
        return (400..<500).contains(e.httpStatus) && !outcomeUnknown(e)
    }

    /// Tries of one create whose outcome stayed unknown (each after a lookup found nothing).
    static let createAttempts = 5

    static func isTimeout(_ error: Error) -> Bool {
        if let e = error as? AWSClientError, case .transport(_, _, .timeout, _) = e { return true }
        return false
    }

    /// The request may or may not have taken effect: the connection broke after sending, the
    /// answer was unreadable, or the service failed with a 5xx (AWS may have done the work).
    static func outcomeUnknown(_ error: Error) -> Bool {
        if let e = error as? AWSServiceError { return e.isTransient }
        guard let error = error as? AWSClientError else { return false }
        if case .transport(_, _, let t, _) = error {
            switch t {
            case .connection, .timeout, .connectFailed: return true
            default: return false
            }
        }
        if case .malformedResponse = error { return true }
        return false
    }

    // MARK: - delete

    public struct DeleteSummary: Sendable {
        public var deleted: Int
        public var remaining: [ResourceRecord]
        /// Left alone because they are not provably ours (the run must fail and say so).
        public var notOurs: [ResourceRecord]
        /// Stopped by `stop`: state.json keeps what is left.
        public var interrupted = false
        public var total = 0
    }

    /// Deletes every record, concurrently (at most `maxConcurrency` at once) in reverse
    /// dependency order: a resource goes once everything that depends on it has gone. Then
    /// verifies what failed (a child may have gone with its parent).
    public func delete(state initial: StackState, file: any StateStore) async throws -> DeleteSummary {
        let journal = Journal(state: initial, file: file)
        var failed: [ResourceRecord] = []
        var remaining: [ResourceRecord] = []
        var notOurs: [ResourceRecord] = []
        var deleted = 0
        // One concurrent round of reads first: nothing is deleted unless it is provably ours.
        let roots = await ownershipOfRoots(initial)
        let records = initial.resources
        let kinds = records.map { graph.node($0.key) ?? kindOf($0) }
        // blockers[i]: the records that depend on record i (they must go first).
        let blockers: [Set<Int>] = records.indices.map { i in
            Set(records.indices.filter { j in j != i && (kinds[j]?.dependencies.contains(records[i].key) ?? false) })
        }
        // The longest chain of records each one's deletion unblocks (what it depends on, and so
        // on): started first, a bounded run never makes that chain wait.
        var depth = [Int](repeating: 0, count: records.count)
        for _ in records.indices {
            for i in records.indices {
                let below = records.indices.filter { j in j != i && (kinds[i]?.dependencies.contains(records[j].key) ?? false) }
                depth[i] = 1 + (below.map { depth[$0] }.max() ?? 0)
            }
        }
        let launchOrder = records.indices.reversed().sorted { depth[$0] > depth[$1] }
        var finished = Set<Int>()
        var started = Set<Int>()
        var interrupted = false
        try await withThrowingTaskGroup(of: (Int, DeleteOutcome).self) { group in
            func launchReady() {
                for i in launchOrder where !stop.isRequested && started.count - finished.count < maxConcurrency {
                    guard !started.contains(i), blockers[i].isSubset(of: finished) else { continue }
                    started.insert(i)
                    group.addTask { (i, try await deleteOne(records[i], kind: kinds[i], roots: roots, journal: journal)) }
                }
            }
            launchReady()
            while let (i, outcome) = try await group.next() {
                finished.insert(i)
                switch outcome {
                case .deleted, .gone: deleted += 1  // both leave state.json
                case .replaced(let r): notOurs.append(r)
                case .unproven(let r): notOurs.append(r); remaining.append(r)
                case .failed(let r): failed.append(r)
                case .stopped: interrupted = true
                }
                launchReady()
            }
        }
        if interrupted || started.count < records.count {
            return DeleteSummary(deleted: deleted, remaining: await journal.state.resources, notOurs: notOurs, interrupted: true,
                                 total: records.count)
        }
        // Verify what a failed step left: a child may have gone with its parent. Only "gone"
        // clears a record; anything else stays in state.json.
        for record in failed {
            guard let node = graph.node(record.key) ?? kindOf(record) else { remaining.append(record); continue }
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
            let gone: Bool
            do { gone = try await node.ownership(record, ctx) == .gone } catch { gone = false }
            if gone {
                try await journal.remove(record)
                events(.verifiedGone(label: node.label, record: record))
            } else {
                remaining.append(record)
                events(.remains(label: node.label, record: record))
            }
        }
        if remaining.isEmpty { try await file.remove() }
        return DeleteSummary(deleted: deleted, remaining: remaining, notOurs: notOurs, total: records.count)
    }

    enum DeleteOutcome: Sendable {
        case deleted, gone, stopped
        case replaced(ResourceRecord), unproven(ResourceRecord), failed(ResourceRecord)
    }

    /// One record: a pending one is looked for first; a created one is deleted only when its
    /// ownership (or its owner's) says it is ours.
    func deleteOne(_ original: ResourceRecord, kind: (any StackResource)?, roots: [String: Result<Ownership, Error>],
                   journal: Journal) async throws -> DeleteOutcome {
        var record = original
        guard let node = kind else {
            events(.deleteFailed(label: record.type, record: record, error: "unknown resource kind in state.json; delete it by hand"))
            return .failed(record)
        }
        let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
        let started = DispatchTime.now().uptimeNanoseconds
        stop.begin(record.ref, node.label)
        defer { stop.end(record.ref) }
        do {
            if record.status == .pending {
                // Created by a crashed run, perhaps: find it to delete it, else nothing to do.
                // One with our name but not our tag is someone else's: left alone.
                let found: ResourceRecord?
                do { found = try await findInterrupted(node, ctx, record, find: { try await node.find(ctx, pending: $0) }) }
                catch StackError.foreignResource(let m) {
                    try await journal.remove(original)
                    events(.note("\(m): left alone"))
                    return .gone
                }
                guard let found else {
                    try await journal.remove(original)
                    events(.deleted(label: node.label, record: record, seconds: 0, alreadyGone: true))
                    return .gone
                }
                record = found
            } else {
                switch try await verdict(node, record, roots: roots, in: await journal.state.resources, ctx) {
                case .ours:
                    break
                case .gone:
                    try await journal.remove(original)
                    events(.deleted(label: node.label, record: record, seconds: 0, alreadyGone: true))
                    return .gone
                case .replaced(let reason):
                    try await journal.remove(original)
                    events(.notOurs(label: node.label, record: record, reason: reason, kept: false))
                    return .replaced(record)
                case .unproven(let reason):
                    events(.notOurs(label: node.label, record: record, reason: reason, kept: true))
                    return .unproven(record)
                }
            }
            var alreadyGone = false
            do { try await node.delete(record, ctx) } catch where node.isNotFound(error) { alreadyGone = true }
            try await journal.remove(original)
            events(.deleted(label: node.label, record: record,
                            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, alreadyGone: alreadyGone))
            return .deleted
        } catch let e as StackError where e.isStateIO {
            throw e  // cannot record progress: stop, the journal on disk is intact
        } catch is StoppedWaiting {
            return .stopped  // the pending entry stays for the next run
        } catch {
            events(.deleteFailed(label: node.label, record: record, error: "\(error)"))
            return .failed(record)
        }
    }

    // MARK: - ownership

    /// Reads, concurrently, every created resource that proves its own ownership (pool, API,
    /// role, function, domain); the others are covered by their owner's verdict.
    func ownershipOfRoots(_ state: StackState) async -> [String: Result<Ownership, Error>] {
        let records = state.currentRecords
        return await withTaskGroup(of: (String, Result<Ownership, Error>).self) { group in
            for record in state.resources where record.status != .pending {
                guard let node = graph.node(record.key) ?? kindOf(record), node.ownerKey == nil else { continue }
                let ctx = context(state, records, password: nil, journal: nil, key: record.key)
                group.addTask {
                    do { return (record.ref, .success(try await node.ownership(record, ctx))) } catch { return (record.ref, .failure(error)) }
                }
            }
            var result: [String: Result<Ownership, Error>] = [:]
            for await (key, verdict) in group { result[key] = verdict }
            return result
        }
    }

    /// The record a child lives in, followed up to the root that proves ownership: at each step
    /// the owner whose ID is the child's parent_id (so a deposed child of a replaced pool, or a
    /// dropped one, is judged by the owner it really lives in), else the owner key's current one.
    func rootOwner(of record: ResourceRecord, _ node: any StackResource, in records: [ResourceRecord]) -> (ResourceRecord, String)? {
        var child = record, kind = node, root: (ResourceRecord, String)?
        while let key = kind.ownerKey {
            let candidates = records.filter { $0.key == key && $0.status != .pending }
            // A parent_id naming an owner no longer listed has no owner here (not the current one).
            let named = child.parentId.map { id in candidates.first { $0.id == id } }
            guard let owner = named ?? candidates.first(where: { $0.status == .created }),
                  let ownerKind = graph.node(key) ?? kindOf(owner) else { return nil }
            root = (owner, ownerKind.label)
            (child, kind) = (owner, ownerKind)
        }
        return root
    }

    /// Whether a created resource is ours: its own read for a root, else its owner's verdict
    /// (read again only where the owner is ours, or gone but the kind can outlive it).
    func verdict(_ node: any StackResource, _ record: ResourceRecord, roots: [String: Result<Ownership, Error>],
                 in records: [ResourceRecord], _ ctx: ResourceContext) async throws -> Ownership {
        guard node.ownerKey != nil else {
            guard let root = roots[record.ref] else { return try await node.ownership(record, ctx) }
            return try root.get()
        }
        guard let (root, ownerLabel) = rootOwner(of: record, node, in: records), let owner = roots[root.ref] else {
            // Its owner is no longer listed (a failed earlier teardown): only "gone" is certain.
            let own = try await node.ownership(record, ctx)
            return own == .gone ? .gone : .unproven("its owner is no longer in state.json")
        }
        switch try owner.get() {
        case .ours: return .ours
        case .gone: return node.goneWithOwner ? .gone : .ours
        case .replaced(let m): return .replaced("its \(ownerLabel) is not ours: \(m)")
        case .unproven(let m): return .unproven("its \(ownerLabel) is not provably ours: \(m)")
        }
    }

    // MARK: - status

    public enum ResourceStatus: String, Sendable {
        case exists, missing, pending, notCreated = "not created", notYet = "not yet created (made by AWS on first use)"
        case notOurs = "NOT OURS (left alone)"
    }

    public struct StatusLine: Sendable {
        public var node: any StackResource
        public var record: ResourceRecord?
        public var status: ResourceStatus
        /// Why it is not ours.
        public var detail: String?
    }

    /// Every node's live status; "exists" only for what is provably ours.
    public func status(state: StackState) async throws -> [StatusLine] {
        let records = state.currentRecords
        let roots = await ownershipOfRoots(state)
        return try await withThrowingTaskGroup(of: (Int, StatusLine).self) { group in
            for (index, node) in graph.nodes.enumerated() {
                guard let record = records[node.key] else { group.addTask { (index, StatusLine(node: node, record: nil, status: .notCreated)) }; continue }
                if record.status == .pending { group.addTask { (index, StatusLine(node: node, record: record, status: .pending)) }; continue }
                let ctx = context(state, records, password: nil, journal: nil, key: node.key)
                group.addTask {
                    var verdict = try await verdict(node, record, roots: roots, in: state.resources, ctx)
                    if verdict == .ours, node.ownerKey != nil { verdict = try await node.ownership(record, ctx) }
                    switch verdict {
                    case .ours: return (index, StatusLine(node: node, record: record, status: .exists))
                    case .gone: return (index, StatusLine(node: node, record: record, status: node.createdOnDemand ? .notYet : .missing))
                    case .replaced(let m), .unproven(let m): return (index, StatusLine(node: node, record: record, status: .notOurs, detail: m))
                    }
                }
            }
            var lines: [(Int, StatusLine)] = []
            for try await line in group { lines.append(line) }
            return lines.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
