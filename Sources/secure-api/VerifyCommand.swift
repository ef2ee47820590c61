import AWSClient
import ArgumentParser
import Crypto
import Foundation
import OAuth
import Services
import SigV4
import Stack
import Transport

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove the stack's authorization: every route x every kind of caller -> the status API Gateway must answer.",
        discussion: """
            Calls each route of api_url (state.json) with no token, garbage, forged tokens (expired, another key, wrong \
            issuer: signed with a key verify makes for the run), the test user's ID and password-flow tokens, machine \
            tokens with the read scope, the write scope and both, and a login token; for --auth iam: signed, unsigned, \
            wrong secret, wrong region. Prints each expectation with its reason, then ✓ or ✗; a case that cannot be \
            produced on the target is shown as skipped with the reason. Exits 1 on any mismatch. \
            Secrets it needs: the test user's password (PASSWORD or --password-stdin) and the machine client's secret \
            (read with DescribeUserPoolClient); the login token comes from the emulator's hosted UI form, or on AWS from \
            the token cache of 'secure-api login'. For --auth oidc, --token gives a token of the external issuer.
            """)

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Option(help: "oidc: a valid access token of the external issuer for the stack's audience (the 'issuer token' case).")
    var token: String?
    @Flag(help: "Read the test user's password from stdin (else PASSWORD).") var passwordStdin = false
    @Option(help: "text or json (every case with expected and actual status, result and reason).") var output: OutputFormat = .text

    /// What a case sends, or why it cannot be sent.
    enum Input {
        case bearer(String?)
        case iam(SigningCredentials, region: String)
        case unsigned
        case skipped(String)
        case failed(String)
    }

    struct Row {
        var route: String
        var probe: AuthorizationMatrix.Probe
        var expected: AuthorizationMatrix.Expectation
        var status: Int?
        var result: String
        var note: String?
    }

    func run() async throws {
        let state = try await loadStack(stateOptions, aws.session)
        guard let apiURL = state.outputs["api_url"] else {
            throw CLIError("state.json has no api_url: is the stack complete? (secure-api status)")
        }
        Console.info("Verifying \(state.config.auth.rawValue) authorization of \(Console.safe(apiURL))")
        let inputs = try await CallerInputs(state: state, aws: aws, issuerToken: token, passwordStdin: passwordStdin).make()
        var rows: [Row] = []
        for route in AuthorizationMatrix.routes(state.config) {
            let parts = route.key.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError("route key '\(route.key)' is not 'METHOD /path'") }
            let url = apiURL + parts[1]
            for probe in AuthorizationMatrix.probes(state.config.auth) {
                let expected = AuthorizationMatrix.expectation(probe, route: route, config: state.config)
                var row = Row(route: route.key, probe: probe, expected: expected, status: nil, result: "skipped", note: nil)
                switch inputs[probe] ?? .skipped("not produced") {
                case .skipped(let why): row.note = why
                case .failed(let why): row.result = "fail"; row.note = why
                case let input:
                    let status = try await send(input, method: parts[0], url: url)
                    row.status = status
                    row.result = status == expected.status ? "pass" : "fail"
                }
                rows.append(row)
            }
        }
        report(rows, state: state, url: apiURL)
        if rows.contains(where: { $0.result == "fail" }) { throw ExitCode(1) }
    }

    func send(_ input: Input, method: String, url: String) async throws -> Int {
        var headers = [HTTPHeader("Accept", "*/*")]
        switch input {
        case .bearer(let token): if let token { headers.append(HTTPHeader("Authorization", "Bearer \(token)")) }
        case .iam(let credentials, let region):
            headers = try RequestCommand.signedHeaders(method: method, url: url, body: [], json: false, credentials: credentials, region: region)
        case .unsigned, .skipped, .failed: break
        }
        do {
            return try await CurlTransport.shared.send(HTTPRequest(method: method, url: url, headers: headers), timeouts: HTTPTimeouts()).status
        } catch {
            throw CLIError("calling \(method) \(url): \(error)")
        }
    }

    func report(_ rows: [Row], state: StackState, url: String) {
        let failed = rows.filter { $0.result == "fail" }.count, skipped = rows.filter { $0.result == "skipped" }.count
        let passed = rows.count - failed - skipped
        if output == .json {
            let cases: [JSON] = rows.map { r in
                ["route": .string(r.route), "case": .string(r.probe.rawValue), "expected": .number(Double(r.expected.status)),
                 "status": r.status.map { .number(Double($0)) } ?? .null, "result": .string(r.result),
                 "reason": .string(r.expected.reason), "note": r.note.map { .string($0) } ?? .null]
            }
            let json: JSON = ["command": "verify", "auth": .string(state.config.auth.rawValue), "api_url": .string(url),
                              "passed": .number(Double(passed)), "failed": .number(Double(failed)), "skipped": .number(Double(skipped)),
                              "cases": .array(cases)]
            Console.out(json.serialized(pretty: true))
            return
        }
        let routeWidth = rows.map(\.route.count).max() ?? 5, caseWidth = rows.map(\.probe.rawValue.count).max() ?? 4
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        print("   \(pad("route", routeWidth))  \(pad("case", caseWidth))  want  got   reason")
        for r in rows {
            let mark = r.result == "pass" ? Console.green("✓") : r.result == "fail" ? Console.red("✗") : Console.yellow("-")
            let got = r.status.map(String.init) ?? (r.result == "skipped" ? "skip" : "-")
            var reason = r.expected.reason
            if let note = r.note { reason = r.result == "skipped" ? "skipped: \(note)" : "\(reason); \(note)" }
            print(" \(mark) \(pad(r.route, routeWidth))  \(pad(r.probe.rawValue, caseWidth))  \(r.expected.status)   \(pad(got, 4))  \(Console.safe(reason))")
        }
        print("\(passed) passed, \(failed) failed, \(skipped) skipped")
    }
}

