import AWSClient
import Crypto
import Foundation
import Services

/// Where `--state` points: a local file, or an object in S3 (`s3://BUCKET/KEY`).
public enum StateLocation: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case s3(bucket: String, key: String)

    public init(parsing text: String) throws {
        guard text.lowercased().hasPrefix("s3://") else {
            guard !text.isEmpty else { throw StackError.invalidConfig("--state must not be empty") }
            // PATH.lock is the lock of PATH: a state there would be overwritten by another's lock.
            guard !text.hasSuffix(".lock") else {
                throw StackError.invalidConfig("--state \(text): a name ending in '.lock' is where the lock of another state lives; choose another name")
            }
            self = .file(text)
            return
        }
        let rest = text.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else {
            throw StackError.invalidConfig("--state \(text) names no key: expected s3://BUCKET/KEY (e.g. s3://my-state/secure-api/state.json)")
        }
        let bucket = String(rest[..<slash]), key = String(rest[rest.index(after: slash)...])
        try Self.validate(bucket: bucket)
        guard !key.isEmpty, !key.hasSuffix("/"), key.utf8.count <= 1000,
              !key.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." }),
              key.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw StackError.invalidConfig("--state \(text): the key must be a file-like name (no trailing '/', no '.' or '..' segments, no control characters, at most 1000 bytes)")
        }
        // KEY.lock is the lock of KEY: a state there would be another state's lock.
        guard !key.hasSuffix(".lock") else {
            throw StackError.invalidConfig("--state \(text): a key ending in '.lock' is where the lock of another state lives; choose another name")
        }
        self = .s3(bucket: bucket, key: key)
    }

    /// S3's bucket naming rules (general purpose buckets).
    public static func validate(bucket: String) throws {
        let ok = (3...63).contains(bucket.count)
            && bucket.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e }
            && bucket.first.map { $0.isLetter || $0.isNumber } == true && bucket.last.map { $0.isLetter || $0.isNumber } == true
            && !bucket.contains("..")
        guard ok else {
            throw StackError.invalidConfig("bucket name '\(bucket)' breaks S3's rules: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit")
        }
    }

    public var description: String {
        switch self {
        case .file(let p): return p
        case .s3(let b, let k): return "s3://\(b)/\(k)"
        }
    }
}

/// The state as an S3 object, as Terraform's S3 backend keeps it (`use_lockfile`): the run's
/// lock is `KEY.lock`, created with `If-None-Match: *` (S3 refuses a second one with 412), and
/// every write of the state is conditional on the ETag of this run's last write (`If-Match`),
/// so a write that raced in between is detected, never overwritten. Objects are written with
/// server-side encryption requested. Reads are strongly consistent in S3.
public final class S3StateStore: StateBackend, @unchecked Sendable {
    // @unchecked: the mutable fields are only touched under `mutex`.
    public let bucket: String
    public let key: String
    let s3: S3
    private let mutex = NSLock()
    /// ETag of the object as this run last read or wrote it; nil while there is none.
    private var etag: String?
    /// Set by the first write found raced: every later write is refused the same way.
    private var conflict: StackError?
    private var held: (info: LockInfo, etag: String)?
    /// Writes of the state under way, and whether the lock is being released (no write starts
    /// then): a write still in flight when the lock goes could land on the next run's state.
    private var writesInFlight = 0
    private var releasing = false

    /// How often a 409 ConditionalRequestConflict (a concurrent conditional write) is retried.
    static let conflictAttempts = 5
    /// How long releasing the lock waits for a state write in flight (a hard exit allows 5 s in
    /// all, the lock's own DELETE included).
    static let releaseWait: TimeInterval = 3

    public init(bucket: String, key: String, client: AWSClient) {
        self.bucket = bucket
        self.key = key
        self.s3 = S3(client: client)
    }

