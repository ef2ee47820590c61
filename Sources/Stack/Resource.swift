import AWSClient
import Services

/// The service clients a stack uses.
public struct StackServices: Sendable {
    public let cognito: CognitoIdentityProvider
    public let apigateway: APIGatewayV2
    public let iam: IAM
    public let lambda: Lambda
    public let logs: CloudWatchLogs

    public init(client: AWSClient) {
        cognito = CognitoIdentityProvider(client: client)
        apigateway = APIGatewayV2(client: client)
        iam = IAM(client: client)
        lambda = Lambda(client: client)
        logs = CloudWatchLogs(client: client)
    }
}

/// Everything a resource's create/find/delete/read call may need.
public struct ResourceContext: Sendable {
    public let services: StackServices
    public let config: StackConfig
    public let target: StackTarget
    public let stackId: String
    /// Journal entries of the stack so far (created dependencies among them).
    public let records: [NodeKey: ResourceRecord]
    /// The test user's password: passed in, never stored.
    public let password: String?
    /// Progress notes ("waiting for IAM ...").
    public let note: @Sendable (String) -> Void
    /// Re-journals the pending entry under a new name before retrying (domain prefix).
    public let renamePending: @Sendable (String) async throws -> Void
    /// While planning: the dependencies whose IDs are not known yet (to be created or
    /// replaced); they read as `<key>`. Nil when applying: every dependency must exist.
    public var unknown: Set<NodeKey>? = nil
    /// Planning, not applying: nothing is sent, and the password may be absent (never shown).
    public var planning: Bool { unknown != nil }
    /// IDs `find` passes over: a replacement's deposed old resource, which may share the new
    /// one's name (taking it for the new one would leave the new one unjournalled).
    public var excluded: Set<String> = []
    /// Ctrl-C's stop request: a kind's waits (IAM propagation, a function settling) end at it.
    var stop: StopSignal?

    /// A kind's bounded wait-and-retry, cut short by a stop and saying its notes as progress.
    func retrying(_ limit: Retrying.Limit, delay: @escaping @Sendable (Int) -> Double) -> Retrying {
        Retrying(limit, delay: delay, stop: stop, note: note)
    }

    public var tags: Tags { ["secure-api:stack": config.stackName, "secure-api:id": stackId] }

    /// Whether a resource's tags say this stack made it.
    public func owns(_ resourceTags: Tags) -> Bool { resourceTags["secure-api:id"] == stackId }

    /// A resource with our unique name but not our tag is someone else's: never adopt it
    /// (delete would later remove it).
    func requireOwned(_ resourceTags: Tags, _ what: String, flag: String) throws {
        guard owns(resourceTags) else {
            throw StackError.foreignResource("\(what) already exists and was not created by this stack; choose another \(flag)")
        }
    }

    /// A created dependency's ID; the graph guarantees it exists when create runs.
    public func id(of key: NodeKey) throws -> String {
        if let unknown, unknown.contains(key) || records[key]?.status != .created { return "<\(key)>" }
        guard let r = records[key], r.status == .created, let id = r.id else {
            throw StackError.invalidConfig("internal: dependency '\(key)' is not created")
        }
        return id
    }

    public func arn(of key: NodeKey) throws -> String {
        if let unknown, unknown.contains(key) || records[key]?.arn == nil { return "<\(key) arn>" }
        guard let r = records[key], let arn = r.arn else {
            throw StackError.invalidConfig("internal: dependency '\(key)' has no ARN")
        }
        return arn
    }

    /// Cognito's issuer URL for the pool (what API Gateway's JWT authorizer trusts).
    public func issuer(poolId: String) -> String { "https://cognito-idp.\(target.region).amazonaws.com/\(poolId)" }
}

