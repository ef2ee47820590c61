import AWSClient
import Stack

/// Prints a plan as Terraform does: `+` create, `~` update in place, `-/+` replace, `-` delete,
/// each change as `attribute: old -> new`, then the counts.
struct PlanPrinter {
    let toStderr: Bool

    func line(_ s: String) { toStderr ? Console.info(s) : Console.out(s) }

    static func mark(_ action: PlanAction) -> String {
        switch action {
        case .create: return "+"
        case .update: return "~"
        case .replace: return "-/+"
        case .delete: return "-"
        case .noop: return " "
        case .notOurs: return "!"
        }
    }

    /// An attribute's value quoted; a missing or empty one (no extra grants, no callback URLs) as `(none)`.
    static func value(_ v: String?) -> String {
        guard let v, !v.isEmpty else { return "(none)" }
        return "\"\(Console.safe(v))\""
    }

    func print(_ plan: StackPlan) {
        let changing = plan.items.filter { $0.action != .noop }
        if changing.isEmpty {
            line("No changes: the stack matches the configuration.")
            return
        }
        for item in changing {
            var tail: String
            switch item.action {
            case .update: tail = "update in place"
            case .replace:
                let forcing = item.changes.filter(\.replaces).map(\.name)
                tail = forcing.isEmpty ? "replace" : "replace (\(forcing.joined(separator: ", ")) forces replacement)"
            default: tail = item.action.rawValue
            }
            if let reason = item.reason { tail += ": \(reason)" }
            let id = item.record?.id.map { " \(Console.safe($0))" } ?? ""
            line("  \(pad(Self.mark(item.action), 3)) \(pad(item.name + id, 58)) \(tail)")
            for c in item.changes {
                line("        \(c.name): \(Self.value(c.old)) -> \(Self.value(c.new))\(c.replaces ? "  (forces replacement)" : "")\(Self.outside(c))")
            }
        }
        line(plan.summary)
    }

    /// `plan --output json`: stable keys, one object per resource that changes.
    static func json(_ plan: StackPlan, target: String) -> JSON {
        let resources: [JSON] = plan.items.filter { $0.action != .noop }.map { item in
            var o: [String: JSON] = ["key": .string(item.key.rawValue), "label": .string(item.label), "action": .string(item.action.rawValue),
                                     "changes": .array(item.changes.map(changeJSON))]
            if let d = item.detail { o["route_key"] = .string(d) }
            if let r = item.reason { o["reason"] = .string(r) }
            if let id = item.record?.id { o["id"] = .string(id) }
            return .object(o)
        }
        return ["target": .string(target), "changes": .bool(plan.hasChanges),
                "summary": ["create": .number(Double(plan.count(.create))), "update": .number(Double(plan.count(.update))),
                            "replace": .number(Double(plan.count(.replace))), "delete": .number(Double(plan.count(.delete)))],
                "resources": .array(resources)]
    }

    static func changeJSON(_ c: AttributeChange) -> JSON {
        ["attribute": .string(c.name), "old": c.old.map { .string($0) } ?? .null, "new": .string(c.new),
         "forces_replacement": .bool(c.replaces), "security": .bool(c.security), "changed_outside": .bool(c.changedOutside)]
    }

    /// Marks a live value that differs from what secure-api last applied (not a config change).
    static func outside(_ c: AttributeChange) -> String { c.changedOutside ? "  (changed outside secure-api)" : "" }
}

/// `status`: each resource's state, then every drifted attribute, security drift first.
struct StatusReport {
    let plan: StackPlan
    let live: [String: LiveState]

    struct Drift {
        let item: PlanItem
        let attribute: String
        let expected: String
        let actual: String?  // nil: the live resource lacks the attribute
        let security: Bool
        var changedOutside = false
    }

    var complete: Bool { !plan.hasChanges }

    func status(_ item: PlanItem) -> String {
        switch item.action {
        case .noop:
            if let r = item.record, live[r.ref]?.ownership == .gone { return "not yet created (made by AWS on first use)" }
            return "exists"
        case .create: return item.record == nil ? "not created" : item.record?.status == .pending ? "pending" : "missing"
        case .update, .replace: return item.changes.contains(where: \.security) ? "DRIFTED (security)" : "drifted"
        case .delete: return "left over: create deletes it"
        case .notOurs: return "NOT OURS (left alone): \(item.reason ?? "")"
        }
    }

    var drift: [Drift] {
        var all: [Drift] = []
        for item in plan.items {
            if item.action == .create, item.record?.status == .created {
                all.append(Drift(item: item, attribute: "(resource)", expected: "exists", actual: "missing",
                                 security: [.route, .routeWrite, .authorizer, .invokePermission, .authorizerPermission].contains(item.key)))
            }
            guard item.action == .update || item.action == .replace else { continue }
            for c in item.changes {
                all.append(Drift(item: item, attribute: c.name, expected: c.new, actual: c.old, security: c.security,
                                 changedOutside: c.changedOutside))
            }
        }
        return all.filter(\.security) + all.filter { !$0.security }
    }

    func print(stack: String, path: String) {
        for item in plan.items {
            Console.out("  \(pad(item.name, 40)) \(pad(Console.safe(item.record?.id ?? "-"), 30)) \(status(item))")
        }
        let drift = self.drift
        if !drift.isEmpty {
            Console.out("Drift (security first):")
            for d in drift {
                Console.out("  \(d.security ? Console.red("SECURITY") : "drift   ") \(d.item.name): \(d.attribute): expected \(PlanPrinter.value(d.expected)), actual \(PlanPrinter.value(d.actual))\(d.changedOutside ? " (changed outside secure-api)" : "")")
            }
        }
        if plan.items.contains(where: { $0.action == .notOurs }) {
            Console.out("Stack '\(stack)': resources in \(path) are no longer provably ours (replaced or re-tagged by someone else); secure-api will not touch them.")
        } else if complete {
            Console.out("Stack '\(stack)' is complete.")
        } else if !drift.isEmpty {
            Console.out("Stack '\(stack)' has drifted (\(drift.filter(\.security).count) security, \(drift.filter { !$0.security }.count) other): run create to repair it.")
        } else {
            Console.out("Stack '\(stack)' is NOT complete: run create to finish or repair it.")
        }
    }

    /// `status --output json`.
    func json(target: String, stack: String) -> JSON {
        let resources: [JSON] = plan.items.map { item in
            var o: [String: JSON] = ["key": .string(item.key.rawValue), "label": .string(item.label), "status": .string(status(item))]
            if let d = item.detail { o["route_key"] = .string(d) }
            if let id = item.record?.id { o["id"] = .string(id) }
            return .object(o)
        }
        let drifts: [JSON] = drift.map { d in
            ["key": .string(d.item.key.rawValue), "label": .string(d.item.name), "attribute": .string(d.attribute),
             "expected": .string(d.expected), "actual": d.actual.map { .string($0) } ?? .null, "security": .bool(d.security),
             "changed_outside": .bool(d.changedOutside)]
        }
        return ["target": .string(target), "stack": .string(stack), "complete": .bool(complete), "resources": .array(resources), "drift": .array(drifts)]
    }
}
