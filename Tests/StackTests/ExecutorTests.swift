import AWSClient
import Foundation
import Testing
@testable import Stack

/// A diamond (a <- b, c <- d) and an independent node, listed with dependents first so the
/// graph's order alone would get it wrong.
private func diamond(_ c: FakeCloud) -> [FakeKind] {
    [FakeKind("d", c, dependencies: ["b", "c"]), FakeKind("c", c, dependencies: ["a"]), FakeKind("b", c, dependencies: ["a"]),
     FakeKind("e", c), FakeKind("a", c)]
}

/// Every resource of ours the cloud holds is one the journal knows: created or deposed with its
/// ID, or pending under its key and name (a resumed run finds it).
private func journalKnowsEverything(_ journal: StackState, _ h: Harness, _ context: String) {
    for o in h.ours {
        let known = journal.resources.contains { r in
            r.key.rawValue == o.key && (r.id == o.id || (r.status == .pending && r.name == o.name))
        }
        #expect(known, "\(context): the cloud holds \(o.id) (\(o.key)) but the journal lists \(journal.resources.map { "\($0.key):\($0.status.rawValue):\($0.id ?? "-")" })")
    }
}

/// Exactly one resource per node, each the journal's created record, nothing else, no change left.
private func converged(_ nodes: [FakeKind], _ h: Harness, _ context: String) async throws {
    let journal = try #require(h.store.last, "\(context): nothing saved")
    let keys = Set(nodes.map(\.key.rawValue))
    #expect(Set(h.ours.map(\.key)) == keys, "\(context): cloud holds \(h.ours.map(\.id))")
    for node in nodes {
        let held = h.ours.filter { $0.key == node.key.rawValue }
        #expect(held.count == 1, "\(context): \(node.key) exists \(held.count) times: \(held.map(\.id))")
    }
    #expect(journal.resources.count == nodes.count, "\(context): journal lists \(journal.resources.map { "\($0.key):\($0.status.rawValue)" })")
    for r in journal.resources {
        #expect(r.status == .created && h.ours.contains { $0.id == r.id }, "\(context): record \(r.key) \(r.status.rawValue) \(r.id ?? "-")")
    }
    let plan = try await h.plan(nodes, journal)
    #expect(!plan.hasChanges, "\(context): still to do: \(plan.items.filter { $0.action != .noop }.map { "\($0.key) \($0.action.rawValue)" })")
}

@Suite struct CreateOrderTests {
    @Test func eachCreateStartsAfterItsDependenciesFinished() async throws {
        let h = Harness(latencyMs: 5, kinds: diamond)
        let summary = try await h.converge(h.kinds, from: Harness.emptyState())
        #expect(summary.created == 5)
        for node in h.kinds {
            let mine = try #require(h.calls("create", node.key).first)
            #expect(h.calls("create", node.key).count == 1)
            for dep in node.dependencies {
                let theirs = try #require(h.calls("create", dep).first)
                #expect(theirs.end < mine.start, "\(node.key) started before \(dep) finished")
            }
        }
        // The independent node did not wait for the chain.
        let e = try #require(h.calls("create", "e").first), a = try #require(h.calls("create", "a").first)
        #expect(e.start < a.end && a.start < e.end)
        try await converged(h.kinds, h, "first create")
    }

