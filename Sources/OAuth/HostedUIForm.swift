import Foundation
import Transport

/// Signs in through a hosted UI's username/password form the way a browser does, for scripted
/// tests (`login --username`): GET the authorize URL, follow its redirect to the sign-in page,
/// POST the form with its hidden `_csrf` field and the `XSRF-TOKEN` cookie (Cognito's
/// double-submit check, which the local emulator's hosted UI also makes), and read the code from
/// the redirect to the callback URL. Nothing listens on the callback URL: the code is taken from
/// the `Location` header.
public struct HostedUIForm: Sendable {
    public let transport: any HTTPTransport
    public let timeouts: HTTPTimeouts
    /// Redirects followed before the sign-in page (authorize → login).
    static let maxRedirects = 5

    public init(transport: any HTTPTransport = CurlTransport.shared,
                timeouts: HTTPTimeouts = HTTPTimeouts(connectMilliseconds: 10_000, totalMilliseconds: 30_000)) {
        self.transport = transport
        self.timeouts = timeouts
    }

    /// The authorization code (state checked) for `request`, signing in as `username`.
    public func signIn(_ request: AuthorizationRequest, username: String, password: String) async throws -> AuthorizationCallback {
        var cookies: [String: String] = [:]
        var url = request.url
        var page = try await get(url, cookies: &cookies)
        var hops = 0
        while (300..<400).contains(page.status), let location = page.header("Location") {
            hops += 1
            url = Self.resolve(location, against: url)
            if url.hasPrefix(request.redirectURI) { return try Self.callback(url, request: request) }
            guard hops <= Self.maxRedirects else { throw HostedUIError.unexpected("too many redirects before the sign-in page") }
            page = try await get(url, cookies: &cookies)
        }
        guard page.status == 200 else { throw HostedUIError.unexpected("the sign-in page answered HTTP \(page.status)") }
        let html = page.bodyText
        guard let form = Self.firstForm(html) else { throw HostedUIError.unexpected("the sign-in page has no form") }
        var fields = form.hidden
        fields.append(("username", username))
        fields.append(("password", password))
        var headers = [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")]
        if !cookies.isEmpty { headers.append(HTTPHeader("Cookie", cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
        let post = HTTPRequest(method: "POST", url: Self.resolve(form.action, against: url), headers: headers,
                               body: Array(URLEncoding.formBody(fields).utf8), freshConnection: true)
        let answer = try await send(post)
        guard (300..<400).contains(answer.status), let location = answer.header("Location") else {
            if answer.status == 200, answer.bodyText.contains("Incorrect username or password") { throw HostedUIError.rejected }
            throw HostedUIError.unexpected("the sign-in form answered HTTP \(answer.status), not a redirect to the callback")
        }
        let target = Self.resolve(location, against: post.url)
        guard target.hasPrefix(request.redirectURI) else { throw HostedUIError.unexpected("the sign-in form redirected elsewhere than the callback URL") }
        return try Self.callback(target, request: request)
    }

    func get(_ url: String, cookies: inout [String: String]) async throws -> HTTPResponse {
        var headers = [HTTPHeader("Accept", "text/html")]
        if !cookies.isEmpty { headers.append(HTTPHeader("Cookie", cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
        let response = try await send(HTTPRequest(method: "GET", url: url, headers: headers))
        for h in response.headers where h.name.lowercased() == "set-cookie" {
            let pair = h.value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            if let eq = pair.firstIndex(of: "=") {
                cookies[pair[..<eq].trimmingCharacters(in: .whitespaces)] = String(pair[pair.index(after: eq)...])
            }
        }
        return response
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        do { return try await transport.send(request, timeouts: timeouts) } catch { throw HostedUIError.unexpected("\(error)") }
    }

    /// The code and state of a callback URL; the state must be the request's.
    static func callback(_ url: String, request: AuthorizationRequest) throws -> AuthorizationCallback {
        let query = URLComponents(string: url)?.queryItems ?? []
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        if let error = value("error") { throw CallbackError.authorizationFailed(error: error, description: value("error_description")) }
        guard value("state") == request.state else { throw CallbackError.stateMismatch }
        guard let code = value("code"), !code.isEmpty else { throw HostedUIError.unexpected("the callback carries no code") }
        return AuthorizationCallback(code: code, state: request.state)
    }

    /// An absolute URL for a `Location` or form `action`: absolute, host-relative (`/x`),
    /// query-only (`?x`) or path-relative.
    static func resolve(_ reference: String, against base: String) -> String {
        let lower = reference.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return reference }
        guard let schemeEnd = base.range(of: "://") else { return reference }
        let afterScheme = base[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? base.endIndex
        let origin = String(base[..<authorityEnd])
        let path = String(base[authorityEnd...].prefix { $0 != "?" })
        if reference.hasPrefix("/") { return origin + reference }
        if reference.hasPrefix("?") { return origin + (path.isEmpty ? "/" : path) + reference }
        let directory = path.range(of: "/", options: .backwards).map { String(path[..<$0.upperBound]) } ?? "/"
        return origin + directory + reference
    }

    /// The first form of a page: its action and its hidden inputs (HTML entities decoded).
    static func firstForm(_ html: String) -> (action: String, hidden: [(String, String)])? {
        guard let formStart = html.range(of: "<form", options: .caseInsensitive) else { return nil }
        let rest = html[formStart.lowerBound...]
        let formEnd = rest.range(of: "</form", options: .caseInsensitive)?.lowerBound ?? rest.endIndex
        let body = rest[..<formEnd]
        guard let tagEnd = body.firstIndex(of: ">") else { return nil }
        let action = attributes(String(body[..<tagEnd]))["action"] ?? ""
        var hidden: [(String, String)] = []
        var cursor = body.startIndex
        while let input = body.range(of: "<input", options: .caseInsensitive, range: cursor..<body.endIndex) {
            let end = body[input.upperBound...].firstIndex(of: ">") ?? body.endIndex
            let attrs = attributes(String(body[input.upperBound..<end]))
            if attrs["type"]?.lowercased() == "hidden", let name = attrs["name"] { hidden.append((name, attrs["value"] ?? "")) }
            cursor = end
        }
        return (action, hidden)
    }

    /// `name='v' other="w" flag` → [name: v, other: w, flag: ""].
    static func attributes(_ tag: String) -> [String: String] {
        var out: [String: String] = [:]
        let chars = Array(tag)
        var i = 0
        while i < chars.count {
            while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "/" { i += 1 }
            var name = ""
            while i < chars.count, !" =\n\t>/".contains(chars[i]) { name.append(chars[i]); i += 1 }
            var value = ""
            if i < chars.count, chars[i] == "=" {
                i += 1
                if i < chars.count, chars[i] == "'" || chars[i] == "\"" {
                    let quote = chars[i]
                    i += 1
                    while i < chars.count, chars[i] != quote { value.append(chars[i]); i += 1 }
                    i += 1
                } else {
                    while i < chars.count, !" \n\t>".contains(chars[i]) { value.append(chars[i]); i += 1 }
                }
            } else if name.isEmpty {
                i += 1
                continue
            }
            if !name.isEmpty { out[name.lowercased()] = decodeEntities(value) }
        }
        return out
    }

    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#x27;", with: "'")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }
}

public enum HostedUIError: Error, Equatable, CustomStringConvertible {
    /// The form came back with Cognito's "Incorrect username or password."
    case rejected
    case unexpected(String)

    public var description: String {
        switch self {
        case .rejected: return "the hosted UI refused the sign-in: incorrect username or password"
        case .unexpected(let why): return "hosted UI sign-in failed: \(why)"
        }
    }
}