/// Produces what each case sends: tokens from the stack's own flows, forged tokens, or SigV4
/// credentials. Secrets are used, never printed.
struct CallerInputs {
    typealias Input = VerifyCommand.Input
    let state: StackState
    let aws: AWSOptions
    let issuerToken: String?
    let passwordStdin: Bool

    func make() async throws -> [AuthorizationMatrix.Probe: Input] {
        switch state.config.auth {
        case .iam: return try iam()
        case .oidc: return try await oidc()
        case .cognito, .lambda: return try await cognito()
        }
    }

    func iam() throws -> [AuthorizationMatrix.Probe: Input] {
        let (credentials, _) = try RequestCommand.callerCredentials(aws)
        var wrong = credentials
        wrong.secretAccessKey = credentials.secretAccessKey + "x"
        let otherRegion = state.target.region == "us-west-2" ? "eu-west-1" : "us-west-2"
        return [.signed: .iam(credentials, region: state.target.region), .unsigned: .unsigned,
                .wrongSecret: .iam(wrong, region: state.target.region), .wrongRegion: .iam(credentials, region: otherRegion)]
    }

    func oidc() async throws -> [AuthorizationMatrix.Probe: Input] {
        guard let issuer = state.config.oidcIssuer else { throw CLIError("state.json has no oidc issuer") }
        let kid = (try? await JWKSCache().keySet(at: .discover(issuer: issuer)).keys.first?.kid) ?? nil
        let now = Int(Date().timeIntervalSince1970)
        var claims: [String: JSON] = ["iss": .string(issuer), "sub": "secure-api-verify", "iat": .number(Double(now)),
                                      "exp": .number(Double(now + 300))]
        if let audience = state.config.oidcAudience { claims["aud"] = .string(audience) }
        var inputs = try forged(claims: claims, kid: kid ?? "secure-api-verify")
        inputs[.issuerToken] = issuerToken.map { .bearer($0) } ?? .skipped("needs a token of the external issuer: pass --token")
        for probe in [AuthorizationMatrix.Probe.idToken, .passwordFlow, .readScope, .writeScope, .machine, .login] {
            inputs[probe] = .skipped("the oidc pattern has no Cognito")
        }
        return inputs
    }

    /// no token, garbage and the three forged tokens, from claims a valid token would carry.
    func forged(claims: [String: JSON], kid: String) throws -> [AuthorizationMatrix.Probe: Input] {
        guard let key = RSAPrivateKey() else { throw CLIError("could not make an RSA key to forge tokens with (OpenSSL)") }
        let now = Double(Int(Date().timeIntervalSince1970))
        func sign(_ changes: [String: JSON]) -> Input {
            JWTSigner.sign(claims: claims.merging(changes) { _, new in new }, kid: kid, key: key).map { .bearer($0) }
                ?? .failed("could not sign a token (OpenSSL)")
        }
        return [.noToken: .bearer(nil), .garbage: .bearer("not-a-jwt"),
                .expired: sign(["iat": .number(now - 7200), "exp": .number(now - 3600)]),
                .anotherKey: sign([:]),
                .wrongIssuer: sign(["iss": "https://issuer.invalid/secure-api-verify"])]
    }