    @Test(arguments: [1, 3])
    func concurrencyStaysWithinTheBoundAndReachesIt(limit: Int) async throws {
        let h = Harness(latencyMs: 20) { c in
            [FakeKind("root", c, want: ["size": "1"], specs: [AttributeSpec("size")])]
                + (1...7).map { FakeKind("n\($0)", c, dependencies: $0 > 4 ? ["root"] : [], want: ["size": "1"], specs: [AttributeSpec("size")]) }
        }
        try await h.converge(h.kinds, from: Harness.emptyState(), maxConcurrency: limit)
        let creates = h.cloud.calls.filter { $0.op == "create" }
        #expect(creates.count == 8)
        #expect(creates.map(\.concurrency).max() == limit)

        // Converging (an update of every node) keeps the same bound; refresh's reads come before.
        h.cloud.restart()
        let changed = h.kinds.map { k in var k = k; k.want["size"] = "2"; return k }
        let summary = try await h.converge(changed, from: try #require(h.store.last), maxConcurrency: limit)
        #expect(summary.updated == 8)
        let updates = h.cloud.calls.filter { $0.op == "update" }
        #expect(updates.count == 8)
        #expect(updates.map(\.concurrency).max() == limit)

        // Delete stays within it too.
        h.cloud.restart()
        let deleted = try await h.executor(changed, maxConcurrency: limit).delete(state: try #require(h.store.last), file: h.store)
        #expect(deleted.deleted == 8)
        #expect(h.cloud.calls.filter { $0.op == "delete" }.allSatisfy { $0.concurrency <= limit })
    }
}

/// A first create asks STS for the account beside its first creates (issue 14 item 7).
@Suite struct AccountLookupTests {
    /// ANSWER_AFTER: the lookup is sent only once these roots' creates have been answered (or
    /// 5 s passed), so "beside" does not depend on how fast a loaded machine schedules tasks;
    /// an executor that held the roots back until the account was known would fail.
    func firstCreate(_ h: Harness, account: String?, answerAfter roots: [NodeKey] = []) async throws -> StackExecutor.CreateSummary {
        var state = Harness.emptyState()
        state.target.account = ""
        let lookup = Task {
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, !roots.allSatisfy({ !h.calls("create", $0).isEmpty }) { try await Task.sleep(nanoseconds: 5_000_000) }
            return try await h.cloud.lookUpAccount(account)
        }
        return try await h.executor(h.kinds).create(state: state, live: [:], file: h.store, password: nil, account: lookup)
    }

    @Test func rootsStartBesideTheLookupTheRestAfterItAndTheAccountIsJournalled() async throws {
        let h = Harness(latencyMs: 20, kinds: diamond)
        let summary = try await firstCreate(h, account: "123456789012", answerAfter: ["a", "e"])
        #expect(summary.created == 5)
        let sts = try #require(h.calls("sts", "account").first)
        for root: NodeKey in ["a", "e"] {
            let create = try #require(h.calls("create", root).first)
            #expect(create.start < sts.end, "\(root) waited for the account lookup")
        }
        for dependent: NodeKey in ["b", "c", "d"] {
            let create = try #require(h.calls("create", dependent).first)
            #expect(create.start > sts.end, "\(dependent) started before the account was known")
        }
        #expect(summary.state.target.account == "123456789012")
        #expect(h.store.last?.target.account == "123456789012")
    }

    @Test func aFailedLookupStopsTheRunWithItsErrorAndWhatWasMadeIsJournalled() async throws {
        let h = Harness(latencyMs: 20, kinds: diamond)
        await #expect(throws: AWSServiceError.self) { try await firstCreate(h, account: nil) }
        #expect(h.calls("create", "b").isEmpty && h.calls("create", "c").isEmpty && h.calls("create", "d").isEmpty)
        let journal = try #require(h.store.last)
        #expect(journal.target.account == "")
        journalKnowsEverything(journal, h, "after a failed lookup")
    }
}

@Suite struct AdoptionTests {
    @Test func pendingRecordWhoseResourceExistsIsAdoptedNotCreatedAgain() async throws {
        let h = Harness { c in [FakeKind("a", c), FakeKind("b", c, dependencies: ["a"])] }
        // A killed run sent CreateA (it took effect) after journalling it pending.
        h.cloud.put(.init(id: "a-lost", key: "a", name: "a", stackId: Harness.stackId, attributes: [:]))
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "a", type: "fake:thing", status: .pending, name: "a", requestedAt: "1")]
        let summary = try await h.converge(h.kinds, from: state)
        #expect(summary.adopted == 1 && summary.created == 1)
        #expect(h.calls("create", "a").isEmpty)
        #expect(h.calls("find", "a").count == 1)
        #expect(h.store.last?.record("a")?.id == "a-lost")
        #expect(h.ours.first { $0.key == "b" }?.attributes["ref:a"] == "a-lost")
        try await converged(h.kinds, h, "adopted")
    }

    @Test func pendingRecordWhoseCreateNeverHappenedIsCreatedOnce() async throws {
        let h = Harness { c in [FakeKind("a", c), FakeKind("b", c, dependencies: ["a"])] }
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "a", type: "fake:thing", status: .pending, name: "a", requestedAt: "1")]
        let summary = try await h.converge(h.kinds, from: state)
        #expect(summary.adopted == 0 && summary.created == 2)
        #expect(h.calls("find", "a").count == 1 && h.calls("create", "a").count == 1)
        try await converged(h.kinds, h, "resumed")
    }
}

/// a (size updates in place, flavor forces a new one) <- b; c independent; p replaced by
/// deleting first.
private func convergeKinds(_ c: FakeCloud) -> [FakeKind] {
    [FakeKind("a", c, want: ["size": "1", "flavor": "x"], specs: [AttributeSpec("size"), AttributeSpec("flavor", .replace)]),
     FakeKind("b", c, dependencies: ["a"]),
     FakeKind("c", c, want: ["size": "1"], specs: [AttributeSpec("size")]),
     FakeKind("p", c, want: ["flavor": "x"], specs: [AttributeSpec("flavor", .replace)], replaceDeletesFirst: true)]
}

private func with(_ kinds: [FakeKind], _ key: NodeKey, _ attribute: String, _ value: String) -> [FakeKind] {
    kinds.map { k in
        guard k.key == key else { return k }
        var k = k
        k.want[attribute] = value
        return k
    }
}

@Suite struct ConvergeTests {
    /// A harness with `convergeKinds` created.
    private func created() async throws -> (Harness, StackState) {
        let h = Harness(kinds: convergeKinds)
        try await h.converge(h.kinds, from: Harness.emptyState())
        let state = try #require(h.store.last)
        h.cloud.restart()
        return (h, state)
    }

    @Test func recordsCarryWhatWasAppliedSoDriftReadsApartFromAConfigurationChange() async throws {
        let (h, state) = try await created()
        let a = try #require(state.record("a"))
        #expect(a.applied == ["size": "1", "flavor": "x"], "applied: \(String(describing: a.applied))")

        // Changed behind the tool's back: drift.
        h.cloud.edit(try a.requireId()) { $0.attributes["size"] = "9" }
        let drifted = try #require(try await h.plan(h.kinds, state).items.first { $0.key == "a" })
        #expect(drifted.changes.map(\.changedOutside) == [true])
        // The configuration changed and live is as applied: not drift.
        h.cloud.edit(try a.requireId()) { $0.attributes["size"] = "1" }
        let resized = try #require(try await h.plan(with(h.kinds, "a", "size", "2"), state).items.first { $0.key == "a" })
        #expect(resized.changes.map(\.changedOutside) == [false])
        // Applied, then recorded as applied.
        try await h.converge(with(h.kinds, "a", "size", "2"), from: state)
        #expect(try #require(h.store.last).record("a")?.applied?["size"] == "2")
    }