/// One kind of resource: its calls and what it needs. The stack graph is a list of these.
public protocol StackResource: Sendable {
    /// Node key, unique in the graph and in state.json.
    var key: NodeKey { get }
    /// `service:kind`, recorded in state.json.
    var type: String { get }
    /// Human label for progress lines.
    var label: String { get }
    var dependencies: [NodeKey] { get }
    /// The name recorded with the pending entry (what `find` will look for after a crash).
    func pendingName(_ config: StackConfig) -> String?
    /// The calls a create makes, as the request values it sends (built by the same functions
    /// `create` uses): what the offline `plan` prints. Empty for a kind AWS makes on demand.
    func createRequests(_ ctx: ResourceContext) throws -> [any ServiceRequest]
    func create(_ ctx: ResourceContext) async throws -> ResourceRecord
    /// Finds a resource a crashed run may have created (by unique name or tag), to adopt it.
    func find(_ ctx: ResourceContext, pending: ResourceRecord) async throws -> ResourceRecord?
    /// True when AWS refuses a second resource with the same name (role, function, domain...):
    /// then a create racing a killed run's in-flight request fails and we adopt. False for
    /// kinds found by tag or listing (user pool, API, app client, route...).
    var uniqueName: Bool { get }
    /// True for resources AWS creates on its own later (the log group): absent is not drift.
    var createdOnDemand: Bool { get }
    /// Completes an adopted resource whose create was interrupted midway (default: nothing).
    func finishAdoption(_ record: ResourceRecord, _ ctx: ResourceContext) async throws
    /// Deletes; "not found" is thrown as is and counted as deleted by the executor.
    func delete(_ record: ResourceRecord, _ ctx: ResourceContext) async throws
    /// AWS's error codes for "this resource (or the one it lives in) does not exist" on this
    /// kind's calls. Default: its service's code (`NotFound.codes`), from `type`.
    var notFoundCodes: Set<String> { get }
    /// Whether AWS refused a create because one with the kind's unique name exists: the
    /// executor then adopts it if `find` proves it ours (an earlier attempt whose answer was
    /// lost), else reports the error. Default: never.
    func isAlreadyExists(_ error: AWSServiceError) -> Bool
    /// The node whose ownership covers this one (a route's API, a permission's function); nil
    /// for a kind that proves its own (tags, IDs AWS never reuses).
    var ownerKey: NodeKey? { get }
    /// Whether this kind cannot outlive its owner (a route its API); a log group can.
    var goneWithOwner: Bool { get }
    /// Reads the live resource: still ours, gone, or not provably ours, and the attributes of
    /// `schema` as they are. Kinds with an owner only say whether they exist; the executor adds
    /// the owner's verdict.
    func read(_ record: ResourceRecord, _ ctx: ResourceContext) async throws -> LiveState

    // Converge: what the configuration wants, and how a difference is applied.
    /// The attributes compared with live ones: which update in place, which force a new resource.
    var schema: [AttributeSpec] { get }
    /// The attributes the configuration wants (IDs of dependencies from `ctx`; during `plan`
    /// a dependency not yet made reads as `<key>`).
    func desired(_ ctx: ResourceContext) throws -> Attributes
    /// Applies in-place changes (only attributes whose spec says `.update`).
    func update(_ record: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord
    /// A replacement deletes the old one first (one domain per pool, one statement id per
    /// policy); otherwise the new one is made first and the old deleted after its dependents moved.
    var replaceDeletesFirst: Bool { get }
    /// Replacing or deleting it destroys data (the user pool and its users): needs --allow-replace.
    var holdsData: Bool { get }
    /// Whether `create` makes one call (the default): then a refused or unsent create made
    /// nothing, and its pending record can go. A create of several calls (a user, then its
    /// password) may have made something before the call that failed.
    var createIsOneCall: Bool { get }
}

/// Canonical attribute values (lists sorted and joined), compared as strings.
public typealias Attributes = [String: String]

public enum ChangeMode: Sendable { case update, replace }

public struct AttributeSpec: Sendable {
    public let name: String
    public let mode: ChangeMode
    /// Drift in it weakens the API's protection (a route's authorization, a permission's scope).
    public let security: Bool

    public init(_ name: String, _ mode: ChangeMode = .update, security: Bool = false) {
        self.name = name
        self.mode = mode
        self.security = security
    }
}

public struct AttributeChange: Sendable, Equatable {
    public let name: String
    public let old: String?
    public let new: String
    public let replaces: Bool
    public let security: Bool
    /// Live differs from what this tool last applied: someone changed it outside secure-api
    /// (else the configuration changed).
    public var changedOutside = false
}

/// What a read found.
public struct LiveState: Sendable, Equatable {
    public var ownership: Ownership
    public var attributes: Attributes

    public init(_ ownership: Ownership, _ attributes: Attributes = [:]) {
        self.ownership = ownership
        self.attributes = attributes
    }

