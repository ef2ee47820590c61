import AWSClient
import Foundation

/// One journal entry: a resource the stack has started or finished creating.
public struct ResourceRecord: Sendable, Equatable {
    /// `deposed`: replaced by a new resource of the same key; deleted once its dependents moved.
    public enum Status: String, Sendable { case pending, created, deposed }

    /// Node key in the stack graph (`user_pool`, `route`, ...).
    public var key: NodeKey
    /// `service:kind`, e.g. `cognito-idp:user-pool`.
    public var type: String
    public var status: Status
    public var id: String?
    public var name: String?
    public var arn: String?
    /// The ID of the resource this one lives in (pool, API, role, function), so delete needs
    /// nothing but the journal.
    public var parentId: String?
    public var createdAt: String?
    /// When the create call was (last) sent, Unix seconds: a resumed run knows whether that
    /// request could still be in flight.
    public var requestedAt: String?
    /// An ID AWS never reuses, where the kind has one besides its name (an IAM role's RoleId):
    /// a same-named resource made by someone else after ours went has a different one.
    public var uniqueId: String?
    /// The attributes of the kind's schema as this tool last applied them (never a secret; code
    /// as its hash). Live values that differ from these were changed outside secure-api. Absent
    /// in older records: live is all there is then.
    public var applied: [String: String]?

    public init(key: NodeKey, type: String, status: Status, id: String? = nil, name: String? = nil, arn: String? = nil,
                parentId: String? = nil, createdAt: String? = nil, requestedAt: String? = nil, uniqueId: String? = nil) {
        self.key = key
        self.type = type
        self.status = status
        self.id = id
        self.name = name
        self.arn = arn
        self.parentId = parentId
        self.createdAt = createdAt
        self.requestedAt = requestedAt
        self.uniqueId = uniqueId
    }

    /// Identifies a record in the journal: its key, and for a deposed one also its ID.
    public var ref: String { status == .deposed ? "\(key)#\(id ?? "")" : key.rawValue }

    func toJSON() -> JSON {
        var o: [String: JSON] = ["key": .string(key.rawValue), "type": .string(type), "status": .string(status.rawValue)]
        if let id { o["id"] = .string(id) }
        if let name { o["name"] = .string(name) }
        if let arn { o["arn"] = .string(arn) }
        if let parentId { o["parent_id"] = .string(parentId) }
        if let createdAt { o["created_at"] = .string(createdAt) }
        if let requestedAt, status == .pending { o["requested_at"] = .string(requestedAt) }
        if let uniqueId { o["unique_id"] = .string(uniqueId) }
        if let applied, status != .pending { o["attributes"] = .object(applied.mapValues { .string($0) }) }
        return .object(o)
    }

    init(json: JSON, index: Int) throws {
        guard case .object = json else { throw StackError.malformedState("resources[\(index)] must be an object") }
        func opt(_ k: String) throws -> String? {
            guard let v = json[k] else { return nil }
            guard let s = v.string else { throw StackError.malformedState("resources[\(index)].\(k) must be a string") }
            return s
        }
        guard let key = try opt("key"), let type = try opt("type"), let statusText = try opt("status") else {
            throw StackError.malformedState("resources[\(index)] needs key, type and status")
        }
        guard let status = Status(rawValue: statusText) else {
            throw StackError.malformedState("resources[\(index)].status must be 'pending', 'created' or 'deposed', not '\(statusText)'")
        }
        let requestedAt = try opt("requested_at")
        if let r = requestedAt, r.isEmpty || r.count > 12 || !r.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw StackError.malformedState("resources[\(index)].requested_at must be Unix seconds, not '\(r.prefix(20))'")
        }
        self.init(key: NodeKey(rawValue: key), type: type, status: status, id: try opt("id"), name: try opt("name"), arn: try opt("arn"),
                  parentId: try opt("parent_id"), createdAt: try opt("created_at"), requestedAt: requestedAt,
                  uniqueId: try opt("unique_id"))
        if let attributes = json["attributes"] {
            guard case .object(let fields) = attributes else {
                throw StackError.malformedState("resources[\(index)].attributes must be an object of strings")
            }
            applied = try fields.mapValues {
                guard let s = $0.string else { throw StackError.malformedState("resources[\(index)].attributes must be an object of strings") }
                return s
            }
        }
    }
}

/// Where a stack lives; recorded so teardown goes to the same place.
public struct StackTarget: Sendable, Equatable {
    public var region: String
    public var account: String
    /// The custom base endpoint (emulator) the stack was created against, nil for AWS.
    public var endpoint: String?
    /// The endpoint each service was reached at (service name -> URL), so a later run that
    /// would send one service elsewhere (AWS_ENDPOINT_URL_COGNITO_IDP, ...) is refused.
    public var endpoints: [String: String]

    public init(region: String, account: String, endpoint: String?, endpoints: [String: String]) {
        self.region = region
        self.account = account
        self.endpoint = endpoint
        self.endpoints = endpoints
    }