    @Test func planSaysUpdateForAnInPlaceAttributeAndReplaceForAForcingOne() async throws {
        let (h, state) = try await created()
        #expect(try await !h.plan(h.kinds, state).hasChanges)

        let resized = try await h.plan(with(h.kinds, "a", "size", "2"), state)
        let a = try #require(resized.items.first { $0.key == "a" })
        #expect(a.action == .update)
        #expect(a.changes == [AttributeChange(name: "size", old: "1", new: "2", replaces: false, security: false)])
        #expect(resized.items.filter { $0.key != "a" }.allSatisfy { $0.action == .noop })
        #expect(resized.summary == "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.")

        // A new flavor replaces a; b, which names a's ID, follows with an update; c dropped.
        let reflavored = try await h.plan(with(h.kinds, "a", "flavor", "y").filter { $0.key != "c" }, state)
        let a2 = try #require(reflavored.items.first { $0.key == "a" })
        #expect(a2.action == .replace && a2.changes.map(\.name) == ["flavor"] && a2.changes.allSatisfy(\.replaces))
        let b = try #require(reflavored.items.first { $0.key == "b" })
        #expect(b.action == .update && b.changes.map(\.new) == ["<a>"])
        let c = try #require(reflavored.items.first { $0.key == "c" })
        #expect(c.action == .delete && c.reason == "no longer in the configuration")
        #expect(reflavored.summary == "Plan: 0 to create, 1 to update, 1 to replace, 1 to delete.")
        #expect(h.cloud.calls.allSatisfy { $0.op == "read" }, "plan wrote: \(h.cloud.calls.map(\.op))")
    }

    @Test func noChangeMeansNoWriteCall() async throws {
        let (h, state) = try await created()
        let summary = try await h.converge(h.kinds, from: state)
        #expect(summary.created + summary.updated + summary.replaced + summary.deleted == 0)
        #expect(h.cloud.calls.allSatisfy { $0.op == "read" }, "\(h.cloud.calls.map { "\($0.op) \($0.key)" })")
    }

    @Test func inPlaceChangeIsOneUpdateCall() async throws {
        let (h, state) = try await created()
        let before = try #require(state.record("a")?.id)
        let nodes = with(h.kinds, "a", "size", "2")
        let summary = try await h.converge(nodes, from: state)
        #expect(summary.updated == 1 && summary.created == 0 && summary.replaced == 0)
        #expect(h.cloud.calls.filter { $0.op != "read" }.map { "\($0.op) \($0.key)" } == ["update a"])
        #expect(h.store.last?.record("a")?.id == before)
        #expect(h.ours.first { $0.id == before }?.attributes["size"] == "2")
        try await converged(nodes, h, "after update")
    }

    @Test func forcingChangeCreatesTheNewOneThenDeletesTheOldAfterItsDependentsMoved() async throws {
        let (h, state) = try await created()
        let old = try #require(state.record("a")?.id)
        let nodes = with(h.kinds, "a", "flavor", "y")
        let summary = try await h.converge(nodes, from: state)
        #expect(summary.replaced == 1 && summary.updated == 1 && summary.deleted == 1)
        let create = try #require(h.calls("create", "a").first)
        let moved = try #require(h.calls("update", "b").first)
        let gone = try #require(h.calls("delete", "a").first)
        #expect(gone.id == old)
        #expect(create.end < moved.start && moved.end < gone.start)
        let new = try #require(h.store.last?.record("a")?.id)
        #expect(new != old && h.ours.first { $0.key == "b" }?.attributes["ref:a"] == new)
        // Write-ahead: the old record was deposed (and the new one pending) before CreateA was sent.
        let deposedFirst = h.store.saves.contains { s in
            s.resources.contains { $0.key == "a" && $0.status == .deposed && $0.id == old }
                && s.resources.contains { $0.key == "a" && $0.status == .pending }
        }
        #expect(deposedFirst)
        try await converged(nodes, h, "after replace")
    }

    /// The new one keeps the old one's name; the kill came after CreateA took effect. The resumed
    /// run's lookup by name must find the new one, not stop at the deposed old one and create another.
    @Test func replacementInterruptedAfterItsCreateIsAdoptedNotMadeTwice() async throws {
        let (h, state) = try await created()
        let nodes = with(h.kinds, "a", "flavor", "y")
        h.cloud.crash(atCall: state.resources.count + 1, .after)  // the refresh's reads, then CreateA
        await #expect(throws: (any Error).self) { try await h.converge(nodes, from: state, maxConcurrency: 1) }
        #expect(h.cloud.calls.last.map { "\($0.op) \($0.key)" } == "create a")
        let journal = try #require(h.store.last)
        h.cloud.restart()
        let summary = try await h.converge(nodes, from: journal)
        #expect(summary.adopted == 1 && h.calls("create", "a").isEmpty)
        try await converged(nodes, h, "resumed replacement")
    }

