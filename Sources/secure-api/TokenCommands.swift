import AWSClient
import ArgumentParser
import Foundation
import OAuth
import Services
import Stack

/// How a command gets a token for the stack.
struct TokenSourceOptions: ParsableArguments {
    @Flag(name: .customLong("password"), help: "Password flow for the test user (InitiateAuth; works on the emulator). Password from PASSWORD or --password-stdin.")
    var passwordFlow = false
    @Flag(help: "Client credentials flow with the machine client (its secret is read with DescribeUserPoolClient, never stored).")
    var clientCredentials = false
    @Flag(help: "Read the password from stdin.") var passwordStdin = false
    @Option(name: .customLong("scope"), help: "Scope to ask for (repeatable; client credentials). Default: all of the stack's scopes.")
    var scopes: [String] = []
    @Option(help: "Token endpoint (default: the stack's Cognito domain).") var tokenURL: String?
    @Option(help: "Client id at any OIDC provider (with --client-credentials and --token-url; secret from CLIENT_SECRET or --client-secret-stdin).")
    var clientId: String?
    @Flag(help: "Read the client secret from stdin (never pass a secret as a flag value).") var clientSecretStdin = false
    @Flag(help: "Neither read nor write the token cache.") var noCache = false
}

/// Loads the state for commands that only read it.
func loadStack(_ options: StateOptions, _ session: SessionOptions) async throws -> StackState {
    let store = try options.open(session)
    guard let state = try await store.load() else {
        throw CLIError("no \(store.path): create the stack first (secure-api create)")
    }
    return state
}

/// Gets tokens by the flow the user named, reusing and refreshing cached ones.
struct TokenFetcher {
    let state: StackState
    let aws: AWSOptions
    let options: TokenSourceOptions
    let cache = TokenCache()

    var flow: String? {
        if options.passwordFlow { return "password" }
        if options.clientCredentials { return "client_credentials" }
        return nil
    }

    func cacheKey(_ flow: String, clientId: String) -> String {
        "\(state.stackId):\(flow):\(clientId):\(options.scopes.sorted().joined(separator: " "))"
    }

    func client() throws -> AWSClient {
        var session = aws.session
        session.region = state.target.region
        return AWSClient(config: try session.resolve(log: { Console.verbose($0) }))
    }

    func tokenURL() throws -> String {
        if let u = options.tokenURL { return u }
        guard let u = state.outputs["token_url"] else { throw CLIError("the stack has no Cognito domain yet: no token URL") }
        return u
    }

    func fetch() async throws -> TokenCache.Entry {
        guard let flow else { throw CLIError("choose a flow: --password (test user) or --client-credentials (machine client)") }
        let clientId: String
        switch flow {
        case "password": clientId = try output("terminal_app_client_id")
        default: clientId = try output("machine_client_id")
        }
        let key = cacheKey(flow, clientId: clientId)
        // The credential comes first: a cached token is only for whoever could get it again.
        let credential = flow == "password" ? try readPassword() : try await machineSecret(clientId: clientId)
        if !options.noCache, let cached = cache.load(key, credential: credential) {
            if cached.isFresh() { return cached }
            if let refresh = cached.refreshToken, flow == "password",
               let renewed = try? await refreshPassword(clientId: clientId, refreshToken: refresh) {
                try? cache.store(key, renewed, credential: credential)
                return renewed
            }
        }
        let entry = flow == "password" ? try await password(clientId: clientId, password: credential)
            : try await machine(clientId: clientId, secret: credential)
        if !options.noCache { try cache.store(key, entry, credential: credential) }
        return entry
    }

    func output(_ key: String) throws -> String {
        guard let v = state.outputs[key] else { throw CLIError("state.json has no \(key): is the stack complete? (secure-api status)") }
        return v
    }

    func readPassword() throws -> String {
        guard let password = SecretInput.password(fromStdin: options.passwordStdin) else {
            throw CLIError("PASSWORD is not set (export PASSWORD=... or use --password-stdin)")
        }
        return password
    }

    func password(clientId: String, password: String) async throws -> TokenCache.Entry {
        let result = try await CognitoIdentityProvider(client: try client())
            .initiateAuth(clientId: clientId, username: try output("test_username"), password: password)
        return entry(result, refresh: nil)
    }

    func refreshPassword(clientId: String, refreshToken: String) async throws -> TokenCache.Entry {
        let result = try await CognitoIdentityProvider(client: try client()).refreshAuth(clientId: clientId, refreshToken: refreshToken)
        return entry(result, refresh: refreshToken)
    }

    func entry(_ r: CognitoIdentityProvider.AuthenticationResult, refresh: String?) -> TokenCache.Entry {
        TokenCache.Entry(accessToken: r.accessToken, idToken: r.idToken, refreshToken: r.refreshToken ?? refresh,
                         expiresAt: Date().addingTimeInterval(Double(r.expiresIn ?? 3600)), scope: nil)
    }

