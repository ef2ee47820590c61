import AWSClient
import Foundation

/// One journal entry: a resource the stack has started or finished creating.
public struct ResourceRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, created }

    /// Node key in the stack graph (`user_pool`, `route`, ...).
    public var key: String
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

    public init(key: String, type: String, status: Status, id: String? = nil, name: String? = nil, arn: String? = nil,
                parentId: String? = nil, createdAt: String? = nil, requestedAt: String? = nil) {
        self.key = key
        self.type = type
        self.status = status
        self.id = id
        self.name = name
        self.arn = arn
        self.parentId = parentId
        self.createdAt = createdAt
        self.requestedAt = requestedAt
    }

    func toJSON() -> JSON {
        var o: [String: JSON] = ["key": .string(key), "type": .string(type), "status": .string(status.rawValue)]
        if let id { o["id"] = .string(id) }
        if let name { o["name"] = .string(name) }
        if let arn { o["arn"] = .string(arn) }
        if let parentId { o["parent_id"] = .string(parentId) }
        if let createdAt { o["created_at"] = .string(createdAt) }
        if let requestedAt, status == .pending { o["requested_at"] = .string(requestedAt) }
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
            throw StackError.malformedState("resources[\(index)].status must be 'pending' or 'created', not '\(statusText)'")
        }
        let requestedAt = try opt("requested_at")
        if let r = requestedAt, r.isEmpty || r.count > 12 || !r.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw StackError.malformedState("resources[\(index)].requested_at must be Unix seconds, not '\(r.prefix(20))'")
        }
        self.init(key: key, type: type, status: status, id: try opt("id"), name: try opt("name"), arn: try opt("arn"),
                  parentId: try opt("parent_id"), createdAt: try opt("created_at"), requestedAt: requestedAt)
    }
}

/// Where a stack lives; recorded so teardown goes to the same place.
public struct StackTarget: Sendable, Equatable {
    public var region: String
    public var account: String
    /// The custom endpoint (emulator) the stack was created against, nil for AWS.
    public var endpoint: String?

    public init(region: String, account: String, endpoint: String?) {
        self.region = region
        self.account = account
        self.endpoint = endpoint
    }

    func toJSON() -> JSON {
        var o: [String: JSON] = ["region": .string(region), "account": .string(account)]
        if let endpoint { o["endpoint"] = .string(endpoint) }
        return .object(o)
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

    public func record(_ key: String) -> ResourceRecord? { resources.first { $0.key == key } }

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
        guard version == StateFile.currentVersion else { throw StackError.unsupportedStateVersion(version) }
        guard let stackId = json["stack_id"]?.string else { throw StackError.malformedState("'stack_id' must be a string") }
        guard let t = json["target"], let region = t["region"]?.string, let account = t["account"]?.string else {
            throw StackError.malformedState("'target' needs region and account strings")
        }
        if let e = t["endpoint"], e.string == nil { throw StackError.malformedState("target.endpoint must be a string") }
        guard let configJSON = json["config"], case .object = configJSON else {
            throw StackError.malformedState("'config' must be an object")
        }
        guard let list = json["resources"]?.array else { throw StackError.malformedState("'resources' must be a list") }
        self.stackId = stackId
        self.target = StackTarget(region: region, account: account, endpoint: t["endpoint"]?.string)
        self.config = try StackConfig(json: configJSON)
        do { try config.validate() } catch let StackError.invalidConfig(m) {
            throw StackError.malformedState("config: \(m)")
        }
        self.resources = try list.enumerated().map { try ResourceRecord(json: $0.element, index: $0.offset) }
        var seen = Set<String>()
        for r in resources where !seen.insert(r.key).inserted {
            throw StackError.malformedState("resource '\(r.key)' appears twice")
        }
    }
}

/// state.json on disk: read-validate (refusing anything odd, untouched), an exclusive lock
/// for the run, and atomic writes (temp file, fsync, rename, fsync dir), mode 0600.
public final class StateFile: @unchecked Sendable {
    // @unchecked: `lockFD` is set once in `lock()` before any concurrent use.
    public static let currentVersion = 1
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
        let json: JSON
        do { json = try JSON(parsing: Array(data)) } catch {
            throw StackError.malformedState("\(path) is not valid JSON (\(error))")
        }
        do { return try StackState(json: json) } catch let e as StackError {
            if case .malformedState(let m) = e { throw StackError.malformedState("\(path): \(m)") }
            throw e
        }
    }

    public func save(_ state: StackState, outputs: [String: String]) throws {
        let text = state.toJSON(outputs: outputs).serialized(pretty: true) + "\n"
        do { try AtomicFile.write(Array(text.utf8), to: path) } catch { throw StackError.stateIO("\(error)") }
    }

    /// Removes the state file. The lock file stays: unlinking a file others may be waiting
    /// to lock would let two runs each lock a different inode.
    public func remove() throws {
        if exists, unlink(path) != 0 { throw StackError.stateIO("cannot remove \(path): \(String(cString: strerror(errno)))") }
    }
}