    public static let gone = LiveState(.gone)
}

/// The schema's attributes that differ (a value the live side lacks counts as different);
/// `applied`, the record's last-applied values, tells drift from a changed configuration.
public func diff(_ schema: [AttributeSpec], desired: Attributes, live: Attributes, applied: Attributes? = nil) -> [AttributeChange] {
    schema.compactMap { spec in
        guard let want = desired[spec.name], live[spec.name] != want else { return nil }
        return AttributeChange(name: spec.name, old: live[spec.name], new: want, replaces: spec.mode == .replace, security: spec.security,
                               changedOutside: applied?[spec.name].map { $0 != live[spec.name] } ?? false)
    }
}

/// A list attribute's canonical form: order does not matter to AWS for these.
func listValue(_ values: [String]) -> String { values.sorted().joined(separator: ",") }

/// What a live read says about a resource state.json lists.
public enum Ownership: Sendable, Equatable {
    case ours
    case gone
    /// Another resource now holds the name (ours is gone): left alone, dropped from state.
    case replaced(String)
    /// The same resource, but our tag is missing or another stack's: left alone, kept in state.
    case unproven(String)

    /// Judges a live resource by its tags and, where the kind has one, the ID AWS never reuses.
    static func judge(tags: Tags, uniqueId: String? = nil, recordedUniqueId: String? = nil, stackId: String,
                      sameResourceById: Bool) -> Ownership {
        if let recordedUniqueId, let uniqueId, recordedUniqueId != uniqueId {
            return .replaced("its ID is \(uniqueId), not \(recordedUniqueId) as created: replaced by someone else")
        }
        guard tags["secure-api:id"] == stackId else {
            let found = tags["secure-api:id"].map { "secure-api:id=\($0)" } ?? "no secure-api:id tag"
            // Same ID as created: our resource whose tag was changed; else a same-named stranger.
            return sameResourceById || recordedUniqueId != nil
                ? .unproven("it carries \(found), not this stack's \(stackId)")
                : .replaced("it carries \(found), not this stack's \(stackId): replaced by someone else")
        }
        return .ours
    }
}

extension StackResource {
    public var notFoundCodes: Set<String> { NotFound.codes(service: String(type.prefix { $0 != ":" })) }
    public func isAlreadyExists(_ error: AWSServiceError) -> Bool { false }

    /// Whether ERROR is AWS saying this kind's resource does not exist.
    public func isNotFound(_ error: Error) -> Bool {
        guard let e = error as? AWSServiceError else { return false }
        return notFoundCodes.contains(e.code)
    }

    /// What a read or find call answers, or nil when AWS says "not found".
    func ifFound<T>(_ body: () async throws -> T) async throws -> T? {
        do { return try await body() } catch where isNotFound(error) { return nil }
    }

    /// Whether the call finds its resource (false on "not found").
    func probe(_ body: () async throws -> Void) async throws -> Bool { try await ifFound(body) != nil }

    public var createdOnDemand: Bool { false }
    public var uniqueName: Bool { false }
    public var ownerKey: NodeKey? { nil }
    public var goneWithOwner: Bool { true }

    public func ownership(_ record: ResourceRecord, _ ctx: ResourceContext) async throws -> Ownership {
        try await read(record, ctx).ownership
    }

    public var schema: [AttributeSpec] { [] }
    public func desired(_ ctx: ResourceContext) throws -> Attributes { [:] }
    public var replaceDeletesFirst: Bool { false }
    public var holdsData: Bool { false }
    public var createIsOneCall: Bool { true }

    public func update(_ record: ResourceRecord, _ changes: [AttributeChange], _ ctx: ResourceContext) async throws -> ResourceRecord {
        throw StackError.invalidConfig("internal: \(label) has no in-place update for \(changes.map(\.name).joined(separator: ", "))")
    }

    func finishAdoption(_ record: ResourceRecord, _ ctx: ResourceContext) async throws {}

    func record(id: String?, name: String?, arn: String? = nil, parentId: String? = nil, uniqueId: String? = nil) -> ResourceRecord {
        ResourceRecord(key: key, type: type, status: .created, id: id, name: name, arn: arn, parentId: parentId, uniqueId: uniqueId)
    }
}

extension ResourceRecord {
    func requireId() throws -> String {
        guard let id, !id.isEmpty else { throw StackError.malformedState("resource '\(key)' has no id") }
        return id
    }

    func requireParent() throws -> String {
        guard let parentId, !parentId.isEmpty else { throw StackError.malformedState("resource '\(key)' has no parent_id") }
        return parentId
    }
}