    /// The same interrupted replacement, then `delete`: the pending record's lookup must find the
    /// new one (not the deposed old one, deleted under its own record), so nothing is left.
    @Test func deleteAfterAnInterruptedReplacementLeavesNothing() async throws {
        let (h, state) = try await created()
        let nodes = with(h.kinds, "a", "flavor", "y")
        h.cloud.crash(atCall: state.resources.count + 1, .after)
        await #expect(throws: (any Error).self) { try await h.converge(nodes, from: state, maxConcurrency: 1) }
        let journal = try #require(h.store.last)
        h.cloud.restart()
        let summary = try await h.executor(nodes).delete(state: journal, file: h.store)
        #expect(summary.remaining.isEmpty)
        #expect(h.ours.isEmpty, "left behind: \(h.ours.map(\.id))")
        #expect(h.store.removed)
    }

    /// A killed run left e pending (its create took effect); the configuration no longer has e.
    @Test func pendingRecordOfADroppedNodeIsPlannedAndDeleted() async throws {
        let h = Harness { c in [FakeKind("a", c), FakeKind("e", c)] }
        h.cloud.put(.init(id: "e-lost", key: "e", name: "e", stackId: Harness.stackId, attributes: [:]))
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "e", type: "fake:thing", status: .pending, name: "e", requestedAt: "1")]
        let nodes = h.graph(["a"])
        let plan = try await h.plan(nodes, state)
        #expect(plan.items.first { $0.key == "e" }?.action == .delete)
        let summary = try await h.converge(nodes, from: state)
        #expect(summary.deleted == 1)
        #expect(h.calls("delete", "e").map(\.id) == ["e-lost"])
        try await converged(nodes, h, "dropped pending")
    }

    /// CreateA took effect but was answered with a 500: the executor looks before trying again
    /// and adopts it.
    @Test func createAnsweredWithA500AfterItsWorkIsFoundNotMadeTwice() async throws {
        let h = Harness(kinds: convergeKinds)
        h.cloud.crash(atCall: 1, .transient)
        let summary = try await h.converge(h.graph(["a"]), from: Harness.emptyState())
        #expect(summary.adopted == 1 && h.calls("create", "a").count == 1 && h.calls("find", "a").count == 1)
        try await converged(h.graph(["a"]), h, "after a 500")
    }

    /// Ctrl-C while a kind waits before its create (IAM propagation): the wait ends at once,
    /// its create and every node after it are never sent, the run reports itself interrupted,
    /// and the journal keeps the node pending for the next run.
    @Test func aStopDuringAKindsWaitSendsNothingMore() async throws {
        let stop = StopSignal()
        let h = Harness { c in
            var a = FakeKind("a", c)
            a.beforeCreate = { ctx in
                try await ctx.retrying(.seconds(60), delay: Retrying.every(30)).run { _ -> Retrying.Step<Void> in
                    stop.request()  // Ctrl-C while Lambda still cannot assume the role
                    return .again(throwing: FakeCloud.error("InvalidParameterValueException", 400, "cannot be assumed by Lambda"),
                                  note: "waiting for IAM role")
                }
            }
            return [a, FakeKind("b", c, dependencies: ["a"])]
        }
        let started = Date()
        let summary = try await h.converge(h.kinds, from: Harness.emptyState(), stop: stop)
        #expect(Date().timeIntervalSince(started) < 30, "the 30 s wait ran its course")
        #expect(summary.interrupted && summary.done == 0)
        #expect(h.cloud.calls.filter { $0.op == "create" }.isEmpty)
        let journal = try #require(h.store.last)
        #expect(journal.resources.map { "\($0.key):\($0.status.rawValue)" } == ["a:pending"])
        // The stop came before the wait: no "waiting" note for a wait that never happens.
        #expect(!h.log.events.contains { if case .note(let n) = $0 { n == "waiting for IAM role" } else { false } })
    }

    /// A kind whose create is answered with a 500 that did nothing: each attempt is looked up
    /// (the last one too) before the run gives up, with the node still pending.
    @Test func aCreateAnsweredWithA500EveryTimeIsLookedUpAfterEachAttemptThenFails() async throws {
        let tries = Counter()
        let h = Harness { c in
            var a = FakeKind("a", c)
            a.beforeCreate = { _ in
                _ = tries.next()
                throw FakeCloud.error("InternalFailure", 500, "try again")
            }
            return [a]
        }
        await #expect(throws: StackError.self) { try await h.converge(h.kinds, from: Harness.emptyState()) }
        #expect(tries.count == StackExecutor.createAttempts)
        #expect(h.calls("find", "a").count == StackExecutor.createAttempts)
        #expect(h.store.last?.resources.map { "\($0.key):\($0.status.rawValue)" } == ["a:pending"])
        #expect(h.ours.isEmpty)
    }

    /// The last attempt took effect but its answer was a 500: the look after it adopts it
    /// (before, the run failed and left it for the next run to find).
    @Test func aLastAttemptThatTookEffectIsAdopted() async throws {
        let tries = Counter()
        let h = Harness { c in
            var a = FakeKind("a", c)
            a.beforeCreate = { ctx in
                if tries.next() == StackExecutor.createAttempts {
                    _ = try await c.create(key: "a", name: "a", stackId: ctx.stackId, attributes: [:])
                }
                throw FakeCloud.error("InternalFailure", 500, "done, but answered with a 500")
            }
            return [a]
        }
        let summary = try await h.converge(h.kinds, from: Harness.emptyState())
        #expect(summary.adopted == 1 && tries.count == StackExecutor.createAttempts)
        #expect(h.ours.count == 1 && h.store.last?.record("a")?.id == h.ours.first?.id)
    }

    /// A replacement undone after a kill left the old one deposed: the create of its name is
    /// refused "already exists", and that old one, ours, is adopted as current; the would-be
    /// replacement goes. Exactly one left.
    @Test func aDeposedOneWantedAgainIsAdoptedWhenItsNameIsTakenAndBroughtUpToDate() async throws {
        let h = Harness { c in
            var u = FakeKind("u", c, want: ["name": "x", "size": "2"], specs: [AttributeSpec("name", .replace), AttributeSpec("size")])
            u.uniqueNames = true
            return [u]
        }
        // The old one still has an older setting: adopted, it must be updated too.
        h.cloud.put(.init(id: "u-old", key: "u", name: "x", stackId: Harness.stackId, attributes: ["name": "x", "size": "1"]))
        h.cloud.put(.init(id: "u-new", key: "u", name: "y", stackId: Harness.stackId, attributes: ["name": "y", "size": "2"]))
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "u", type: "fake:thing", status: .deposed, id: "u-old", name: "x"),
                           ResourceRecord(key: "u", type: "fake:thing", status: .created, id: "u-new", name: "y")]
        let summary = try await h.converge(h.kinds, from: state)
        #expect(summary.replaced == 1)
        #expect(h.ours.map(\.id) == ["u-old"])
        #expect(h.ours.first?.attributes["size"] == "2")
        #expect(h.calls("update", "u").map(\.id) == ["u-old"])
        #expect(h.store.last?.resources.map { "\($0.status.rawValue):\($0.id ?? "-")" } == ["created:u-old"])
        try await converged(h.kinds, h, "after adopting the deposed one")
    }

    /// A first create finds one of ours with the name already there (its record lost): adopted
    /// and brought to the configuration, not reported as made with the wrong settings.
    @Test func oneOfOursWithTheNameIsAdoptedAndConverged() async throws {
        let h = Harness { c in
            var u = FakeKind("u", c, want: ["size": "2"], specs: [AttributeSpec("size")])
            u.uniqueNames = true
            return [u]
        }
        h.cloud.put(.init(id: "u-earlier", key: "u", name: "u", stackId: Harness.stackId, attributes: ["size": "1"]))
        let summary = try await h.converge(h.kinds, from: Harness.emptyState())
        #expect(summary.updated == 1 && summary.created == 0)
        #expect(h.ours.map(\.id) == ["u-earlier"] && h.ours.first?.attributes["size"] == "2")
        try await converged(h.kinds, h, "after adopting ours")
    }

    /// Two nodes naming one resource: the second is refused, never a second record for it.
    @Test func aResourceAnotherNodeHoldsIsNeverAdopted() async throws {
        let h = Harness { c in
            var a = FakeKind("a", c, want: ["name": "shared"])
            a.uniqueNames = true
            var b = FakeKind("b", c, want: ["name": "shared"])
            b.uniqueNames = true
            return [a, b].map { k in var k = k; k.type = "fake:same"; return k }
        }
        // The fake cloud keeps names unique per key; make b's create collide with a's.
        h.cloud.put(.init(id: "b-shared", key: "b", name: "shared", stackId: Harness.stackId, attributes: [:]))
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "a", type: "fake:same", status: .created, id: "b-shared", name: "shared")]
        await #expect { try await h.converge(h.graph(["a", "b"]), from: state) } throws: { error in
            if case StackError.foreignResource(let m) = error { return m.contains("already this stack's a") } else { return false }
        }
        #expect(h.store.last.map { $0.resources.filter { $0.id == "b-shared" }.map(\.key) } ?? [] == ["a"])
    }

    /// The name is taken by someone else's resource: refused, not adopted, nothing recorded.
    @Test func aNameTakenBySomeoneElseIsNeverAdopted() async throws {
        let h = Harness { c in
            var u = FakeKind("u", c)
            u.uniqueNames = true
            return [u]
        }
        h.cloud.put(.init(id: "u-theirs", key: "u", name: "u", stackId: "another-stack", attributes: [:]))
        // find's refusal (not the create's "already exists", which the executor turned into a look).
        await #expect { try await h.converge(h.kinds, from: Harness.emptyState()) } throws: { error in
            if case StackError.foreignResource = error { return true } else { return false }
        }
        #expect(h.cloud.objects.map(\.id) == ["u-theirs"])
        #expect(h.store.last?.resources.isEmpty ?? true)
    }

    /// Ctrl-C while a create's outcome is unknown: no further attempt, the node stays pending.
    @Test func aStopBetweenCreateAttemptsSendsNoOther() async throws {
        let tries = Counter()
        let stop = StopSignal()
        let h = Harness { c in
            var a = FakeKind("a", c)
            a.beforeCreate = { _ in
                _ = tries.next()
                stop.request()
                throw FakeCloud.error("InternalFailure", 500, "try again")
            }
            return [a]
        }
        let summary = try await h.converge(h.kinds, from: Harness.emptyState(), stop: stop)
        #expect(summary.interrupted && tries.count == 1)
        #expect(h.store.last?.resources.map { "\($0.key):\($0.status.rawValue)" } == ["a:pending"])
    }

    /// Ctrl-C while waiting to look again for a dropped node's create a killed run may still
    /// have in flight: an interruption (the record kept), not a failed delete.
    @Test func aStopWhileWaitingForADroppedNodesLostCreateIsAnInterruption() async throws {
        let stop = StopSignal()
        let h = Harness { c in [FakeKind("a", c), FakeKind("e", c)] }
        var state = Harness.emptyState()
        state.resources = [ResourceRecord(key: "e", type: "fake:thing", status: .pending, name: "e",
                                          requestedAt: String(Int(Date().timeIntervalSince1970)))]
        let stopper = Task {
            try await Task.sleep(nanoseconds: 300_000_000)
            stop.request()
        }
        let summary = try await h.converge(h.graph(["a"]), from: state, stop: stop, inFlightWindowSeconds: 30)
        _ = try await stopper.value
        #expect(summary.interrupted)
        #expect(h.store.last?.record("e")?.status == .pending)
    }

    @Test func replaceDeletesFirstDeletesTheOldBeforeCreatingTheNew() async throws {
        let (h, state) = try await created()
        let old = try #require(state.record("p")?.id)
        let nodes = with(h.kinds, "p", "flavor", "y")
        let summary = try await h.converge(nodes, from: state)
        #expect(summary.replaced == 1)
        let gone = try #require(h.calls("delete", "p").first)
        let create = try #require(h.calls("create", "p").first)
        #expect(gone.id == old && gone.end < create.start)
        try await converged(nodes, h, "after delete-first replace")
    }

    @Test func nodesDroppedFromTheConfigurationAreDeleted() async throws {
        let (h, state) = try await created()
        let nodes = h.kinds.filter { $0.key == "a" || $0.key == "p" }
        let summary = try await h.converge(nodes, from: state)
        #expect(summary.deleted == 2)
        // b (which refers to a) and c go; a and p stay untouched.
        #expect(h.cloud.calls.filter { $0.op == "delete" }.map(\.key).sorted() == ["b", "c"])
        #expect(h.cloud.calls.filter { $0.op != "read" && $0.op != "delete" }.isEmpty)
        try await converged(nodes, h, "after dropping b and c")
    }
}