    /// Every service at one base endpoint (or at AWS's for the region): what a version-1 state meant.
    public static func endpoints(region: String, base endpoint: String?) -> [String: String] {
        let resolver = EndpointResolver(flag: endpoint, environment: [:], region: region)
        var map: [String: String] = [:]
        for service in AWSService.all { map[service.name] = (try? resolver.resolve(service))?.endpoint.description }
        return map
    }

    func toJSON() -> JSON {
        var o: [String: JSON] = ["region": .string(region), "account": .string(account),
                                 "endpoints": .object(endpoints.mapValues { .string($0) })]
        if let endpoint { o["endpoint"] = .string(endpoint) }
        return .object(o)
    }

    init(json t: JSON, version: Int) throws {
        guard let region = t["region"]?.string, let account = t["account"]?.string else {
            throw StackError.malformedState("'target' needs region and account strings")
        }
        if let e = t["endpoint"], e.string == nil { throw StackError.malformedState("target.endpoint must be a string") }
        let endpoint = t["endpoint"]?.string
        var endpoints: [String: String]
        if version == 1 {
            endpoints = Self.endpoints(region: region, base: endpoint)
        } else {
            guard let map = t["endpoints"]?.object else { throw StackError.malformedState("target.endpoints must be an object") }
            endpoints = [:]
            for (service, url) in map {
                guard let u = url.string, Endpoint(parsing: u) != nil else {
                    throw StackError.malformedState("target.endpoints.\(service) must be an http(s) URL")
                }
                endpoints[service] = u
            }
        }
        self.init(region: region, account: account, endpoint: endpoint, endpoints: endpoints)
    }
}

/// The whole of state.json.
public struct StackState: Sendable, Equatable {
    public var stackId: String
    public var target: StackTarget
    public var config: StackConfig
    public var resources: [ResourceRecord]

    public init(stackId: String, target: StackTarget, config: StackConfig, resources: [ResourceRecord]) {
        self.stackId = stackId
        self.target = target
        self.config = config
        self.resources = resources
    }

