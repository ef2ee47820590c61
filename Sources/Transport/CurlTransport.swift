import CCurlShim
import Dispatch
import Foundation

/// HTTP over libcurl. Easy handles are pooled: each keeps its connections open, so
/// consecutive calls to one endpoint reuse a connection (and its TLS session).
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    // @unchecked: `idle` is only touched under `lock`; a handle is used by one thread at a time.
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []

    public static let shared = CurlTransport()

    public init() {
        shim_curl_global_init()
    }

    deinit {
        for handle in idle { shim_curl_handle_free(handle) }
    }

    public func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: libcurl blocks in poll(2), which a dispatch pool cannot see,
            // so a pool sized to the cores (2 here) would let only that many requests overlap.
            let thread = Thread { continuation.resume(with: Result { try self.perform(request, timeouts: timeouts) }) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Blocking send on the calling thread; `send` runs it on a thread of its own.
    public func perform(_ request: HTTPRequest, timeouts: HTTPTimeouts) throws -> HTTPResponse {
        guard let handle = checkout() else { throw TransportError.other("could not create a libcurl handle") }
        defer { checkin(handle) }

        let headerLines = request.headers.map { "\($0.name): \($0.value)" }
        var out = shim_response()
        defer { shim_response_free(&out) }
        withCStrings(headerLines) { lines in
            request.body.withUnsafeBufferPointer { body in
                shim_curl_perform(handle, request.method, request.url, lines, headerLines.count,
                                  body.baseAddress, body.count, timeouts.connectMilliseconds,
                                  timeouts.totalMilliseconds, request.freshConnection ? 1 : 0, &out)
            }
        }
        if out.curl_code != 0 {
            let reason = withUnsafeBytes(of: out.error) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            let code = out.curl_code
            if shim_curl_is_timeout(code) != 0 { throw TransportError.timeout("\(request.method) \(request.url): \(reason)") }
            if shim_curl_is_bad_url(code) != 0 { throw TransportError.badURL("\(request.url): \(reason)") }
            if code == 6 || code == 7 { throw TransportError.connectFailed("\(request.url): \(reason)") }  // CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT
            if shim_curl_is_connection_error(code) != 0 { throw TransportError.connection("\(request.url): \(reason)") }
            throw TransportError.other("\(request.method) \(request.url): \(reason)")
        }
        let body = out.body.data.map { Array(UnsafeBufferPointer(start: $0, count: out.body.len)) } ?? []
        let rawHeaders = out.headers.data.map { Array(UnsafeBufferPointer(start: $0, count: out.headers.len)) } ?? []
        return HTTPResponse(status: out.status, headers: Self.parseHeaders(rawHeaders), body: body)
    }

    /// Header lines of the final response block (after any 100-continue or redirect blocks).
    /// Split on bytes: as a String, "\r\n" is one Character and would never split on "\n".
    static func parseHeaders(_ raw: [UInt8]) -> [HTTPHeader] {
        var headers: [HTTPHeader] = []
        for lineBytes in raw.split(separator: 0x0a) {
            var l = String(decoding: lineBytes, as: UTF8.self)
            if l.hasSuffix("\r") { l.removeLast() }
            if l.hasPrefix("HTTP/") { headers.removeAll(); continue }
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers.append(HTTPHeader(String(l[..<colon]),
                                      String(l[l.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        return headers
    }

    private func checkout() -> UnsafeMutableRawPointer? {
        lock.lock()
        let handle = idle.popLast()
        lock.unlock()
        return handle ?? shim_curl_handle_new()
    }

    private func checkin(_ handle: UnsafeMutableRawPointer) {
        lock.lock()
        idle.append(handle)
        lock.unlock()
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafePointer<CChar>?] = strings.map { UnsafePointer(strdup($0)) }
    defer { for p in pointers { free(UnsafeMutablePointer(mutating: p)) } }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