@Suite struct CrashTests {
    typealias Kinds = @Sendable (FakeCloud) -> [FakeKind]

    /// A harness with `before` created (if given) and the state to converge to `after` from.
    private func prepared(_ before: Kinds?, _ after: @escaping Kinds) async throws -> (Harness, StackState, [FakeKind]) {
        let h = Harness { c in (before?(c) ?? []) + after(c) }
        var state = Harness.emptyState()
        if let before {
            try await h.converge(before(h.cloud), from: state)
            state = try #require(h.store.last)
            h.cloud.restart()
        }
        return (h, state, after(h.cloud))
    }

    /// The crashed run's journal knows everything the cloud holds; a second run completes.
    private func check(_ h: Harness, _ initial: StackState, _ nodes: [FakeKind], _ what: String) async throws {
        let journal = h.store.last ?? initial
        journalKnowsEverything(journal, h, what)
        h.cloud.restart()
        try await h.converge(nodes, from: journal, maxConcurrency: 4)
        try await converged(nodes, h, "resumed after \(what)")
    }

    /// For every call index k, killed before the call took effect, after it did (its answer
    /// lost), or the call refused with an error: the journal saved before the crash knows every resource the cloud holds, and a
    /// second run ends with exactly one resource per node and nothing left to do.
    /// With `limit` 1 the calls come in one order, so every step is crashed at; with more, the
    /// interleavings vary from run to run.
    /// `resume`: the configuration of the second run when it differs from the crashed one's.
    private func crashAtEveryCall(before: Kinds?, after: @escaping Kinds, resume: Kinds? = nil, limit: Int) async throws {
        let (clean, cleanState, cleanNodes) = try await prepared(before, after)
        try await clean.converge(cleanNodes, from: cleanState, maxConcurrency: limit)
        let calls = clean.cloud.calls.count
        #expect(calls >= 5)
        for k in 1...calls {
            for point in [FakeCloud.CrashPoint.before, .after, .fails] {
                let (h, state, nodes) = try await prepared(before, after)
                h.cloud.crash(atCall: k, point)
                await #expect(throws: (any Error).self, "call \(k) \(point)") { try await h.converge(nodes, from: state, maxConcurrency: limit) }
                let crashed = h.cloud.calls.sorted { $0.n < $1.n }
                let call = crashed.count >= k ? "\(crashed[k - 1].op) \(crashed[k - 1].key)" : "?"
                try await check(h, state, resume.map { $0(h.cloud) } ?? nodes, "crash at call \(k) (\(call), \(point))")
            }
        }
    }