    /// The current (not deposed) records by key.
    public var currentRecords: [NodeKey: ResourceRecord] {
        Dictionary(resources.filter { $0.status != .deposed }.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The current (not deposed) record of a key.
    public func record(_ key: NodeKey) -> ResourceRecord? { resources.first { $0.key == key && $0.status != .deposed } }

    func toJSON(outputs: [String: String]) -> JSON {
        [
            "version": .number(Double(StateFile.currentVersion)),
            "generator": "secure-api",
            "stack_id": .string(stackId),
            "target": target.toJSON(),
            "config": config.toJSON(),
            "resources": .array(resources.map { $0.toJSON() }),
            "outputs": .object(outputs.mapValues { .string($0) }),
        ]
    }

    init(json: JSON) throws {
        guard case .object = json else { throw StackError.malformedState("top level must be a JSON object") }
        guard let versionValue = json["version"] else { throw StackError.malformedState("no 'version' field") }
        guard let version = versionValue.int else { throw StackError.malformedState("'version' must be an integer") }
        guard StateFile.readableVersions.contains(version) else { throw StackError.unsupportedStateVersion(version) }
        guard let stackId = json["stack_id"]?.string else { throw StackError.malformedState("'stack_id' must be a string") }
        guard let t = json["target"], case .object = t else { throw StackError.malformedState("'target' must be an object") }
        let target = try StackTarget(json: t, version: version)
        guard let configJSON = json["config"], case .object = configJSON else {
            throw StackError.malformedState("'config' must be an object")
        }
        guard let list = json["resources"]?.array else { throw StackError.malformedState("'resources' must be a list") }
        self.stackId = stackId
        self.target = target
        self.config = try StackConfig(json: configJSON)
        do { try config.validate() } catch let StackError.invalidConfig(m) {
            throw StackError.malformedState("config: \(m)")
        }
        self.resources = try list.enumerated().map { try ResourceRecord(json: $0.element, index: $0.offset) }
        var seen = Set<NodeKey>()
        for r in resources where r.status != .deposed && !seen.insert(r.key).inserted {
            throw StackError.malformedState("resource '\(r.key)' appears twice")
        }
        // One resource, two records (a hand edit): deleting one record's resource would delete
        // the other's live one. The tool never writes this (a deposed one wanted again is
        // un-deposed before it is recorded current).
        var holders: [String: NodeKey] = [:]
        for r in resources where r.status != .pending {
            guard let id = r.id else { continue }
            let ref = "\(r.type)\u{0}\(r.parentId ?? "")\u{0}\(id)"
            if let other = holders.updateValue(r.key, forKey: ref) {
                throw StackError.malformedState("resources '\(other)' and '\(r.key)' both name \(r.type) \(id)")
            }
        }
    }
}

/// Where a run's journal is written: the local file, or an S3 object. The executor never
/// knows which; tests use an in-memory one.
public protocol StateStore: Sendable {
    /// Writes the whole state durably (atomically) before returning.
    func save(_ state: StackState, outputs: [String: String]) async throws
    /// Removes the state once nothing it lists remains.
    func remove() async throws
}

/// What a command opens by `--state`: a store it can also lock for the run, read and release.
public protocol StateBackend: StateStore {
    /// The file's path, or `s3://BUCKET/KEY`, for messages.
    var path: String { get }
    func hasState() async throws -> Bool
    /// Takes the run's exclusive lock for `operation` (create, delete, ...), or refuses naming the holder.
    func lock(operation: String) async throws
    /// Releases the lock taken by `lock`; answers a warning when it could not be.
    func unlock() async -> String?
    /// Reads and validates; nil when there is no state.
    func load() async throws -> StackState?
}

extension StackState {
    /// The document stored: state.json's text.
    public func document(outputs: [String: String]) -> String {
        toJSON(outputs: outputs).serialized(pretty: true) + "\n"
    }

    /// Parses and validates a stored document; `source` (a path or URL) prefixes any complaint.
    static func decode(_ bytes: [UInt8], source: String) throws -> StackState {
        let json: JSON
        do { json = try JSON(parsing: bytes) } catch {
            throw StackError.malformedState("\(source) is not valid JSON (\(error))")
        }
        do { return try StackState(json: json) } catch let e as StackError {
            if case .malformedState(let m) = e { throw StackError.malformedState("\(source): \(m)") }
            throw e
        }
    }
}

/// state.json on disk: read-validate (refusing anything odd, untouched), an exclusive lock
/// for the run, and atomic writes (temp file, fsync, rename, fsync dir), mode 0600.
public final class StateFile: StateBackend, @unchecked Sendable {
    // @unchecked: `lockFD` is set once in `lock()` before any concurrent use.
    /// 2 records every service's endpoint (1 had one base endpoint) and optional per-record
    /// fields; a version-1 file still reads, resumes and deletes, and is written back as 2.
    public static let currentVersion = 2
    static let readableVersions = 1...2
    public let path: String
    private var lockFD: Int32 = -1

    public init(path: String) { self.path = path }

    deinit { if lockFD >= 0 { close(lockFD) } }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Takes the run's exclusive lock (a sibling `.lock` file with flock), or refuses.
    public func lock() throws {
        // Beside the file a symlinked state.json writes through to, so runs reaching it by the
        // link and by its real path exclude each other.
        let lockPath = ((try? AtomicFile.resolvingSymlink(path)) ?? path) + ".lock"
        // O_NOFOLLOW: a symlink planted at the lock path must not aim our PID write at another
        // file; O_NONBLOCK: a FIFO there must not hang the open. No O_TRUNC: only the holder writes.
        let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw StackError.stateIO("lock file \(lockPath) is a symbolic link: refusing to follow it (remove it)") }
            throw StackError.stateIO("cannot open lock file \(lockPath): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else {
            close(fd)
            throw StackError.stateIO("lock file \(lockPath) is not a regular file of its own (a directory, device, FIFO or hard link): refusing to use it")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var holder = "pid unknown"
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 32, 0)
            if n > 0 { holder = "pid " + String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            close(fd)
            throw StackError.locked(path: path, holder: holder)
        }
        // Ours holds a PID or nothing; anything else there (a state file named like a lock,
        // someone's notes) is not overwritten.
        var held = [UInt8](repeating: 0, count: 64)
        let n = pread(fd, &held, 64, 0)
        guard n <= 0 || (n < 24 && held[0..<n].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x0a }) else {
            flock(fd, LOCK_UN)
            close(fd)
            throw StackError.stateIO("\(lockPath) exists and is not a secure-api lock (it holds more than a PID): refusing to overwrite it; move it away")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        lockFD = fd
    }

    /// Reads and validates; nil when there is no file.
    public func load() throws -> StackState? {
        guard exists else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StackError.stateIO("cannot read \(path)")
        }
        return try StackState.decode(Array(data), source: path)
    }

    public func save(_ state: StackState, outputs: [String: String]) throws {
        let text = state.document(outputs: outputs)
        do { try AtomicFile.write(Array(text.utf8), to: path) } catch { throw StackError.stateIO("\(error)") }
    }

    /// Removes the state file. The lock file stays: unlinking a file others may be waiting
    /// to lock would let two runs each lock a different inode.
    public func remove() throws {
        if exists, unlink(path) != 0 { throw StackError.stateIO("cannot remove \(path): \(String(cString: strerror(errno)))") }
    }
}

extension StateFile {
    public func hasState() -> Bool { exists }
    public func lock(operation: String) throws { try lock() }
    /// The flock goes with the process; nothing to release before.
    public func unlock() -> String? { nil }
}

extension StackState {
    /// The account in the ARNs of the resources recorded (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
    public var accountOfRecordedARNs: String? {
        resources.lazy.compactMap { r -> String? in
            guard let parts = r.arn?.split(separator: ":", omittingEmptySubsequences: false), parts.count > 5 else { return nil }
            let account = String(parts[4])
            return account.count == 12 && account.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? account : nil
        }.first
    }
}