    /// The machine client's secret, read from Cognito with the caller's AWS credentials.
    func machineSecret(clientId: String) async throws -> String {
        guard let secret = try await CognitoIdentityProvider(client: try client())
            .clientSecret(userPoolId: try output("user_pool_id"), clientId: clientId) else { throw CLIError("the machine client has no secret") }
        return secret
    }

    func machine(clientId: String, secret: String) async throws -> TokenCache.Entry {
        let url = try tokenURL()
        let scopes = options.scopes.isEmpty ? state.config.qualifiedScopes : options.scopes
        let t = try await TokenClient().clientCredentials(tokenURL: url, clientId: clientId, clientSecret: secret, scopes: scopes)
        return TokenCache.Entry(accessToken: t.accessToken, idToken: t.idToken, refreshToken: t.refreshToken,
                                expiresAt: Date().addingTimeInterval(Double(t.expiresIn ?? 3600)), scope: t.scope)
    }
}

/// Whole seconds until a date from a token, or nil for absurd values (they come from outside).
func secondsFromNow(_ date: Date) -> Int? {
    let s = date.timeIntervalSinceNow
    guard s.isFinite, abs(s) < 1e12 else { return nil }
    return Int(s)
}

/// Header and claims of a JWT as pretty JSON, for people.
func decodedForDisplay(_ token: String) -> String {
    guard let jwt = try? DecodedJWT(token) else { return "  (not a JWT)" }
    let header = JSON.object(jwt.header.fields).serialized(pretty: true)
    var claims = JSON.object(jwt.claims.fields).serialized(pretty: true)
    if let exp = jwt.claims.expiresAt, let seconds = secondsFromNow(exp) {
        claims += "\n  expires \(ISO8601DateFormatter().string(from: exp)) (in \(seconds) s)"
    }
    return "header: \(header)\nclaims: \(claims)"
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Get tokens for the stack (password or client credentials flow); print them raw and decoded.",
        discussion: "Tokens are cached for reuse only in a 0600 file under the user's cache directory (never in state.json); an expired access token is renewed with the refresh token.")

    @OptionGroup var source: TokenSourceOptions
    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Flag(name: .shortAndLong, help: "Print only the access token (for scripts).") var quiet = false
    @Option(help: "text or json (the tokens, their expiry and the access token's claims).") var output: OutputFormat = .text

    func validate() throws {
        if quiet && output == .json { throw ValidationError("--quiet and --output json exclude each other") }
    }

    func run() async throws {
        let entry: TokenCache.Entry
        if let clientId = source.clientId {
            entry = try await genericClientCredentials(clientId: clientId)
        } else {
            let state = try await loadStack(stateOptions, aws.session)
            entry = try await TokenFetcher(state: state, aws: aws, options: source).fetch()
        }
        if quiet {
            print(Console.safe(entry.accessToken))
            return
        }
        if output == .json {
            let claims = (try? DecodedJWT(entry.accessToken)).map { JSON.object($0.claims.fields) } ?? .null
            let json: JSON = ["command": "token", "token_type": "Bearer", "access_token": .string(entry.accessToken),
                              "id_token": entry.idToken.map { .string($0) } ?? .null,
                              "expires_at": .string(ISO8601DateFormatter().string(from: entry.expiresAt)),
                              "scope": entry.scope.map { .string($0) } ?? .null,
                              "refresh_token_cached": .bool(entry.refreshToken != nil), "access_token_claims": claims]
            Console.out(json.serialized(pretty: true))
            return
        }
        print("access_token: \(Console.safe(entry.accessToken))\n\(decodedForDisplay(entry.accessToken))")
        if let id = entry.idToken { print("\nid_token: \(Console.safe(id))\n\(decodedForDisplay(id))") }
        if entry.refreshToken != nil { print("\nrefresh_token: (kept in the token cache, not shown)") }
    }
}

extension TokenCommand {
    /// Client credentials at any OIDC provider (Keycloak, ...): no stack needed.
    func genericClientCredentials(clientId: String) async throws -> TokenCache.Entry {
        guard source.clientCredentials, let url = source.tokenURL else {
            throw CLIError("--client-id is for --client-credentials with --token-url (any OIDC provider)")
        }
        let secret: String
        if source.clientSecretStdin {
            secret = SecretInput.stdin()
        } else if let s = ProcessInfo.processInfo.environment["CLIENT_SECRET"], !s.isEmpty {
            secret = s
        } else {
            throw CLIError("no client secret: set CLIENT_SECRET or pipe it to --client-secret-stdin")
        }
        let t = try await TokenClient().clientCredentials(tokenURL: url, clientId: clientId, clientSecret: secret, scopes: source.scopes)
        return TokenCache.Entry(accessToken: t.accessToken, idToken: t.idToken, refreshToken: t.refreshToken,
                                expiresAt: Date().addingTimeInterval(Double(t.expiresIn ?? 300)), scope: t.scope)
    }
}