    /// The same for every save of the journal (the process dies instead of writing it).
    private func crashAtEverySave(before: Kinds?, after: @escaping Kinds, limit: Int) async throws {
        let (clean, cleanState, cleanNodes) = try await prepared(before, after)
        let savedBefore = clean.store.saves.count
        try await clean.converge(cleanNodes, from: cleanState, maxConcurrency: limit)
        let saves = clean.store.saves.count - savedBefore
        #expect(saves > 5)
        for k in 1...saves {
            let (h, state, nodes) = try await prepared(before, after)
            h.store.crash(atSave: k)
            await #expect(throws: (any Error).self, "save \(k)") { try await h.converge(nodes, from: state, maxConcurrency: limit) }
            try await check(h, state, nodes, "crash at save \(k)")
        }
    }

    static let firstCreate: Kinds = { c in diamond(c) }

    /// From convergeKinds plus e and g to: a replaced (create first; b follows by an update, g
    /// by a replacement), c updated, p replaced (delete first), e dropped, f added.
    static let before: Kinds = { c in convergeKinds(c) + [FakeKind("e", c), FakeKind("g", c, dependencies: ["a"], refMode: .replace)] }
    static let after: Kinds = { c in
        with(with(with(convergeKinds(c), "a", "flavor", "y"), "c", "size", "2"), "p", "flavor", "y")
            + [FakeKind("f", c, dependencies: ["a"]), FakeKind("g", c, dependencies: ["a"], refMode: .replace)]
    }

