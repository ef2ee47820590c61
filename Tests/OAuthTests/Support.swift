import Foundation
import Testing
import Transport
@testable import OAuth
import AWSClient
import Crypto

/// Runs a command and returns its stdout; throws with its stderr when it fails.
func run(_ arguments: [String], input: [UInt8] = []) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input))
    try stdin.fileHandleForWriting.close()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw SupportError("\(arguments.joined(separator: " ")) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return Array(out)
}

struct SupportError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real 2048-bit RSA key made by the openssl CLI; signing is done by openssl too, so the
/// verifier is checked against an independent implementation.
final class RSATestKey: Sendable {
    let pemPath: String
    let modulus: [UInt8]
    let exponent: [UInt8] = [0x01, 0x00, 0x01]  // 65537, openssl genpkey's default

    static let shared = Result { try RSATestKey() }
    static let other = Result { try RSATestKey() }
    static let weak = Result { try RSATestKey(bits: 1024) }

    init(bits: Int = 2048) throws {
        pemPath = NSTemporaryDirectory() + "oauth-test-\(UUID().uuidString).pem"
        _ = try run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", pemPath])
        let text = String(decoding: try run(["openssl", "rsa", "-in", pemPath, "-noout", "-modulus"]), as: UTF8.self)
        guard let hex = text.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw SupportError("no modulus in \(text)")
        }
        modulus = try hexBytes(hex)
    }

    deinit { try? FileManager.default.removeItem(atPath: pemPath) }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        try run(["openssl", "dgst", "-sha256", "-sign", pemPath], input: message)
    }

    func publicPEM() throws -> [UInt8] {
        try run(["openssl", "pkey", "-in", pemPath, "-pubout"])
    }

    func jwk(kid: String) -> JWK { JWK(kid: kid, modulus: modulus, exponent: exponent, alg: "RS256", use: "sig") }

    /// The JWKS document as an issuer publishes it.
    func jwksJSON(kids: [String]) -> String {
        let keys = kids.map { kid -> JSON in
            ["kty": "RSA", "kid": .string(kid), "alg": "RS256", "use": "sig",
             "n": .string(Base64URL.encode(modulus)), "e": .string(Base64URL.encode(exponent))]
        }
        return JSON.object(["keys": .array(keys)]).serialized()
    }

    /// A signed compact JWT.
    func token(header: JSON, claims: JSON) throws -> String {
        let input = Base64URL.encode(Array(header.serialized().utf8)) + "." + Base64URL.encode(Array(claims.serialized().utf8))
        return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
    }
}

func hexBytes(_ hex: String) throws -> [UInt8] {
    let chars = Array(hex.utf8)
    guard chars.count % 2 == 0 else { throw SupportError("odd hex length") }
    return try stride(from: 0, to: chars.count, by: 2).map { i in
        guard let byte = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else {
            throw SupportError("bad hex")
        }
        return byte
    }
}

/// A small real HTTP server (python3's http.server) on 127.0.0.1 with an ephemeral port.
/// `PUT <path>` (headers X-Status, X-Content-Type) sets what `GET`/`POST <path>` answers;
/// `GET /_seen?path=<path>` returns every request made to `<path>` as JSON. Tests use unique
/// path prefixes, so they can share one server while running in parallel.
// @unchecked: `process` is set once in init and never touched again.
final class TestHTTPServer: @unchecked Sendable {
    let baseURL: String
    private let process: Process

    static let shared = Result { try TestHTTPServer() }

    private static let script = #"""
import json, sys, threading, os
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlsplit, parse_qs
routes, seen, lock = {}, {}, threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, status, ctype, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        url = urlsplit(self.path)
        if self.command == "PUT":
            with lock: routes[url.path] = (int(self.headers.get("X-Status", "200")), self.headers.get("X-Content-Type", "application/json"), body)
            return self.reply(200, "text/plain", "ok")
        if url.path == "/_seen":
            p = parse_qs(url.query)["path"][0]
            with lock: rec = seen.get(p, [])
            return self.reply(200, "application/json", json.dumps(rec))
        with lock:
            seen.setdefault(url.path, []).append({"method": self.command, "target": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                "form": {k: v for k, v in parse_qs(body, keep_blank_values=True).items()}})
            route = routes.get(url.path)
        if route is None: return self.reply(404, "text/plain", "no route")
        self.reply(*route)
    do_GET = do_POST = do_PUT = handle_any
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
def watch():
    sys.stdin.read()  # the test process exited: stop too
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
srv.serve_forever()
"""#

    init() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = Pipe()  // kept open for our lifetime; EOF tells python to exit
        try process.run()
        var line = [UInt8]()
        while !line.contains(10) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { throw SupportError("test HTTP server did not start") }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SupportError("test HTTP server printed no port")
        }
        baseURL = "http://127.0.0.1:\(port)"
    }

    /// Sets the answer for `path`.
    func route(_ path: String, status: Int = 200, contentType: String = "application/json", body: String) async throws {
        let response = try await CurlTransport.shared.send(
            HTTPRequest(method: "PUT", url: baseURL + path,
                        headers: [HTTPHeader("X-Status", String(status)), HTTPHeader("X-Content-Type", contentType)],
                        body: Array(body.utf8)), timeouts: HTTPTimeouts())
        guard response.status == 200 else { throw SupportError("PUT \(path): \(response.status)") }
    }

    /// Requests made to `path` so far: method, target, lower-cased headers, body, parsed form.
    func seen(_ path: String) async throws -> [JSON] {
        let response = try await CurlTransport.shared.send(
            HTTPRequest(method: "GET", url: baseURL + "/_seen?path=" + URLEncoding.percentEncode(path)), timeouts: HTTPTimeouts())
        return try JSON(parsing: response.body).array ?? []
    }
}

/// A unique path prefix per test.
func uniquePath() -> String { "/t-" + UUID().uuidString.lowercased() }
