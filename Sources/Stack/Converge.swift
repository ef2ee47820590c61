import AWSClient
import Dispatch
import Foundation
import Services

/// What converging a stack does to one resource.
public enum PlanAction: String, Sendable {
    case create, update, replace, delete, noop
    /// Listed in state.json but not provably ours: converge refuses to touch it.
    case notOurs = "not ours"
}

/// One line of a plan: a resource, what happens to it and why.
public struct PlanItem: Sendable {
    public var key: NodeKey
    public var label: String
    /// The route key for routes, so two routes read apart.
    public var detail: String?
    public var action: PlanAction
    public var changes: [AttributeChange]
    /// Why: "missing (deleted outside secure-api)", "no longer in the configuration", ...
    public var reason: String?
    public var record: ResourceRecord?
    /// Replacing or deleting it destroys data (needs --allow-replace).
    public var destroysData: Bool

    public var name: String { detail.map { "\(label) \($0)" } ?? label }
}

public struct StackPlan: Sendable {
    public var items: [PlanItem]

    public func count(_ action: PlanAction) -> Int { items.filter { $0.action == action }.count }
    public var hasChanges: Bool { items.contains { $0.action != .noop } }
    public var summary: String {
        "Plan: \(count(.create)) to create, \(count(.update)) to update, \(count(.replace)) to replace, \(count(.delete)) to delete."
    }
}

extension StackExecutor {
    // MARK: - refresh

    /// Reads every created (and deposed) resource at once: its ownership (a child's combined
    /// with its owner's) and its live attributes. Keyed by `ResourceRecord.ref`.
    public func refresh(_ state: StackState) async throws -> [String: LiveState] {
        let records = state.currentRecords
        let reads = try await withThrowingTaskGroup(of: (String, LiveState).self) { group in
            for record in state.resources where record.status != .pending {
                guard let node = graph.node(record.key) ?? kindOf(record) else { continue }
                let ctx = context(state, records, password: nil, journal: nil, key: record.key)
                group.addTask { (record.ref, try await node.read(record, ctx)) }
            }
            var result: [String: LiveState] = [:]
            for try await (ref, live) in group { result[ref] = live }
            return result
        }
        var combined = reads
        for record in state.resources where record.status != .pending {
            guard let node = graph.node(record.key) ?? kindOf(record), var live = reads[record.ref],
                  let (root, ownerLabel) = rootOwner(of: record, node, in: state.resources), let owner = reads[root.ref] else { continue }
            switch owner.ownership {
            case .ours: break
            case .gone: if node.goneWithOwner { live = .gone }
            case .replaced(let m): live.ownership = .replaced("its \(ownerLabel) is not ours: \(m)")
            case .unproven(let m): live.ownership = .unproven("its \(ownerLabel) is not provably ours: \(m)")
            }
            combined[record.ref] = live
        }
        return combined
    }

    // MARK: - plan

    /// Desired (the state's config) against live: one item per node of the graph, in
    /// dependency order, then what the configuration no longer has. No I/O.
    public func plan(_ state: StackState, live: [String: LiveState]) -> StackPlan {
        let records = state.currentRecords
        var unknown = Set<NodeKey>()
        var items: [PlanItem] = []
        for node in graph.topologicalOrder() {
            let record = records[node.key]
            var item = PlanItem(key: node.key, label: node.label, detail: (node as? RouteResource)?.routeKey(state.config), action: .noop,
                                changes: [], reason: nil, record: record, destroysData: false)
            defer { items.append(item) }
            guard let record, record.status == .created else {
                item.action = .create
                item.reason = record?.status == .pending ? "interrupted create: resume" : nil
                unknown.insert(node.key)
                continue
            }
            guard let current = live[record.ref] else { continue }
            switch current.ownership {
            case .gone:
                if node.createdOnDemand { continue }  // Lambda makes the log group on the first call
                item.action = .create
                item.reason = "missing (deleted outside secure-api)"
                unknown.insert(node.key)
                continue
            case .replaced(let m), .unproven(let m):
                item.action = .notOurs
                item.reason = m
                continue
            case .ours:
                break
            }
            var ctx = context(state, records, password: nil, journal: nil, key: node.key)
            ctx.unknown = unknown
            guard let want = try? node.desired(ctx) else { continue }
            let changes = diff(node.schema, desired: want, live: current.attributes, applied: record.applied)
            item.changes = changes
            // It lives in its owner: one being replaced now, or one a killed run already replaced.
            let parentMoved = node.ownerKey.flatMap { records[$0]?.id }.map { record.parentId != nil && record.parentId != $0 } ?? false
            if let owner = node.ownerKey, unknown.contains(owner) || parentMoved, node.goneWithOwner {
                item.action = .replace
                item.reason = "it lives in the \(graph.node(owner)?.label ?? owner.rawValue), which is replaced"
                unknown.insert(node.key)
            } else if record.type != node.type || changes.contains(where: \.replaces) {
                item.action = .replace
                item.destroysData = node.holdsData
                unknown.insert(node.key)
            } else if !changes.isEmpty {
                item.action = .update
            }
        }
        for record in state.resources.reversed() where record.status == .deposed || graph.node(record.key) == nil {
            let node = kindOf(record)
            if record.status == .created, let current = live[record.ref], current.ownership == .gone, node?.createdOnDemand == true { continue }
            let reason = switch record.status {
            case .deposed: "replaced; the old one is still to be deleted"
            case .pending: "interrupted create, no longer in the configuration"
            case .created: "no longer in the configuration"
            }
            items.append(PlanItem(key: record.key, label: node?.label ?? record.type, detail: nil, action: .delete, changes: [],
                                  reason: reason, record: record, destroysData: node?.holdsData ?? false))
        }
        return StackPlan(items: items)
    }

