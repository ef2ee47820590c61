import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the authorization server sent back to the redirect URI.
public struct AuthorizationCallback: Sendable, Equatable {
    public var code: String
    public var state: String
}

public enum CallbackError: Error, Equatable, CustomStringConvertible {
    /// The redirect URI is not `http://localhost:<port>/...` or `http://127.0.0.1:<port>/...`.
    case invalidRedirectURI(String)
    /// The listening socket could not be set up (e.g. the port is in use).
    case socket(String)
    /// No callback arrived in time.
    case timedOut(seconds: Double)
    /// The callback's `state` is not this login's: a forged or stale redirect.
    case stateMismatch
    /// The authorization server reported an error, e.g. `access_denied` when the user declined.
    case authorizationFailed(error: String, description: String?)
    case cancelled

    public var description: String {
        switch self {
        case .invalidRedirectURI(let uri):
            return "redirect URI \(uri) must be http://localhost:<port>/<path> or http://127.0.0.1:<port>/<path>"
        case .socket(let reason):
            return "could not listen for the login callback: \(reason)"
        case .timedOut(let seconds):
            return "no login callback within \(String(format: "%.0f", seconds)) s"
        case .stateMismatch:
            return "login callback refused: its state does not match this login (forged or stale redirect)"
        case .authorizationFailed(let error, let text):
            return "authorization failed: \(error)" + (text.map { " (\($0))" } ?? "")
        case .cancelled:
            return "login callback wait cancelled"
        }
    }
}

/// Receives the browser's redirect after login: an HTTP listener on
/// 127.0.0.1 at the redirect URI's port. It answers only the redirect path (404 otherwise),
/// checks `state`, shows the browser a short page and hands back the code.
public final class CallbackServer: Sendable {
    /// The port actually listened on (differs from the URI's only when that is 0, for tests).
    public let port: UInt16
    /// The redirect URI's path, the only one served.
    public let path: String
    private let listener: Int32

    /// Binds and listens immediately, so the browser cannot arrive before the server is ready.
    public init(redirectURI: String) throws {
        guard let parts = URLComponents(string: redirectURI), parts.scheme == "http",
              let host = parts.host, host == "localhost" || host == "127.0.0.1",
              let port = parts.port, (0...65535).contains(port)
        else { throw CallbackError.invalidRedirectURI(redirectURI) }
        path = parts.path.isEmpty ? "/" : parts.path
        (listener, self.port) = try Self.openListener(port: UInt16(port))
    }

    deinit { close(listener) }

