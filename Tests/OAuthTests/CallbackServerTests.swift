import Foundation
import Testing
import Transport
@testable import OAuth

/// The login callback server, driven by real HTTP requests from libcurl.
struct CallbackServerTests {
    func get(_ server: CallbackServer, _ target: String) async throws -> HTTPResponse {
        try await CurlTransport.shared.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)\(target)"),
                                            timeouts: HTTPTimeouts(connectMilliseconds: 2_000, totalMilliseconds: 5_000))
    }

    @Test func goodCallbackReturnsTheCodeAndOtherPathsGet404() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        #expect(server.port != 0 && server.path == "/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "st-8", timeout: 10) }

        let favicon = try await get(server, "/favicon.ico")
        #expect(favicon.status == 404)
        let page = try await get(server, "/callback?code=c0de%2B1&state=st-8")
        #expect(page.status == 200)
        #expect(page.bodyText.contains("Signed in"))

        let callback = try await waiting.value
        #expect(callback == AuthorizationCallback(code: "c0de+1", state: "st-8"))
    }

    @Test func responseHeadersAsSeenByTheCurlCLI() async throws {
        // The curl CLI, because CurlTransport currently hands back no response headers.
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "s", timeout: 10) }
        let head = String(decoding: try run(["curl", "-s", "-D", "-", "-o", "/dev/null",
                                             "http://127.0.0.1:\(server.port)/callback?code=x&state=s"]), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("Content-Type: text/html; charset=utf-8\r\n"))
        #expect(head.contains("Cache-Control: no-store\r\n"))
        #expect(head.contains("Referrer-Policy: no-referrer\r\n"))
        #expect(try await waiting.value.code == "x")
    }

    @Test func mismatchedStateIsRejected() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "expected", timeout: 10) }
        let page = try await get(server, "/callback?code=stolen&state=forged")
        #expect(page.status == 400)
        #expect(page.bodyText.contains("does not belong to the login in progress"))
        await #expect(throws: CallbackError.stateMismatch) { try await waiting.value }
    }

    @Test func accessDeniedIsAClearError() async throws {
        let server = try CallbackServer(redirectURI: "http://localhost:0/cb")
        let waiting = Task { try await server.waitForCallback(expectedState: "st", timeout: 10) }
        let page = try await get(server, "/cb?error=access_denied&error_description=User+declined&state=st")
        #expect(page.bodyText.contains("Sign-in failed (access_denied)"))
        await #expect(throws: CallbackError.authorizationFailed(error: "access_denied", description: "User declined")) {
            try await waiting.value
        }
        #expect(CallbackError.authorizationFailed(error: "access_denied", description: "User declined").description
            == "authorization failed: access_denied (User declined)")
    }

    @Test func strayRequestsOnTheCallbackPathDoNotEndTheWait() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "s", timeout: 10) }
        #expect(try await get(server, "/callback").status == 400)
        #expect(try await get(server, "/callback?code=%zz&state=s").status == 400)
        #expect(try await get(server, "/callbackx?code=a&state=s").status == 404)
        #expect(try await get(server, "/callback?code=abc&state=s").status == 200)
        #expect(try await waiting.value.code == "abc")
    }

    /// Idle connections (browser preconnects, or a local process holding sockets open) used to be
    /// served one after another, 5 s each, so the real redirect waited behind them.
    @Test func idleConnectionsDoNotStarveTheRedirect() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "s", timeout: 30) }
        let idle = try (0..<8).map { _ in try openIdleConnection(port: server.port) }
        defer { idle.forEach { close($0) } }
        try await Task.sleep(for: .milliseconds(300))  // the server has accepted them by now
        let start = Date()
        #expect(try await get(server, "/callback?code=abc&state=s").status == 200)
        #expect(try await waiting.value.code == "abc")
        #expect(Date().timeIntervalSince(start) < 2)
    }

    func openIdleConnection(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr = in_addr(s_addr: UInt32(0x7f00_0001).bigEndian)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw CallbackError.socket("test connect failed") }
        return fd
    }

    @Test func timesOutCleanly() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let start = Date()
        await #expect(throws: CallbackError.timedOut(seconds: 0.3)) {
            try await server.waitForCallback(expectedState: "s", timeout: 0.3)
        }
        // The defect would be a wait that never ends; how fast it ends is not timed here (a
        // loaded 2-core machine running the suites in parallel took 3.9 s).
        #expect(Date().timeIntervalSince(start) < 20)
    }

    @Test func cancellationEndsTheWait() async throws {
        let server = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        let waiting = Task { try await server.waitForCallback(expectedState: "s", timeout: 30) }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CallbackError.cancelled) { try await waiting.value }
    }

    @Test func badRedirectURIsAndBusyPortsAreRefused() throws {
        for uri in ["https://localhost:8083/callback", "http://example.com:8083/callback", "http://localhost/callback", "not a url"] {
            #expect(throws: CallbackError.invalidRedirectURI(uri)) { try CallbackServer(redirectURI: uri) }
        }
        let first = try CallbackServer(redirectURI: "http://127.0.0.1:0/callback")
        #expect {
            try CallbackServer(redirectURI: "http://127.0.0.1:\(first.port)/callback")
        } throws: { error in
            if case CallbackError.socket(let reason) = error { return reason.contains("bind") }
            return false
        }
    }
}