    func output(_ key: String) throws -> String {
        guard let v = state.outputs[key] else { throw CLIError("state.json has no \(key): is the stack complete? (secure-api status)") }
        return v
    }

    func cognito() async throws -> [AuthorizationMatrix.Probe: Input] {
        var session = aws.session
        session.region = state.target.region
        let idp = CognitoIdentityProvider(client: AWSClient(config: try session.resolve(log: { Console.verbose($0) })))
        let poolId = try output("user_pool_id"), appClient = try output("terminal_app_client_id"), machine = try output("machine_client_id")
        let issuer = try output("user_pool_jwt_issuer_url")
        let jwks = try output("user_pool_jwks_url")
        let kid = (try? await JWKSCache().keySet(at: .url(jwks)).keys.first?.kid) ?? nil
        let now = Int(Date().timeIntervalSince1970)
        var inputs = try forged(claims: [
            "iss": .string(issuer), "sub": .string(machine), "client_id": .string(machine), "token_use": "access",
            "scope": .string(state.config.qualifiedScopes.joined(separator: " ")), "iat": .number(Double(now)),
            "exp": .number(Double(now + 300)), "jti": .string(UUID().uuidString.lowercased())], kid: kid ?? "secure-api-verify")

        let password = readPassword()
        if let password {
            do {
                let r = try await idp.initiateAuth(clientId: appClient, username: try output("test_username"), password: password)
                inputs[.passwordFlow] = .bearer(r.accessToken)
                inputs[.idToken] = r.idToken.map { .bearer($0) } ?? .failed("InitiateAuth gave no IdToken")
            } catch {
                inputs[.passwordFlow] = .failed("password flow: \(describe(error))")
                inputs[.idToken] = .failed("password flow: \(describe(error))")
            }
        } else {
            inputs[.passwordFlow] = .skipped("no password: set PASSWORD or use --password-stdin")
            inputs[.idToken] = .skipped("no password: set PASSWORD or use --password-stdin")
        }

        let tokenURL = try output("token_url")
        do {
            guard let secret = try await idp.clientSecret(userPoolId: poolId, clientId: machine) else { throw CLIError("the machine client has no secret") }
            for probe in [AuthorizationMatrix.Probe.readScope, .writeScope, .machine] {
                let scopes = AuthorizationMatrix.tokenScopes(probe, config: state.config)
                do {
                    inputs[probe] = .bearer(try await TokenClient().clientCredentials(tokenURL: tokenURL, clientId: machine,
                                                                                      clientSecret: secret, scopes: scopes).accessToken)
                } catch {
                    inputs[probe] = .failed("client credentials: \(describe(error))")
                }
            }
        } catch {
            for probe in [AuthorizationMatrix.Probe.readScope, .writeScope, .machine] { inputs[probe] = .failed("machine secret: \(describe(error))") }
        }
        inputs[.login] = await login(appClient: appClient, password: password)
        return inputs
    }

    /// On the emulator: the hosted UI's form filled as a browser would. On AWS it needs a
    /// browser: the token `secure-api login` cached, if still fresh.
    func login(appClient: String, password: String?) async -> Input {
        if state.target.localBase(.cognitoIdentityProvider) != nil {
            guard let password else { return .skipped("no password: set PASSWORD or use --password-stdin") }
            do {
                let domain = try output("cognito_domain_url"), username = try output("test_username")
                let request = AuthorizationRequest(authorizeURL: domain + "/oauth2/authorize", clientId: appClient,
                                                   redirectURI: state.config.callbackURL, scopes: state.config.appClientScopes)
                let callback = try await HostedUIForm().signIn(request, username: username, password: password)
                let tokens = try await TokenClient().exchangeCode(tokenURL: try output("token_url"), clientId: appClient, code: callback.code,
                                                                  redirectURI: state.config.callbackURL, codeVerifier: request.codeVerifier)
                return .bearer(tokens.accessToken)
            } catch {
                return .failed("hosted UI login: \(describe(error))")
            }
        }
        if let cached = TokenCache().load("\(state.stackId):login:\(appClient):", credential: nil), cached.isFresh() {
            return .bearer(cached.accessToken)
        }
        return .skipped("needs a browser: run 'secure-api login' first (its cached token is used)")
    }

    func readPassword() -> String? { SecretInput.password(fromStdin: passwordStdin) }
}