    /// Serves requests until the callback arrives or `timeout` seconds pass. The blocking socket
    /// loop runs on its own thread; task cancellation ends it within a fraction of a second.
    public func waitForCallback(expectedState: String, timeout: TimeInterval) async throws -> AuthorizationCallback {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A thread of its own: parking a shared pool thread for minutes could starve other work.
                let thread = Thread {
                    continuation.resume(with: Result {
                        try self.serve(expectedState: expectedState, timeout: timeout, cancelled: flag)
                    })
                }
                thread.name = "secure-api.callback-server"
                thread.start()
            }
        } onCancel: {
            flag.set()
        }
    }

    // MARK: socket loop

    /// One poll() loop over the listener and every open connection, so connections are served
    /// side by side: idle or slow sockets (a browser's speculative preconnects, a local
    /// attacker) cannot hold up the real redirect.
    private func serve(expectedState: String, timeout: TimeInterval, cancelled: CancellationFlag) throws -> AuthorizationCallback {
        let deadline = Date().addingTimeInterval(timeout)
        var clients: [Connection] = []
        defer { for c in clients { close(c.fd) } }
        while true {
            if cancelled.isSet { throw CallbackError.cancelled }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { throw CallbackError.timedOut(seconds: timeout) }
            let now = Date()
            // A slow or silent client gets a few seconds, never the whole login's time.
            for c in clients where c.deadline <= now { close(c.fd) }
            clients.removeAll { $0.deadline <= now }
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                + clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            // Short slices so cancellation and per-connection deadlines are noticed promptly.
            let ready = poll(&entries, nfds_t(entries.count), Int32(max(1, (min(remaining, 0.2) * 1000).rounded(.up))))
            if ready < 0 {
                if errno == EINTR { continue }
                throw CallbackError.socket("poll: \(errnoText())")
            }
            if ready == 0 { continue }
            var finished: [Int32] = []
            for (index, entry) in entries.enumerated().dropFirst() where entry.revents != 0 {
                let client = clients[index - 1]
                guard let head = client.readHead() else {
                    if client.failed { Self.respond(client.fd, status: "400 Bad Request", message: "Malformed request.") }
                    if client.failed || client.closed { finished.append(client.fd) }
                    continue
                }
                finished.append(client.fd)
                guard let target = Self.requestTarget(head) else {
                    Self.respond(client.fd, status: "400 Bad Request", message: "Malformed request.")
                    continue
                }
                switch handle(method: target.method, target: target.target, expectedState: expectedState) {
                case .answer(let status, let message):
                    Self.respond(client.fd, status: status, message: message)
                case .finish(let status, let message, let result):
                    Self.respond(client.fd, status: status, message: message)
                    return try result.get()
                }
            }
            for fd in finished { close(fd) }
            clients.removeAll { finished.contains($0.fd) }
            if entries[0].revents != 0 {
                let fd = accept(listener, nil, nil)
                if fd >= 0 {
                    // Bounded: the oldest connection makes room for a new one.
                    if clients.count >= Self.maxConnections { close(clients.removeFirst().fd) }
                    clients.append(Connection(fd: fd, deadline: min(deadline, Date().addingTimeInterval(5))))
                }  // else the peer gave up between poll and accept
            }
        }
    }

    static let maxConnections = 64

    /// One accepted connection whose request head is still arriving.
    private final class Connection {
        let fd: Int32
        let deadline: Date
        var head: [UInt8] = []
        var failed = false
        var closed = false

        init(fd: Int32, deadline: Date) {
            self.fd = fd
            self.deadline = deadline
        }

        /// Reads what poll() said is there; the whole head once it has arrived (up to 16 KiB).
        func readHead() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { closed = true; return nil }
            head.append(contentsOf: buffer[0..<n])
            if CallbackServer.contains(head, [13, 10, 13, 10]) { return head }
            if head.count >= 16_384 { failed = true }
            return nil
        }
    }

    private enum Outcome {
        /// Answer and keep waiting (stray requests such as /favicon.ico).
        case answer(String, String)
        case finish(String, String, Result<AuthorizationCallback, CallbackError>)
    }

    private func handle(method: String, target: String, expectedState: String) -> Outcome {
        let split = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard split[0] == path else { return .answer("404 Not Found", "Not found.") }
        guard method == "GET" else { return .answer("405 Method Not Allowed", "Only GET is served here.") }
        guard let pairs = URLEncoding.parseQuery(split.count > 1 ? String(split[1]) : "") else {
            return .answer("400 Bad Request", "Malformed query string.")
        }
        func value(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
        let state = value("state"), code = value("code"), error = value("error")
        if code == nil, error == nil {
            return .answer("400 Bad Request", "This address only receives the login redirect.")
        }
        // Checked first, and for error answers too when they carry a state, so a forged redirect
        // never gets its code or its error message accepted.
        if state != expectedState, code != nil || state != nil {
            return .finish("400 Bad Request", "Sign-in refused: this response does not belong to the login in progress. Return to the terminal.",
                           .failure(.stateMismatch))
        }
        if let error {
            return .finish("200 OK", "Sign-in failed (\(error)). Return to the terminal for details.",
                           .failure(.authorizationFailed(error: error, description: value("error_description"))))
        }
        guard let code, !code.isEmpty, let state else {
            return .answer("400 Bad Request", "The redirect carries no authorization code.")
        }
        return .finish("200 OK", "Signed in. You can close this tab and return to the terminal.",
                       .success(AuthorizationCallback(code: code, state: state)))
    }

    // MARK: POSIX helpers

    private static func openListener(port: UInt16) throws -> (Int32, UInt16) {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw CallbackError.socket("socket(): \(errnoText())") }
        var yes: Int32 = 1
        // Lets a second login right after the first reuse the port despite TIME_WAIT.
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        #if canImport(Darwin)
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr = in_addr(s_addr: UInt32(0x7f00_0001).bigEndian)  // 127.0.0.1 only: never reachable from the network
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard bound == 0 else {
            let reason = errnoText()
            close(fd)
            throw CallbackError.socket("bind 127.0.0.1:\(port): \(reason)")
        }
        guard listen(fd, 16) == 0 else {
            let reason = errnoText()
            close(fd)
            throw CallbackError.socket("listen: \(reason)")
        }
        var actual = sockaddr_in()
        var length = size
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: actual.sin_port))
    }

    /// The method and target of a request head's request line.
    private static func requestTarget(_ head: [UInt8]) -> (method: String, target: String)? {
        guard let lineEnd = head.firstIndex(of: 13) else { return nil }
        let words = String(decoding: head[..<lineEnd], as: UTF8.self).split(separator: " ")
        guard words.count == 3, words[2].hasPrefix("HTTP/") else { return nil }
        return (String(words[0]), String(words[1]))
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }

    private static func respond(_ fd: Int32, status: String, message: String) {
        let html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>secure-api login</title></head>"
            + "<body><p>\(escapeHTML(message))</p></body></html>"
        let body = Array(html.utf8)
        // no-store and no-referrer: the page's URL carries the authorization code.
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)  // a browser that hung up must not kill us with SIGPIPE
            #else
            let flags: Int32 = 0
            #endif
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, flags) }
            if n <= 0 { return }
            sent += n
        }
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// Set from the cancellation handler, read by the socket loop's thread.
private final class CancellationFlag: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
