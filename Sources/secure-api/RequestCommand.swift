import AWSClient
import ArgumentParser
import Foundation
import Stack
import SigV4
import Transport

struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Call the stack's API with a token and explain the answer (200, 401 no/invalid token, 403 wrong scope).",
        discussion: """
            The token comes from --token, else the flow you name (--password, --client-credentials). \
            The request goes to the stack's api_url from state.json: API Gateway on AWS, the emulator's \
            execute-api data plane (http://127.0.0.1:PORT/_aws/execute-api/...) on the emulator.
            """)

    @Argument(help: "HTTP method.") var method = "GET"
    @Argument(help: "Path under the stage.") var path = "/hello"
    @Option(help: "Bearer token to send.") var token: String?
    @Flag(help: "Send no token (shows the 401).") var noToken = false
    @Option(help: "Full URL to call instead of the stack's API URL.") var url: String?
    @Option(help: "Request body.") var data: String?
    @Flag(help: "Sign the request with SigV4 (service execute-api) using your AWS credentials, for AWS_IAM routes.") var sigv4 = false
    @OptionGroup var source: TokenSourceOptions
    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Option(help: "text or json (status, headers, body, explanation; README: JSON output).") var output: OutputFormat = .text

    func run() async throws {
        let state = try await loadStack(stateOptions, aws.session)
        let method = self.method.uppercased()
        var bearer: String?
        if sigv4 {
            try await sendSigned(state: state, method: method)
            return
        }
        if state.config.auth == .iam && !noToken {
            throw CLIError("this stack's routes use AWS_IAM: call them with --sigv4 (or --no-token to see the 403)")
        }
        if !noToken {
            if let token { bearer = token }
            else if source.passwordFlow || source.clientCredentials {
                bearer = try await TokenFetcher(state: state, aws: aws, options: source).fetch().accessToken
            } else {
                throw CLIError("no token: give --token, --password, --client-credentials, or --no-token to see the 401")
            }
        }
        guard let base = url ?? state.outputs["api_url"].map({ $0 + path }) else {
            throw CLIError("state.json has no api_url: is the stack complete? (secure-api status)")
        }
        var headers = [HTTPHeader("Accept", "*/*")]
        if let bearer { headers.append(HTTPHeader("Authorization", "Bearer \(bearer)")) }
        if data != nil { headers.append(HTTPHeader("Content-Type", "application/json")) }
        Console.info("\(method) \(base)" + (bearer == nil ? " (no token)" : " (Bearer token)"))
        let response = try await CurlTransport.shared.send(
            HTTPRequest(method: method, url: base, headers: headers, body: Array((data ?? "").utf8)), timeouts: HTTPTimeouts())
        let why = Self.explain(status: response.status, wwwAuthenticate: response.header("WWW-Authenticate"), lambdaAuthorizer: state.config.auth == .lambda)
        try answer(method: method, url: base, response: response, explanation: why)
    }

    /// AWS_IAM routes: the call is signed with the caller's credentials for `execute-api`.
    func sendSigned(state: StackState, method: String) async throws {
        guard let target = url ?? state.outputs["api_url"].map({ $0 + path }) else {
            throw CLIError("state.json has no api_url: is the stack complete? (secure-api status)")
        }
        let (credentials, source) = try Self.callerCredentials(aws)
        let body = Array((data ?? "").utf8)
        let headers = try Self.signedHeaders(method: method, url: target, body: body, json: data != nil,
                                             credentials: credentials, region: state.target.region)
        Console.info("\(method) \(target) (SigV4, execute-api, \(source))")
        let response = try await CurlTransport.shared.send(HTTPRequest(method: method, url: target, headers: headers, body: body),
                                                           timeouts: HTTPTimeouts())
        let why = response.status != 403 ? nil
            : "403 Forbidden: IAM denied the call: the caller needs execute-api:Invoke on \(state.outputs["invoke_arn_pattern"] ?? "arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH")"
        try answer(method: method, url: target, response: response, explanation: why)
    }

    /// The caller's AWS credentials (env, then the shared files) and where they came from.
    static func callerCredentials(_ aws: AWSOptions) throws -> (SigningCredentials, String) {
        let session = aws.session
        let shared = try SharedConfig(environment: session.environment, profileOverride: aws.profile)
        let resolved = try CredentialsChain.resolve(environment: session.environment, shared: shared, profileFlagGiven: aws.profile != nil)
        return (resolved.credentials, resolved.source)
    }

    /// The headers of a request to `url` signed with SigV4 for `execute-api` in `region`.
    static func signedHeaders(method: String, url: String, body: [UInt8], json: Bool, credentials: SigningCredentials,
                              region: String) throws -> [HTTPHeader] {
        guard let endpoint = endpointOf(url) else { throw CLIError("cannot sign for URL \(url)") }
        let (pathPart, queryPart) = split(url)
        var headers = [HeaderField("Host", endpoint.hostHeader)]
        if json { headers.append(HeaderField("Content-Type", "application/json")) }
        let signer = SigV4Signer(credentials: credentials, region: region, service: "execute-api")
        let time = SigningTime(secondsSince1970: Int64(Date().timeIntervalSince1970))
        let result = try signer.signHeaders(SigningRequest(method: method, path: pathPart, query: queryPart, headers: headers, body: body), at: time)
        return (headers + result.addedHeaders).map { HTTPHeader($0.name, $0.value) }
    }

    /// The API's answer: status, headers and body (outside text, made safe), then why; or the
    /// `--output json` object. A non-2xx answer exits 1.
    func answer(method: String, url: String, response: HTTPResponse, explanation why: String?) throws {
        if output == .json {
            let headers = Dictionary(response.headers.map { ($0.name.lowercased(), JSON.string($0.value)) }, uniquingKeysWith: { a, _ in a })
            let json: JSON = ["command": "request", "method": .string(method), "url": .string(url),
                              "status": .number(Double(response.status)), "headers": .object(headers),
                              "body": .string(response.bodyText), "explanation": why.map { .string($0) } ?? .null]
            Console.out(json.serialized(pretty: true))
        } else {
            print("HTTP \(response.status)")
            for h in response.headers { print(Console.safe("\(h.name): \(h.value)")) }
            print("")
            print(Console.safeLines(response.bodyText))
            if let why { Console.info(Console.safe(why)) }
        }
        if !(200..<300).contains(response.status) { throw ExitCode(1) }
    }

    static func endpointOf(_ url: String) -> Endpoint? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" })
        return Endpoint(parsing: String(url[..<schemeEnd.upperBound]) + authority)
    }

    /// Path and query of an absolute URL.
    static func split(_ url: String) -> (String, String?) {
        guard let schemeEnd = url.range(of: "://") else { return ("/", nil) }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return ("/", nil) }
        let target = rest[slash...]
        if let q = target.firstIndex(of: "?") {
            let p = String(target[..<q])
            return (p.isEmpty ? "/" : p, String(target[target.index(after: q)...]))
        }
        return (String(target), nil)
    }

    /// What a 401 or 403 from API Gateway's authorizer means: a JWT authorizer's from its
    /// WWW-Authenticate; a Lambda authorizer answers 401 only when the identity source (the
    /// Authorization header) is missing, and 403 for every token it refuses.
    static func explain(status: Int, wwwAuthenticate: String?, lambdaAuthorizer: Bool = false) -> String? {
        let params = parseChallenge(wwwAuthenticate ?? "")
        if lambdaAuthorizer {
            switch status {
            case 401: return "401 Unauthorized: no Authorization header (the Lambda authorizer's identity source), so the authorizer was not called"
            case 403: return "403 Forbidden: the Lambda authorizer refused the token (invalid, expired, or without the route's scope)"
            default: return nil
            }
        }
        switch status {
        case 401:
            var s = "401 Unauthorized: the JWT authorizer found no valid token"
            if let d = params["error_description"] { s += " (\(d))" } else { s += " (missing, expired, wrong issuer or audience, or bad signature)" }
            return s
        case 403:
            if params["error"] == "insufficient_scope" {
                let need = params["scope"] ?? "?"
                return "403 Forbidden: insufficient_scope: the route needs one of [\(need)] and the token carries none of them"
            }
            return "403 Forbidden" + (params["error_description"].map { ": \($0)" } ?? "")
        default:
            return nil
        }
    }

    /// `Bearer scope="a b" error="insufficient_scope" error_description="..."` → parameters.
    static func parseChallenge(_ header: String) -> [String: String] {
        var out: [String: String] = [:]
        var rest = Substring(header)
        if rest.lowercased().hasPrefix("bearer") { rest = rest.dropFirst(6) }
        while let eq = rest.firstIndex(of: "=") {
            let key = rest[..<eq].trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
            var value = ""
            var i = rest.index(after: eq)
            if i < rest.endIndex, rest[i] == "\"" {
                i = rest.index(after: i)
                while i < rest.endIndex, rest[i] != "\"" {
                    if rest[i] == "\\", rest.index(after: i) < rest.endIndex { i = rest.index(after: i) }
                    value.append(rest[i])
                    i = rest.index(after: i)
                }
                if i < rest.endIndex { i = rest.index(after: i) }
            } else {
                while i < rest.endIndex, rest[i] != "," { value.append(rest[i]); i = rest.index(after: i) }
            }
            out[key] = value.trimmingCharacters(in: .whitespaces)
            rest = rest[i...]
        }
        return out
    }
}