    // MARK: - apply

    /// Brings one existing node to its desired attributes: in place, or by a replacement
    /// (journalled: the old record is deposed before the new one is made).
    func convergeOne(_ node: any StackResource, state: StackState, live: LiveState?, password: String?,
                     journal: Journal) async throws -> (ResourceRecord, Outcome) {
        if node.replaceDeletesFirst { try await finishDeposed(node, state: state, journal: journal) }
        let records = await journal.records()
        let ctx = context(state, records, password: password, journal: journal, key: node.key)
        guard let record = records[node.key], record.status == .created, let live, live.ownership != .gone else {
            if live?.ownership == .gone, node.createdOnDemand, let record = records[node.key] { return (record, .unchanged) }
            let (made, adoptedOutcome) = try await createOrAdopt(node, state: state, records: records, password: password, journal: journal)
            guard let adoptedOutcome else { return (made, .created) }
            if case .unchanged = adoptedOutcome { return (made, .adopted) }
            return (made, adoptedOutcome)
        }
        if case .replaced(let m) = live.ownership { throw StackError.foreignResource("\(node.label) \(record.id ?? ""): \(m); secure-api will not change it") }
        if case .unproven(let m) = live.ownership { throw StackError.foreignResource("\(node.label) \(record.id ?? ""): \(m); secure-api will not change it") }
        let want = try node.desired(ctx)
        let changes = diff(node.schema, desired: want, live: live.attributes, applied: record.applied)
        // A child of a replaced parent (a client of a new pool) goes with it.
        let parentMoved = node.ownerKey.flatMap { records[$0]?.id }.map { record.parentId != nil && record.parentId != $0 } ?? false
        if changes.isEmpty && record.type == node.type && !parentMoved {
            // Live matches: what it holds is now what this tool applied (a record from before
            // applied attributes were kept, or an adopted resource, learns them once).
            guard record.applied != want else { return (record, .unchanged) }
            var known = record
            known.applied = want
            try await journal.markCreated(known)
            return (known, .unchanged)
        }
        if record.type == node.type && !changes.contains(where: \.replaces) && !parentMoved {
            var updated = try await node.update(record, changes, ctx)
            updated.applied = want
            try await journal.markCreated(updated)
            return (updated, .updated(changes))
        }
        try await journal.depose(key: node.key)
        if node.replaceDeletesFirst {
            do { try await node.delete(record, ctx) } catch where node.isNotFound(error) {}
            var old = record
            old.status = .deposed
            try await journal.remove(old)
        }
        let (made, _) = try await createOrAdopt(node, state: state, records: await journal.records(), password: password, journal: journal)
        return (made, .replaced(changes))
    }

    /// Creates the node, or adopts the one that exists (a killed run's, or a deposed one wanted
    /// again), perhaps made under an earlier configuration: that one is brought to this one.
    /// The outcome is nil for one made now, else what bringing it up to date did.
    func createOrAdopt(_ node: any StackResource, state: StackState, records: [NodeKey: ResourceRecord], password: String?,
                       journal: Journal) async throws -> (ResourceRecord, Outcome?) {
        let (made, adopted) = try await createOne(node, state: state, records: records, password: password, journal: journal)
        guard adopted else { return (made, nil) }
        let readCtx = context(state, await journal.records(), password: password, journal: journal, key: node.key)
        return try await convergeOne(node, state: state, live: try await node.read(made, readCtx), password: password, journal: journal)
    }

