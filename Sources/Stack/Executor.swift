import AWSClient
import Dispatch
import Foundation
import Services

/// What the executor reports as it goes; the CLI turns these into lines or JSON.
public enum StackEvent: Sendable {
    case created(label: String, record: ResourceRecord, seconds: Double, adopted: Bool)
    case note(String)
    case deleted(label: String, record: ResourceRecord, seconds: Double, alreadyGone: Bool)
    case deleteFailed(label: String, record: ResourceRecord, error: String)
    case verifiedGone(label: String, record: ResourceRecord)
    case remains(label: String, record: ResourceRecord)
}

extension StackError {
    var isStateIO: Bool { if case .stateIO = self { return true } else { return false } }
}

/// The journal of a run: state in memory, saved atomically after every change.
actor Journal {
    private(set) var state: StackState
    let file: StateFile

    init(state: StackState, file: StateFile) {
        self.state = state
        self.file = file
    }

    func save() throws { try file.save(state, outputs: state.outputs) }

    func records() -> [String: ResourceRecord] { Dictionary(state.resources.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }) }

    /// Write-ahead: the entry exists (pending) before the call that creates the resource.
    func markPending(key: String, type: String, name: String?) throws {
        let now = String(Int(Date().timeIntervalSince1970))
        if let i = state.resources.firstIndex(where: { $0.key == key }) {
            state.resources[i].name = name ?? state.resources[i].name
            state.resources[i].requestedAt = now
        } else {
            state.resources.append(ResourceRecord(key: key, type: type, status: .pending, name: name, requestedAt: now))
        }
        try save()
    }

    func markCreated(_ record: ResourceRecord) throws {
        var r = record
        r.status = .created
        r.createdAt = r.createdAt ?? ISO8601DateFormatter().string(from: Date())
        if let i = state.resources.firstIndex(where: { $0.key == record.key }) { state.resources[i] = r } else { state.resources.append(r) }
        try save()
    }

    func remove(key: String) throws {
        state.resources.removeAll { $0.key == key }
        try save()
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

    /// How long AWS may take to finish a create it has received. A killed run's create can still
    /// land at AWS that long after it was sent (the client's HTTP timeout does not bound it: AWS
    /// goes on without the client), so for kinds AWS does not deduplicate by name a resume looks
    /// at once, looks again when this window has passed, and only then creates.
    public static let inFlightWindow: Double = 10

    public init(graph: StackGraph, services: StackServices, maxConcurrency: Int = 4,
                inFlightWindowSeconds: Double = StackExecutor.inFlightWindow, stop: StopSignal = StopSignal(),
                events: @escaping @Sendable (StackEvent) -> Void) {
        self.graph = graph
        self.services = services
        self.maxConcurrency = max(1, maxConcurrency)
        self.inFlightWindowSeconds = inFlightWindowSeconds
        self.stop = stop
        self.events = events
    }

    /// Finds what an interrupted run's create made. Kinds AWS deduplicates by name need one
    /// look (a racing create fails and adopts); the others are looked for again once the
    /// in-flight window since the request was sent has passed, so a create AWS was still
    /// finishing is adopted, not made twice.
    func findInterrupted(_ node: any StackResource, _ ctx: ResourceContext, _ pending: ResourceRecord) async throws -> ResourceRecord? {
        if let found = try await node.find(ctx, pending: pending) { return found }
        guard !node.uniqueName, let sent = pending.requestedAt.flatMap(Double.init), sent.isFinite else { return nil }
        // requested_at is whole seconds (+1 so truncation never shortens the window); clamped so a
        // timestamp from the future (clock skew, a hand edit) never means a long sleep.
        let remaining = min(sent + 1 + inFlightWindowSeconds - Date().timeIntervalSince1970, inFlightWindowSeconds)
        guard remaining > 0 else { return nil }
        events(.note("\(node.label): not there yet; the interrupted run's create may still be finishing at AWS: looking again in \(Int(remaining.rounded(.up))) s"))
        try await pause(remaining)
        return try await node.find(ctx, pending: pending)
    }

    /// Sleeps, waking early (and throwing) when a stop is requested: nothing is in flight then.
    func pause(_ seconds: Double) async throws {
        let until = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9)
        while DispatchTime.now().uptimeNanoseconds < until {
            if stop.isRequested { throw StoppedWaiting() }
            try await Task.sleep(nanoseconds: min(100_000_000, until - DispatchTime.now().uptimeNanoseconds))
        }
    }

    func context(_ state: StackState, _ records: [String: ResourceRecord], password: String?, journal: Journal?, key: String) -> ResourceContext {
        let type = graph.node(key)?.type ?? ""
        return ResourceContext(services: services, config: state.config, target: state.target, stackId: state.stackId,
                               records: records, password: password, note: { [events] in events(.note($0)) },
                               renamePending: { name in try await journal?.markPending(key: key, type: type, name: name) })
    }

    // MARK: - create

    public struct CreateSummary: Sendable {
        public var created: Int
        public var adopted: Int
        public var alreadyComplete: Bool
        public var state: StackState
        /// Stopped by `stop` before the stack was complete.
        public var interrupted = false
        /// Resources created (this run or before) and the stack's total.
        public var done = 0
        public var total = 0
    }

    public func isComplete(_ state: StackState) -> Bool {
        graph.nodes.allSatisfy { state.record($0.key)?.status == .created }
    }

    public func create(state initial: StackState, file: StateFile, password: String?) async throws -> CreateSummary {
        if isComplete(initial) {
            return CreateSummary(created: 0, adopted: 0, alreadyComplete: true, state: initial, done: graph.nodes.count, total: graph.nodes.count)
        }
        let journal = Journal(state: initial, file: file)
        try await journal.save()
        var done = Set(initial.resources.filter { $0.status == .created }.map(\.key))
        var running = Set<String>()
        var firstError: Error?
        var created = 0, adopted = 0

        try await withThrowingTaskGroup(of: (String, Result<(ResourceRecord, Double, Bool), Error>).self) { group in
            func launchReady() async {
                for node in graph.nodes where firstError == nil && !stop.isRequested && running.count < maxConcurrency {
                    guard !done.contains(node.key), !running.contains(node.key), node.dependencies.allSatisfy(done.contains) else { continue }
                    running.insert(node.key)
                    stop.begin(node.key, node.label)
                    let state = await journal.state
                    let records = await journal.records()
                    group.addTask {
                        let started = DispatchTime.now().uptimeNanoseconds
                        do {
                            let (record, wasAdopted) = try await createOne(node, state: state, records: records, password: password, journal: journal)
                            return (node.key, .success((record, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, wasAdopted)))
                        } catch {
                            return (node.key, .failure(error))
                        }
                    }
                }
            }
            await launchReady()
            while let (key, result) = try await group.next() {
                running.remove(key)
                stop.end(key)
                switch result {
                case .success(let (record, seconds, wasAdopted)):
                    done.insert(key)
                    if wasAdopted { adopted += 1 } else { created += 1 }
                    events(.created(label: graph.node(key)?.label ?? key, record: record, seconds: seconds, adopted: wasAdopted))
                case .failure(let error):
                    if firstError == nil, !(error is StoppedWaiting) { firstError = error }
                }
                await launchReady()
            }
        }
        if let firstError { throw firstError }
        return CreateSummary(created: created, adopted: adopted, alreadyComplete: false, state: await journal.state,
                             interrupted: done.count < graph.nodes.count, done: done.count, total: graph.nodes.count)
    }

    /// One node: adopt a pending leftover if it exists, else journal pending and create.
    /// A create whose answer was lost (connection broke after sending) is looked up before
    /// it is tried again, so it never makes a second resource.
    func createOne(_ node: any StackResource, state: StackState, records: [String: ResourceRecord], password: String?,
                   journal: Journal) async throws -> (ResourceRecord, Bool) {
        let ctx = context(state, records, password: password, journal: journal, key: node.key)
        if let pending = records[node.key], pending.status == .pending {
            if let found = try await findInterrupted(node, ctx, pending) {
                try await node.finishAdoption(found, ctx)
                try await journal.markCreated(found)
                return (found, true)
            }
        } else {
            try await journal.markPending(key: node.key, type: node.type, name: node.pendingName(state.config))
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                // Each attempt is journalled with its send time, so a resume after a kill
                // during this very attempt waits it out too.
                if attempt > 1 || records[node.key]?.status == .pending {
                    try await journal.markPending(key: node.key, type: node.type, name: await journal.records()[node.key]?.name ?? node.pendingName(state.config))
                }
                let record = try await node.create(ctx)
                try await journal.markCreated(record)
                return (record, false)
            } catch where Self.outcomeUnknown(error) && attempt < Self.createAttempts {
                // Look before trying again: the attempt may have created it. After a timeout the
                // request may even still be running at AWS, so for kinds AWS does not
                // deduplicate by name keep looking for the in-flight window before re-creating.
                let pending = await journal.records()[node.key] ?? ResourceRecord(key: node.key, type: node.type, status: .pending)
                events(.note("\(node.label): \(error); checking whether it was created"))
                let patience = Self.isTimeout(error) && !node.uniqueName ? inFlightWindowSeconds : 0
                let lookStarted = Date()
                var pause = 0.5
                while true {
                    if let found = try await node.find(ctx, pending: pending) {
                        try await node.finishAdoption(found, ctx)
                        try await journal.markCreated(found)
                        return (found, true)
                    }
                    let waited = Date().timeIntervalSince(lookStarted)
                    guard waited < patience else { break }
                    try await self.pause(min(pause, patience - waited))
                    pause = min(pause * 2, 5)
                }
                try await Task.sleep(nanoseconds: UInt64(200_000_000 * attempt))
            } catch let e as StackError {
                throw e
            } catch {
                throw StackError.createFailed(resource: "\(node.label) \(node.pendingName(state.config) ?? "")", underlying: "\(error)")
            }
        }
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
        /// Stopped by `stop`: state.json keeps what is left.
        public var interrupted = false
        public var total = 0
    }

    public func delete(state initial: StackState, file: StateFile) async throws -> DeleteSummary {
        let journal = Journal(state: initial, file: file)
        var failed: [ResourceRecord] = []
        var deleted = 0
        var interrupted = false
        for var record in initial.resources.reversed() {
            if stop.isRequested {
                interrupted = true
                break
            }
            guard let node = graph.node(record.key) else {
                events(.deleteFailed(label: record.type, record: record, error: "unknown resource kind in state.json; delete it by hand"))
                failed.append(record)
                continue
            }
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
            let started = DispatchTime.now().uptimeNanoseconds
            stop.begin(record.key, node.label)
            defer { stop.end(record.key) }
            do {
                if record.status == .pending {
                    // Created by a crashed run, perhaps: find it to delete it, else nothing to do.
                    // One with our name but not our tag is someone else's: left alone.
                    let found: ResourceRecord?
                    do { found = try await findInterrupted(node, ctx, record) } catch StackError.foreignResource(let m) {
                        try await journal.remove(key: record.key)
                        events(.note("\(m): left alone"))
                        continue
                    }
                    guard let found else {
                        try await journal.remove(key: record.key)
                        events(.deleted(label: node.label, record: record, seconds: 0, alreadyGone: true))
                        continue
                    }
                    record = found
                }
                var alreadyGone = false
                do { try await node.delete(record, ctx) } catch where NotFound.matches(error) { alreadyGone = true }
                try await journal.remove(key: record.key)
                deleted += 1
                events(.deleted(label: node.label, record: record,
                                seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, alreadyGone: alreadyGone))
            } catch let e as StackError where e.isStateIO {
                throw e  // cannot record progress: stop, the journal on disk is intact
            } catch is StoppedWaiting {
                interrupted = true  // the pending entry stays for the next run
                break
            } catch {
                events(.deleteFailed(label: node.label, record: record, error: "\(error)"))
                failed.append(record)
            }
        }
        // Verify what a failed step left: a child may have gone with its parent.
        var remaining: [ResourceRecord] = []
        if interrupted {
            return DeleteSummary(deleted: deleted, remaining: await journal.state.resources, interrupted: true, total: initial.resources.count)
        }
        for record in failed {
            guard let node = graph.node(record.key) else { remaining.append(record); continue }
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
            let stillThere: Bool
            do { stillThere = try await node.exists(record, ctx) } catch { stillThere = true }
            if stillThere {
                remaining.append(record)
                events(.remains(label: node.label, record: record))
            } else {
                try await journal.remove(key: record.key)
                events(.verifiedGone(label: node.label, record: record))
            }
        }
        if remaining.isEmpty { try file.remove() }
        return DeleteSummary(deleted: deleted, remaining: remaining, total: initial.resources.count)
    }

    // MARK: - status

    public enum ResourceStatus: String, Sendable {
        case exists, missing, pending, notCreated = "not created", notYet = "not yet created (made by AWS on first use)"
    }

    public func status(state: StackState) async throws -> [(node: any StackResource, record: ResourceRecord?, status: ResourceStatus)] {
        let records = Dictionary(state.resources.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var result: [(any StackResource, ResourceRecord?, ResourceStatus)] = []
        for node in graph.nodes {
            guard let record = records[node.key] else { result.append((node, nil, .notCreated)); continue }
            if record.status == .pending { result.append((node, record, .pending)); continue }
            let ctx = context(state, records, password: nil, journal: nil, key: node.key)
            let exists = try await node.exists(record, ctx)
            result.append((node, record, exists ? .exists : (node.createdOnDemand ? .notYet : .missing)))
        }
        return result
    }
}