struct JWTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jwt", abstract: "Work with JWTs.", subcommands: [JWTVerifyCommand.self])
}

struct JWTVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a JWT as API Gateway's JWT authorizer would: RS256 signature (JWKS by kid), iss, exp/nbf/iat, token_use, client_id/aud, scopes.",
        discussion: "Defaults come from state.json (issuer, JWKS URL, client ids). Exit 0 when valid; otherwise one line naming the failed check.")

    @Argument(help: "The token ('-' reads it from stdin).") var token: String
    @Option(help: "Expected issuer (default: the stack's user pool).") var issuer: String?
    @Option(help: "JWKS URL (default: the stack's; without a stack: the issuer's OIDC discovery document).") var jwksURL: String?
    enum Use: String, ExpressibleByArgument { case access, id, any }
    @Option(name: .customLong("token-use"), help: "Required token_use: access, id or any (default: access; any for an oidc stack).") var tokenUseOption: Use?
    var tokenUse: Use { tokenUseOption ?? .access }
    var tokenUseDefaulted: Bool { tokenUseOption == nil }
    @Option(name: .customLong("client-id"), help: "Accepted client id / audience (repeatable; default: the stack's app clients).") var clientIds: [String] = []
    @Option(name: .customLong("scope"), help: "Required scope (repeatable; any one suffices, as API Gateway).") var scopes: [String] = []
    @Flag(help: "Require every --scope (AND) instead of any one (OR).") var allScopes = false
    @Option(help: "Clock skew allowed for exp/nbf/iat, seconds (0-3600).") var leeway: Double = 60
    @OptionGroup var stateOptions: StateOptions

    func validate() throws {
        // nan or inf would let a token expired years ago pass.
        guard leeway.isFinite, (0...3600).contains(leeway) else { throw ValidationError("--leeway must be 0-3600 seconds") }
    }

    func run() async throws {
        let raw = token == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : token
        let jwt = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // The state is read for what the flags leave out; an error reading it (a malformed file,
        // an S3 failure) is not "no stack" then. Only with --issuer and --client-id given does
        // it add nothing a check needs (else a broken state would drop the client check).
        let store = try stateOptions.open(SessionOptions())
        let state = issuer != nil && !clientIds.isEmpty ? try? await store.load() : try await store.load()
        guard let issuer = issuer ?? state?.outputs["user_pool_jwt_issuer_url"] ?? state?.config.oidcIssuer else {
            throw CLIError("no issuer: pass --issuer (or run in a directory with the stack's state.json)")
        }
        let location: JWKSLocation
        if let u = jwksURL ?? (issuer == state?.outputs["user_pool_jwt_issuer_url"] ? state?.outputs["user_pool_jwks_url"] : nil) {
            location = .url(u)
        } else {
            location = .discover(issuer: issuer)
        }
        let clients = clientIds.isEmpty
            ? [state?.outputs["terminal_app_client_id"], state?.outputs["machine_client_id"], state?.config.oidcAudience].compactMap { $0 }
            : clientIds
        // Without one, any client's token of the issuer would read "valid".
        guard !clients.isEmpty else {
            throw CLIError("no client id to check the token against: pass --client-id (or run where the stack's state is)")
        }
        // Other OIDC providers (Keycloak) put no token_use in their tokens: check aud only.
        let use: JWTPolicy.TokenUse? = tokenUse == .any || (tokenUseDefaulted && state?.config.auth == .oidc) ? nil : (tokenUse == .id ? .id : .access)
        let policy = JWTPolicy(issuer: issuer, tokenUse: use,
                               clientIDs: clients, requiredScopes: scopes, scopeMatch: allScopes ? .all : .any, leeway: leeway)
        do {
            let claims = try await JWTVerifier(keys: RemoteJWKS(location: location), policy: policy).verify(jwt)
            var facts = ["token_use=\(claims.tokenUse ?? "-")"]
            if let c = claims.clientID { facts.append("client_id=\(c)") }
            if !claims.audience.isEmpty { facts.append("aud=\(claims.audience.joined(separator: ","))") }
            if let u = claims.username { facts.append("username=\(u)") }
            if !claims.scopes.isEmpty { facts.append("scope=\"\(claims.scopes.joined(separator: " "))\"") }
            if let exp = claims.expiresAt, let seconds = secondsFromNow(exp) { facts.append("expires in \(seconds) s") }
            print("valid: " + Console.safe(facts.joined(separator: " ")))
        } catch let e as JWTError {
            throw CLIError("invalid token: \(e)")
        }
    }
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in through the hosted UI: OAuth2 authorization code with PKCE (S256) for the public client.",
        discussion: """
            A local server on the callback URL's port receives the code (checking state); the code is exchanged at the stack's \
            /oauth2/token. Opens the browser, or prints the URL. On the emulator the hosted UI is the emulator's \
            (cognito_domain_url in state.json). \
            --username with --password-stdin is a test convenience for scripts: it fills the hosted UI's sign-in form \
            itself (as a browser would, CSRF cookie included) instead of opening a browser. Sign in interactively otherwise.
            """)

    @OptionGroup var aws: AWSOptions
    @OptionGroup var stateOptions: StateOptions
    @Flag(help: "Do not try to open a browser; print the URL.") var noBrowser = false
    @Option(help: "Seconds to wait for the browser to come back (1-86400).") var timeout: Double = 180
    @Option(help: "Authorization endpoint (default: the stack's hosted UI).") var authorizeURL: String?
    @Option(help: "Token endpoint (default: the stack's hosted UI).") var tokenURL: String?
    @Option(help: "Public client id (default: the stack's terminal client).") var clientId: String?
    @Option(help: "Redirect URI (default: the stack's callback URL).") var redirectURI: String?
    @Flag(name: .shortAndLong, help: "Print only the access token.") var quiet = false
    @Option(help: "Test convenience: sign in as this user by filling the hosted UI's form (password from --password-stdin); no browser.")
    var username: String?
    @Flag(help: "Read the password for --username from stdin.") var passwordStdin = false

    func validate() throws {
        if (username == nil) != !passwordStdin { throw ValidationError("--username and --password-stdin go together") }
        guard timeout.isFinite, (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be 1-86400 seconds") }
    }

    func run() async throws {
        // An error reading the state (a malformed file, an S3 failure) is not "no stack", unless
        // the flags give everything the state would.
        let store = try stateOptions.open(aws.session)
        let flagsSuffice = authorizeURL != nil && tokenURL != nil && clientId != nil && redirectURI != nil
        let state = flagsSuffice ? try? await store.load() : try await store.load()
        let outputs = state?.outputs ?? [:]
        guard let authorize = authorizeURL ?? outputs["cognito_domain_url"].map({ $0 + "/oauth2/authorize" }),
              let token = tokenURL ?? outputs["token_url"],
              let client = clientId ?? outputs["terminal_app_client_id"],
              let redirect = redirectURI ?? state?.config.callbackURL else {
            throw CLIError("no stack to log in to: create it first, or pass --authorize-url, --token-url, --client-id and --redirect-uri")
        }
        let scopes = state?.config.appClientScopes ?? ["openid"]
        let request = AuthorizationRequest(authorizeURL: authorize, clientId: client, redirectURI: redirect, scopes: scopes)
        let callback: AuthorizationCallback
        if let username {
            let password = SecretInput.stdin()
            Console.info("Signing in as \(Console.safe(username)) through the hosted UI's form at \(Console.safe(authorize))")
            callback = try await HostedUIForm().signIn(request, username: username, password: password)
        } else {
            let server = try CallbackServer(redirectURI: redirect)
            Console.info("Open this URL to sign in (waiting up to \(Int(timeout)) s for \(redirect)):\n\(request.url)")
            if !noBrowser { openBrowser(request.url) }
            callback = try await server.waitForCallback(expectedState: request.state, timeout: timeout)
        }
        let tokens = try await TokenClient().exchangeCode(tokenURL: token, clientId: client, code: callback.code,
                                                          redirectURI: redirect, codeVerifier: request.codeVerifier)
        if let state {
            let entry = TokenCache.Entry(accessToken: tokens.accessToken, idToken: tokens.idToken, refreshToken: tokens.refreshToken,
                                         expiresAt: Date().addingTimeInterval(Double(tokens.expiresIn ?? 3600)), scope: tokens.scope)
            try? TokenCache().store("\(state.stackId):login:\(client):", entry, credential: nil)
        }
        if quiet { print(Console.safe(tokens.accessToken)); return }
        print("access_token: \(Console.safe(tokens.accessToken))\n\(decodedForDisplay(tokens.accessToken))")
        if let id = tokens.idToken { print("\nid_token: \(Console.safe(id))\n\(decodedForDisplay(id))") }
    }

    func openBrowser(_ url: String) {
        for opener in ["/usr/bin/xdg-open", "/usr/bin/open"] where FileManager.default.isExecutableFile(atPath: opener) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: opener)
            p.arguments = [url]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil { return }
        }
        Console.info("(no browser opener found: open the URL yourself)")
    }
}