    /// A replacement killed between deposing the old resource and deleting it: for kinds AWS
    /// allows one of at a time (a pool's domain, a policy's statement id), the old one goes now,
    /// before anything is made in its place.
    func finishDeposed(_ node: any StackResource, state: StackState, journal: Journal) async throws {
        for old in await journal.state.resources where old.key == node.key && old.status == .deposed {
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: node.key)
            switch try await node.ownership(old, ctx) {
            case .ours:
                do { try await node.delete(old, ctx) } catch where node.isNotFound(error) {}
                events(.deleted(label: node.label, record: old, seconds: 0, alreadyGone: false))
            case .gone:
                break
            case .replaced(let m), .unproven(let m):
                throw StackError.foreignResource("\(node.label) \(old.id ?? ""): \(m); secure-api will not change it")
            }
            try await journal.remove(old)
        }
    }

    enum Outcome: Sendable {
        case created, adopted, unchanged
        case updated([AttributeChange])
        case replaced([AttributeChange])
    }

    /// Deletes what the configuration dropped and what replacements deposed, newest first,
    /// each only once it is proven ours. A failed delete is verified at the end (a child may
    /// have gone with its parent); only what is still there fails the run.
    func deleteLeftovers(journal: Journal) async throws -> (deleted: Int, notOurs: [ResourceRecord]) {
        let state = await journal.state
        // A pending one is a killed run's create of a node the configuration has since dropped.
        let leftovers = state.resources.reversed().filter { $0.status == .deposed || graph.node($0.key) == nil }
        var deleted = 0
        var notOurs: [ResourceRecord] = []
        var failed: [(ResourceRecord, any StackResource, Error)] = []
        var ownerVerdicts: [String: Ownership] = [:]
        for var record in leftovers {
            if stop.isRequested { throw StoppedWaiting() }
            guard let node = kindOf(record) else { continue }
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                var verdict: Ownership
                if record.status == .pending {
                    // What the killed run made, if anything, as delete does: found means ours.
                    let found: ResourceRecord?
                    do { found = try await findInterrupted(node, ctx, record, find: { try await node.find(ctx, pending: $0) }) }
                    catch StackError.foreignResource(let m) {
                        try await journal.remove(record)
                        events(.note("\(m): left alone"))
                        continue
                    }
                    guard let found else {
                        try await journal.remove(record)
                        events(.deleted(label: node.label, record: record, seconds: 0, alreadyGone: true))
                        continue
                    }
                    record = found
                    verdict = .ours
                } else if let ownerKey = node.ownerKey {
                    // The owner the record names (a log group names none: its function's current record).
                    let owner = state.resources.first { $0.key == ownerKey && $0.status != .pending && (record.parentId == nil || $0.id == record.parentId) }
                    if let owner, let ownerNode = kindOf(owner) {
                        if ownerVerdicts[owner.ref] == nil { ownerVerdicts[owner.ref] = try await ownerNode.ownership(owner, ctx) }
                        verdict = ownerVerdicts[owner.ref] ?? .gone
                        if verdict == .gone { verdict = node.goneWithOwner ? .gone : .ours }
                    } else {
                        verdict = try await node.ownership(record, ctx) == .gone ? .gone : .unproven("its owner is no longer in state.json")
                    }
                } else {
                    verdict = try await node.ownership(record, ctx)
                }
                switch verdict {
                case .ours:
                    var alreadyGone = false
                    do { try await node.delete(record, ctx) } catch where node.isNotFound(error) { alreadyGone = true }
                    try await journal.remove(record)
                    deleted += 1
                    events(.deleted(label: node.label, record: record, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9,
                                    alreadyGone: alreadyGone))
                case .gone:
                    try await journal.remove(record)
                    events(.deleted(label: node.label, record: record, seconds: 0, alreadyGone: true))
                case .replaced(let m):
                    try await journal.remove(record)
                    notOurs.append(record)
                    events(.notOurs(label: node.label, record: record, reason: m, kept: false))
                case .unproven(let m):
                    notOurs.append(record)
                    events(.notOurs(label: node.label, record: record, reason: m, kept: true))
                }
            } catch let e as StackError where e.isStateIO {
                throw e
            } catch let stopped as StoppedWaiting {
                throw stopped  // Ctrl-C while waiting to look again: an interruption, not a failed delete
            } catch {
                failed.append((record, node, error))
            }
        }
        for (record, node, error) in failed {
            let ctx = context(await journal.state, await journal.records(), password: nil, journal: nil, key: record.key)
            if (try? await node.ownership(record, ctx)) == .gone {
                try await journal.remove(record)
                events(.verifiedGone(label: node.label, record: record))
            } else {
                throw StackError.createFailed(resource: "deleting \(node.label) \(record.id ?? "")", underlying: "\(error)")
            }
        }
        return (deleted, notOurs)
    }
}