    @Test(arguments: [1, 4])
    func firstCreateCrashedAtEachCall(limit: Int) async throws {
        try await crashAtEveryCall(before: nil, after: Self.firstCreate, limit: limit)
    }

    @Test(arguments: [1, 4])
    func convergingRunCrashedAtEachCall(limit: Int) async throws {
        try await crashAtEveryCall(before: Self.before, after: Self.after, limit: limit)
    }

    /// The next run's configuration dropped nodes the crashed run was creating (an --auth
    /// switch after a kill): what the crashed run made of them is deleted, their records too.
    @Test(arguments: [1, 4])
    func firstCreateCrashedAtEachCallThenResumedWithNodesDropped(limit: Int) async throws {
        try await crashAtEveryCall(before: nil, after: Self.firstCreate, resume: { c in diamond(c).filter { $0.key != "d" && $0.key != "e" } },
                                   limit: limit)
    }

    /// Killed midway through the change, then the change is reverted: back to `before`.
    @Test(arguments: [1, 4])
    func convergingRunCrashedAtEachCallThenReverted(limit: Int) async throws {
        try await crashAtEveryCall(before: Self.before, after: Self.after, resume: Self.before, limit: limit)
    }

    /// Delete killed at each call (before or after it took effect), then delete again: the
    /// journal still lists all the cloud holds, and the second delete leaves nothing.
    @Test func deleteCrashedAtEachCall() async throws {
        func created() async throws -> (Harness, StackState) {
            let h = Harness(kinds: diamond)
            try await h.converge(h.kinds, from: Harness.emptyState())
            let state = try #require(h.store.last)
            h.cloud.restart()
            return (h, state)
        }
        let (clean, cleanState) = try await created()
        _ = try await clean.executor(clean.kinds).delete(state: cleanState, file: clean.store)
        let calls = clean.cloud.calls.count
        #expect(calls >= 10 && clean.ours.isEmpty)
        for k in 1...calls {
            for point in [FakeCloud.CrashPoint.before, .after, .fails] {
                let (h, state) = try await created()
                h.cloud.crash(atCall: k, point)
                _ = try? await h.executor(h.kinds).delete(state: state, file: h.store)
                let journal = h.store.last ?? state
                journalKnowsEverything(journal, h, "delete crashed at call \(k) \(point)")
                h.cloud.restart()
                let summary = try await h.executor(h.kinds).delete(state: journal, file: h.store)
                #expect(summary.remaining.isEmpty && h.ours.isEmpty && h.store.removed, "after delete crashed at call \(k) \(point): \(h.ours.map(\.id))")
            }
        }
    }

    @Test func deleteCrashedAtEachSave() async throws {
        func created() async throws -> (Harness, StackState, Int) {
            let h = Harness(kinds: diamond)
            try await h.converge(h.kinds, from: Harness.emptyState())
            let state = try #require(h.store.last)
            h.cloud.restart()
            return (h, state, h.store.saves.count)
        }
        let (clean, cleanState, savedBefore) = try await created()
        _ = try await clean.executor(clean.kinds).delete(state: cleanState, file: clean.store)
        let saves = clean.store.saves.count - savedBefore
        #expect(saves >= 5)
        for k in 1...saves {
            let (h, state, _) = try await created()
            h.store.crash(atSave: k)
            _ = try? await h.executor(h.kinds).delete(state: state, file: h.store)
            let journal = try #require(h.store.last)
            journalKnowsEverything(journal, h, "delete crashed at save \(k)")
            h.cloud.restart()
            let summary = try await h.executor(h.kinds).delete(state: journal, file: h.store)
            #expect(summary.remaining.isEmpty && h.ours.isEmpty && h.store.removed, "after delete crashed at save \(k): \(h.ours.map(\.id))")
        }
    }

    @Test(arguments: [1, 4])
    func firstCreateCrashedAtEachSave(limit: Int) async throws {
        try await crashAtEverySave(before: nil, after: Self.firstCreate, limit: limit)
    }

    @Test(arguments: [1, 4])
    func convergingRunCrashedAtEachSave(limit: Int) async throws {
        try await crashAtEverySave(before: Self.before, after: Self.after, limit: limit)
    }
}

