import Foundation

/// A graceful stop asked for from outside (Ctrl-C, SIGTERM): the executor starts no new call
/// once it is set, and publishes what is still in flight so the caller can say what it waits for.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var running: [String: String] = [:]  // node key → label

    public init() {}

    public func request() { lock.withLock { requested = true } }

    public var isRequested: Bool { lock.withLock { requested } }

    /// Labels of the resources whose calls are under way, in a stable order.
    public var inFlight: [String] { lock.withLock { running.sorted { $0.key < $1.key }.map(\.value) } }

    func begin(_ key: String, _ label: String) { lock.withLock { running[key] = label } }

    func end(_ key: String) { _ = lock.withLock { running.removeValue(forKey: key) } }
}

/// Thrown by a wait the stop request cut short: no call was sent after the stop. The journal
/// keeps what was done (a pending create stays pending; an update cut short between its calls
/// leaves the record's last applied attributes, so the next run diffs and finishes it).
struct StoppedWaiting: Error {}