    public var path: String { "s3://\(bucket)/\(key)" }
    public var lockKey: String { key + ".lock" }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body()
    }

    // MARK: - Reading

    public func hasState() async throws -> Bool { try await read() != nil }

    public func load() async throws -> StackState? {
        guard let object = try await read() else { return nil }
        return try StackState.decode(object.body, source: path)
    }

    /// The stored document, unparsed (`state show` prints it); remembers its ETag.
    public func read() async throws -> S3.Object? {
        let object = try await call("read") { try await s3.getObject(bucket: bucket, key: key) }
        locked { etag = object?.etag }
        return object
    }

    // MARK: - Writing

    public func save(_ state: StackState, outputs: [String: String]) async throws {
        let body = Array(state.document(outputs: outputs).utf8)
        let (condition, refused, updating) = locked { (etag.map(S3.Condition.ifMatch) ?? .ifAbsent, conflict, etag != nil) }
        try await beginWrite()
        defer { locked { writesInFlight -= 1 } }
        do {
            // After a refused write, later ones (creates that were in flight) still reach the local copy.
            if let refused { throw refused }
            do {
                let newTag = try await retryingConflicts { try await s3.putObject(bucket: bucket, key: key, body: body, condition: condition) }
                locked { etag = newTag }
            } catch let e as AWSServiceError where e.httpStatus == 412 || (e.httpStatus == 404 && updating) {
                // 412: changed since our last write; 404 on If-Match: deleted since. Our own write
                // may have landed on an attempt whose answer was lost: then it is what we sent.
                if let now = try? await s3.getObject(bucket: bucket, key: key), now.body == body {
                    locked { etag = now.etag }
                    return
                }
                throw raced("write")
            } catch let e as AWSServiceError {
                throw failure("write", e)
            }
        } catch {
            throw keptLocally(body, after: error)
        }
    }

    /// Where a journal that could not be written to S3 goes, so no created resource is ever
    /// known only to a dead process (Terraform's errored.tfstate).
    public static let erroredCopy = "secure-api-errored-state.json"

    /// Writes what could not go to S3 to a local 0600 file (again at every later write, so it
    /// stays the newest) and says where, and how to put it back.
    private func keptLocally(_ body: [UInt8], after error: Error) -> Error {
        guard (try? AtomicFile.write(body, to: Self.erroredCopy)) != nil else { return error }
        return StackError.stateIO("\(error); this run's journal was saved to ./\(Self.erroredCopy) (every resource it made is listed there): "
                                  + "check \(path), then put it back with `secure-api state migrate --state \(Self.erroredCopy) --to \(path)` or delete with `--state \(Self.erroredCopy)`")
    }

    public func remove() async throws {
        let (tag, refused) = locked { (etag, conflict) }
        if let refused { throw refused }
        try await beginWrite()
        defer { locked { writesInFlight -= 1 } }
        do {
            try await retryingConflicts { try await s3.deleteObject(bucket: bucket, key: key, ifMatch: tag) }
            locked { etag = nil }
        } catch let e as AWSServiceError where e.httpStatus == 412 {
            throw raced("remove")
        } catch let e as AWSServiceError where e.httpStatus == 404 {
            locked { etag = nil }  // already gone (a retried delete that had landed)
        } catch let e as AWSServiceError {
            throw failure("remove", e)
        }
    }

    /// Counts a write in, unless the lock is being released: that is a second signal's exit
    /// (a finished run writes nothing more), which ends the process within seconds, so the
    /// write waits for it rather than fail the run with another exit code. The stored journal
    /// is write-ahead (pending before each create): what is not written now the next run finds.
    private func beginWrite() async throws {
        if locked({ releasing ? false : { writesInFlight += 1; return true }() }) { return }
        try await Task.sleep(nanoseconds: 10_000_000_000)
        throw StackError.stateIO("\(path): not written, the run is stopping and releasing its lock")
    }

    private func raced(_ what: String) -> StackError {
        // Only a writer that ignored (or force-unlocked) the lock can get here.
        let error = StackError.stateIO("\(path) was changed by someone else since this run last read or wrote it: stopping "
                                       + "without \(what == "remove" ? "removing" : "overwriting") it (its content is kept; see it with "
                                       + "`secure-api state show --state \(path)`, then run again)")
        locked { conflict = error }
        return error
    }

    // MARK: - The lock

    /// Who holds the lock and since when (the lock object's content; no secret in it).
    public struct LockInfo: Sendable, Equatable {
        public var id: String
        public var who: String
        public var pid: Int
        public var operation: String
        public var when: String

        public static func ours(operation: String) -> LockInfo {
            let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
            let bytes = Crypto.randomBytes(16).hexString
            let id = [bytes.prefix(8), bytes.dropFirst(8).prefix(4), bytes.dropFirst(12).prefix(4), bytes.dropFirst(16).prefix(4),
                      bytes.dropFirst(20)].map(String.init).joined(separator: "-")
            return LockInfo(id: id, who: "\(user)@\(hostName())", pid: Int(getpid()),
                            operation: operation, when: ISO8601DateFormatter().string(from: Date()))
        }

        /// gethostname(2) as is: Foundation's `hostName` may wait on DNS for a canonical name.
        static func hostName() -> String {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        var json: JSON {
            ["id": .string(id), "who": .string(who), "pid": .number(Double(pid)), "operation": .string(operation),
             "when": .string(when), "generator": "secure-api"]
        }

        init(id: String, who: String, pid: Int, operation: String, when: String) {
            (self.id, self.who, self.pid, self.operation, self.when) = (id, who, pid, operation, when)
        }

        init?(bytes: [UInt8]) {
            guard let j = try? JSON(parsing: bytes), let id = j["id"]?.string else { return nil }
            self.init(id: id, who: j["who"]?.string ?? "?", pid: j["pid"]?.int ?? 0, operation: j["operation"]?.string ?? "?",
                      when: j["when"]?.string ?? "?")
        }

        /// `alice@laptop (pid 4242, create, since 2026-…)`.
        public var holder: String { "\(who) (pid \(pid), \(operation), since \(when))" }
    }

    public func lock(operation: String) async throws {
        let info = LockInfo.ours(operation: operation)
        let body = Array((info.json.serialized(pretty: true) + "\n").utf8)
        let tag: String
        do {
            tag = try await retryingConflicts { try await s3.putObject(bucket: bucket, key: lockKey, body: body, condition: .ifAbsent) }
        } catch let e as AWSServiceError where e.httpStatus == 412 {
            let current = try? await s3.getObject(bucket: bucket, key: lockKey)
            // A retried attempt of ours that had landed.
            if let current, LockInfo(bytes: current.body)?.id == info.id {
                locked { held = (info, current.etag) }
                return
            }
            throw lockedError(current)
        } catch let e as AWSServiceError {
            throw failure("lock", e)
        }
        locked { held = (info, tag) }
        // A store that ignores If-None-Match would let two runs both "hold" the lock: the same
        // conditional write again must be refused.
        do {
            _ = try await retryingConflicts { try await s3.putObject(bucket: bucket, key: lockKey, body: body, condition: .ifAbsent) }
        } catch let e as AWSServiceError where e.httpStatus == 412 {
            return
        } catch {
            _ = await unlock()
            throw StackError.stateIO("cannot check that \(path)'s store honours conditional writes: \(error)")
        }
        // Ours was overwritten by that very test: remove it without a condition the store ignores anyway.
        try? await s3.deleteObject(bucket: bucket, key: lockKey)
        locked { held = nil }
        throw StackError.stateIO("the store at \(path) accepted a second `If-None-Match: *` write of \(lockKey): it ignores "
                                 + "conditional writes, so its lock would not exclude another run; refusing to use it (use AWS S3 or a store that honours If-None-Match)")
    }

    /// The ID `force-unlock` takes for a lock object that is not a secure-api lock (another
    /// tool's, or hand-made): its ETag, so only that very object is removed.
    static func foreignLockId(_ object: S3.Object) -> String { "etag-" + object.etag.filter { $0 != "\"" } }

    func lockedError(_ current: S3.Object?) -> StackError {
        guard let current, let holder = LockInfo(bytes: current.body) else {
            guard let current else { return .stateIO("state \(path) is locked (\(lockKey) exists but could not be read); ID: unknown") }
            let id = Self.foreignLockId(current)
            return .stateIO("state \(path) is locked: \(lockKey) exists but is not a secure-api lock (another tool's, or made by hand); ID: \(id) "
                            + "(if nothing holds it: secure-api force-unlock --state \(path) \(id))")
        }
        return .stateIO("state \(path) is locked by \(holder.holder): another secure-api run is using it; ID: \(holder.id) "
                        + "(if that run is gone: secure-api force-unlock --state \(path) \(holder.id))")
    }

    public func unlock() async -> String? {
        guard let (info, tag) = locked({ held }) else { return nil }
        // A second Ctrl-C exits without waiting for the run: a state write it has sent must land
        // before the lock goes, or it could overwrite what the next run writes. No write starts
        // from here on; one still unanswered after `releaseWait` keeps the lock.
        locked { releasing = true }
        let writesLanded = try? await Retrying(.seconds(Self.releaseWait), delay: Retrying.every(0.02)).run { _ -> Retrying.Step<Bool> in
            locked({ writesInFlight }) == 0 ? .done(true) : .again(last: .success(false))
        }
        guard writesLanded == true else {
            return "kept the lock \(info.id) on \(path): a write of the state was still unanswered; once this run is gone, "
                + "`secure-api force-unlock --state \(path) \(info.id)`"
        }
        do {
            try await retryingConflicts { try await s3.deleteObject(bucket: bucket, key: lockKey, ifMatch: tag) }
            locked { held = nil }
            return nil
        } catch let e as AWSServiceError where e.httpStatus == 404 || e.httpStatus == 412 {
            locked { held = nil }
            return "the lock \(info.id) on \(path) was removed or replaced by someone else (force-unlock?) before this run ended"
        } catch {
            return "could not release the lock on \(path): \(error); remove it with `secure-api force-unlock --state \(path) \(info.id)`"
        }
    }

    /// Removes a stale lock after checking it is the one named, as `terraform force-unlock` does.
    public func forceUnlock(id: String) async throws -> LockInfo {
        guard let current = try await call("read the lock of", { try await s3.getObject(bucket: bucket, key: lockKey) }) else {
            throw StackError.stateIO("\(path) is not locked (no \(lockKey))")
        }
        let info = LockInfo(bytes: current.body)
            ?? LockInfo(id: Self.foreignLockId(current), who: "not a secure-api lock", pid: 0, operation: "?", when: "?")
        guard info.id == id else {
            throw StackError.stateIO("the lock on \(path) has ID \(info.id), not \(id): nothing removed")
        }
        do {
            try await retryingConflicts { try await s3.deleteObject(bucket: bucket, key: lockKey, ifMatch: current.etag) }
        } catch let e as AWSServiceError where e.httpStatus == 412 {
            throw StackError.stateIO("the lock on \(path) changed while being removed: nothing removed; look again")
        }
        return info
    }

    /// A warning when the bucket keeps no versions (an overwritten or removed state could not
    /// be recovered); nil when versioning is on or cannot be read.
    public func versioningWarning() async -> String? {
        let status: String?
        do { status = try await s3.getBucketVersioning(bucket) } catch { return nil }
        guard status != "Enabled" else { return nil }
        return "state bucket \(bucket) has versioning \(status ?? "off"): an overwritten or removed state cannot be recovered "
            + "(turn it on, or make a bucket with `secure-api state bootstrap`)"
    }

    // MARK: - Helpers

    /// 409 ConditionalRequestConflict: another conditional write to the key was in progress;
    /// S3 asks for a retry.
    func retryingConflicts<T>(_ body: () async throws -> T) async throws -> T {
        // Never cut short by a stop: these writes record what calls already in flight made.
        try await Retrying(.attempts(Self.conflictAttempts), delay: { 0.1 * Double(1 << min($0, 20)) + Double.random(in: 0...0.1) })
            .run(retryingOn: { ($0 as? AWSServiceError).map { $0.httpStatus == 409 && $0.code == "ConditionalRequestConflict" } ?? false }, body)
    }

    /// Names the state in an S3 failure.
    func call<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as AWSServiceError { throw failure(what, e) }
    }

    func failure(_ what: String, _ e: AWSServiceError) -> StackError {
        switch e.code {
        case "NoSuchBucket":
            return .stateIO("bucket \(bucket) of --state \(path) does not exist (create one with `secure-api state bootstrap s3://\(bucket)`)")
        case "PermanentRedirect", "AuthorizationHeaderMalformed":
            // S3 answers so when the bucket lives in another region than the one signed for.
            return .stateIO("bucket \(bucket) of --state \(path) is not in this run's region \(s3.region): keep the state bucket "
                            + "in the stack's region, or run with AWS_REGION set to the bucket's (\(e))")
        default:
            return .stateIO("cannot \(what) \(path): \(e)")
        }
    }
}