@Suite struct DeleteTests {
    @Test func deleteRemovesChildrenBeforeParents() async throws {
        let h = Harness(latencyMs: 2) { c in
            [FakeKind("a", c), FakeKind("b", c, dependencies: ["a"]), FakeKind("c", c, dependencies: ["b"]), FakeKind("d", c, dependencies: ["a"]),
             FakeKind("e", c)]
        }
        try await h.converge(h.kinds, from: Harness.emptyState())
        let state = try #require(h.store.last)
        h.cloud.restart()
        let summary = try await h.executor(h.kinds).delete(state: state, file: h.store)
        #expect(summary.deleted == 5 && summary.remaining.isEmpty && summary.notOurs.isEmpty)
        #expect(h.ours.isEmpty && h.store.removed)
        let deletes = h.cloud.calls.filter { $0.op == "delete" }
        #expect(deletes.count == 5)
        for node in h.kinds {
            let mine = try #require(deletes.first { $0.key == node.key.rawValue })
            for dep in node.dependencies {
                let parent = try #require(deletes.first { $0.key == dep.rawValue })
                #expect(mine.end < parent.start, "\(dep) deleted before its dependent \(node.key) was gone")
            }
        }
    }

    /// A deposed child lives in the owner its parent_id names (the replaced, deposed one), not in
    /// the owner key's current resource: judged by that one, it is left alone when that is not ours.
    @Test func aDeposedChildIsJudgedByTheOwnerItLivesIn() async throws {
        let h = Harness { c in [FakeKind("r", c), FakeKind("k", c, dependencies: ["r"], ownerKey: "r")] }
        try await h.converge(h.kinds, from: Harness.emptyState())
        var state = try #require(h.store.last)
        let (oldRoot, oldChild) = (try #require(state.record("r")), try #require(state.record("k")))
        #expect(oldChild.parentId == oldRoot.id)
        // As a replacement of r killed before its leftovers went: new r and k current, old ones deposed.
        h.cloud.put(FakeCloud.Object(id: "r-new", key: "r", name: "r", stackId: Harness.stackId, attributes: [:]))
        h.cloud.put(FakeCloud.Object(id: "k-new", key: "k", name: "k", stackId: Harness.stackId, attributes: [:]))
        state.resources = [oldRoot, oldChild].map { var r = $0; r.status = .deposed; return r }
            + [ResourceRecord(key: "r", type: oldRoot.type, status: .created, id: "r-new", name: "r"),
               ResourceRecord(key: "k", type: oldChild.type, status: .created, id: "k-new", name: "k", parentId: "r-new")]
        // The old root is now someone else's (its tag changed): its child must not be touched.
        h.cloud.edit(try oldRoot.requireId()) { $0.ownership = .unproven("its tag changed") }
        h.cloud.restart()
        let summary = try await h.executor(h.kinds).delete(state: state, file: h.store)
        #expect(Set(h.cloud.calls.filter { $0.op == "delete" }.map { $0.id ?? "" }) == ["k-new", "r-new"])
        #expect(Set(summary.notOurs.compactMap(\.id)) == [try oldRoot.requireId(), try oldChild.requireId()])
        #expect(h.ours.contains { $0.id == oldChild.id })
    }

    /// A root someone else's resource now answers for (`.replaced`) is left alone and dropped,
    /// with its children; one whose tag changed (`.unproven`) is left alone and kept, with its
    /// children; the rest is deleted.
    @Test func deleteLeavesWhatIsNotProvablyOursAlone() async throws {
        let h = Harness { c in
            [FakeKind("r1", c), FakeKind("k1", c, dependencies: ["r1"], ownerKey: "r1"),
             FakeKind("r2", c), FakeKind("k2", c, dependencies: ["r2"], ownerKey: "r2"),
             FakeKind("r3", c), FakeKind("k3", c, dependencies: ["r3"], ownerKey: "r3")]
        }
        try await h.converge(h.kinds, from: Harness.emptyState())
        let state = try #require(h.store.last)
        h.cloud.restart()
        let id = { (key: NodeKey) throws -> String in try #require(state.record(key)?.id) }
        h.cloud.edit(try id("r1")) { $0.ownership = .replaced("someone else's") }
        h.cloud.edit(try id("r2")) { $0.ownership = .unproven("its tag changed") }
        let summary = try await h.executor(h.kinds).delete(state: state, file: h.store)
        #expect(Set(h.cloud.calls.filter { $0.op == "delete" }.map(\.key)) == ["k3", "r3"])
        #expect(Set(h.ours.map(\.key)) == ["r1", "k1", "r2", "k2"])
        #expect(Set(summary.notOurs.map(\.key)) == ["r1", "k1", "r2", "k2"])
        #expect(Set(summary.remaining.map(\.key)) == ["r2", "k2"])
        #expect(Set(try #require(h.store.last).resources.map(\.key)) == ["r2", "k2"])
        #expect(!h.store.removed)
        let kept = h.log.events.compactMap { e -> String? in
            if case .notOurs(_, let r, _, let kept) = e { return "\(r.key):\(kept)" } else { return nil }
        }
        #expect(Set(kept) == ["r1:false", "k1:false", "r2:true", "k2:true"])
    }
}
