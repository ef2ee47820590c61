import AWSClient
import ArgumentParser
import Foundation
import OAuth
import Services
import Stack
import SigV4
import Transport

struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Call the stack's API with a token and explain the answer (200, 401 no/invalid token, 403 wrong scope).",
        discussion: """
            The token comes from --token, else the flow you name (--password, --client-credentials), else the token cache.
            On the local emulator, which has no API Gateway data plane, the answer is worked out locally from the
            route's and authorizer's real configuration (read from the emulator) and the token's verified claims,
            and is labelled as such.
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

    /// Reports an answer (real or simulated): as text via `text` (which prints what the text
    /// mode always printed), or as the `--output json` object; a non-2xx answer exits 1.
    func answer(method: String, url: String, status: Int, headers: [(String, String)] = [], body: String,
                explanation: String?, simulated: Bool, text: () -> Void) throws {
        if output == .json {
            let json: JSON = ["command": "request", "method": .string(method), "url": .string(url), "simulated": .bool(simulated),
                              "status": .number(Double(status)), "headers": .object(Dictionary(headers.map { ($0.0.lowercased(), JSON.string($0.1)) },
                                                                                                 uniquingKeysWith: { a, _ in a })),
                              "body": .string(body), "explanation": explanation.map { .string($0) } ?? .null]
            Console.out(json.serialized(pretty: true))
        } else {
            text()
        }
        if !(200..<300).contains(status) { throw ExitCode(1) }
    }

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
        if url == nil, state.target.endpoint != nil {
            guard state.config.auth == .cognito || state.config.auth == .oidc else {
                throw CLIError("the local emulator has no API Gateway data plane and cannot run a \(state.config.auth == .lambda ? "Lambda authorizer" : "IAM authorization") check; check the token with 'secure-api jwt verify', or give --url")
            }
            try await simulate(state: state, method: method, token: bearer)
            return
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
        let why = Self.explain(status: response.status, wwwAuthenticate: response.header("WWW-Authenticate"))
        try answer(method: method, url: base, response: response, explanation: why)
    }

    /// AWS_IAM routes: the call is signed with the caller's credentials for `execute-api`.
    func sendSigned(state: StackState, method: String) async throws {
        guard let target = url ?? state.outputs["api_url"].map({ $0 + path }) else {
            throw CLIError("state.json has no api_url: is the stack complete? (secure-api status)")
        }
        guard let endpoint = Self.endpointOf(target) else {
            throw CLIError("cannot sign for URL \(target)")
        }
        var session = aws.session
        session.region = state.target.region
        let shared = try SharedConfig(environment: session.environment, profileOverride: aws.profile)
        let credentials = try CredentialsChain.resolve(environment: session.environment, shared: shared, profileFlagGiven: aws.profile != nil)
        let (pathPart, queryPart) = Self.split(target)
        let body = Array((data ?? "").utf8)
        var headers = [HeaderField("Host", endpoint.hostHeader)]
        if data != nil { headers.append(HeaderField("Content-Type", "application/json")) }
        let signer = SigV4Signer(credentials: credentials.credentials, region: state.target.region, service: "execute-api")
        let time = SigningTime(secondsSince1970: Int64(Date().timeIntervalSince1970))
        let result = try signer.signHeaders(SigningRequest(method: method, path: pathPart, query: queryPart, headers: headers, body: body), at: time)
        let all = (headers + result.addedHeaders).map { HTTPHeader($0.name, $0.value) }
        if url == nil, state.target.endpoint != nil {
            Console.info("The local emulator has no API Gateway data plane: the SigV4-signed request would be:")
            print("\(method) \(target)")
            for h in all { print("\(h.name): \(Redaction.displayHeader(name: h.name, value: h.value))") }
            throw ExitCode(1)
        }
        Console.info("\(method) \(target) (SigV4, execute-api, \(credentials.source))")
        let response = try await CurlTransport.shared.send(HTTPRequest(method: method, url: target, headers: all, body: body),
                                                           timeouts: HTTPTimeouts())
        let why = response.status != 403 ? nil
            : "403 Forbidden: IAM denied the call: the caller needs execute-api:Invoke on \(state.outputs["invoke_arn_pattern"] ?? "arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH")"
        try answer(method: method, url: target, response: response, explanation: why)
    }

    /// A real answer from the API: status, headers and body (outside text, made safe), then why.
    func answer(method: String, url: String, response: HTTPResponse, explanation why: String?) throws {
        try answer(method: method, url: url, status: response.status, headers: response.headers.map { ($0.name, $0.value) },
                   body: response.bodyText, explanation: why, simulated: false) {
            print("HTTP \(response.status)")
            for h in response.headers { print(Console.safe("\(h.name): \(h.value)")) }
            print("")
            print(Console.safeLines(response.bodyText))
            if let why { Console.info(Console.safe(why)) }
        }
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

    /// What a 401 or 403 from API Gateway's JWT authorizer means, from WWW-Authenticate.
    static func explain(status: Int, wwwAuthenticate: String?) -> String? {
        let params = parseChallenge(wwwAuthenticate ?? "")
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

    /// The emulator cannot serve the API: evaluate the request as API Gateway's JWT authorizer
    /// would, from the route and authorizer configuration the emulator really holds.
    func simulate(state: StackState, method: String, token: String?) async throws {
        var session = aws.session
        session.region = state.target.region
        let client = AWSClient(config: try session.resolve(log: { Console.verbose($0) }))
        let apigw = APIGatewayV2(client: client)
        guard let apiId = state.outputs["api_id"] else { throw CLIError("state.json has no api_id") }
        let routeKey = "\(method) \(path)"
        let url = (state.outputs["api_url"] ?? "") + path
        guard let route = try await apigw.getRoutes(apiId: apiId).first(where: { $0["routeKey"]?.string == routeKey }) else {
            return try answer(method: method, url: url, status: 404, body: "{\"message\":\"Not Found\"}", explanation: "no route \(routeKey)",
                              simulated: true) {
                print("simulated API Gateway answer: HTTP 404 {\"message\":\"Not Found\"} (no route \(routeKey))")
            }
        }
        Console.info("The local emulator has no API Gateway data plane: evaluating \(routeKey) as the JWT authorizer would.")
        guard let token else {
            return try answer(method: method, url: url, status: 401, body: "{\"message\":\"Unauthorized\"}",
                              explanation: "401 Unauthorized: no Authorization header", simulated: true) {
                print("simulated API Gateway answer: HTTP 401 {\"message\":\"Unauthorized\"}")
                Console.info("401 Unauthorized: no Authorization header")
            }
        }
        guard let authorizerId = route["authorizerId"]?.string else {
            return try answer(method: method, url: url, status: 200, body: "", explanation: "route has no authorizer", simulated: true) {
                print("simulated API Gateway answer: HTTP 200 (route has no authorizer)")
            }
        }
        let authorizer = try await apigw.getAuthorizer(apiId: apiId, id: authorizerId)
        guard let issuer = authorizer["jwtConfiguration"]?["issuer"]?.string else { throw CLIError("authorizer has no issuer") }
        let audience = (authorizer["jwtConfiguration"]?["audience"]?.array ?? []).compactMap(\.string)
        let scopes = (route["authorizationScopes"]?.array ?? []).compactMap(\.string)
        let jwks = state.outputs["user_pool_jwks_url"].map { JWKSLocation.url($0) } ?? .discover(issuer: issuer)
        // API Gateway: signature, exp/nbf/iat, iss, then aud (ID token) or client_id (access token), then scopes (any one).
        let verifier = JWTVerifier(keys: RemoteJWKS(location: jwks),
                                   policy: JWTPolicy(issuer: issuer, tokenUse: nil, clientIDs: audience, requiredScopes: []))
        let claims: JWTClaims
        do { claims = try await verifier.verify(token) } catch let e as JWTError {
            return try answer(method: method, url: url, status: 401, body: "{\"message\":\"Unauthorized\"}",
                              explanation: "401 Unauthorized: \(Console.safe("\(e)"))", simulated: true) {
                print("simulated API Gateway answer: HTTP 401 {\"message\":\"Unauthorized\"}")
                Console.info("401 Unauthorized: \(Console.safe("\(e)"))")
            }
        }
        if !scopes.isEmpty && !claims.scopes.contains(where: scopes.contains) {
            let challenge = "Bearer scope=\"\(scopes.joined(separator: " "))\" error=\"insufficient_scope\" error_description=\"expected scopes: [\(scopes.joined(separator: " "))]\""
            let why = "403 Forbidden: insufficient_scope: the route needs one of [\(scopes.joined(separator: " "))]; the token has [\(Console.safe(claims.scopes.joined(separator: " ")))]"
                + (claims.scopes == ["aws.cognito.signin.user.admin"] ? " (password-flow tokens carry only this; the hosted-UI login or client credentials give API scopes)" : "")
            return try answer(method: method, url: url, status: 403, headers: [("www-authenticate", challenge)], body: "{\"message\":\"Forbidden\"}",
                              explanation: why, simulated: true) {
                print("simulated API Gateway answer: HTTP 403 {\"message\":\"Forbidden\"}")
                print("www-authenticate: \(challenge)")
                Console.info(why)
            }
        }
        try answer(method: method, url: url, status: 200, body: "",
                   explanation: "the authorizer lets it through to the Lambda, which would answer \"hello world\"; the emulator cannot invoke it",
                   simulated: true) {
            print("simulated API Gateway answer: HTTP 200 (the authorizer lets it through to the Lambda, which would answer \"hello world\"; the emulator cannot invoke it)")
        }
    }
}
